"""The executor contract: what carries a run's cells out, one after another, in worker processes
or on a cluster. The driver alone writes the results store; an executor only runs cells and hands
their records back.

An executor plugin returns an :class:`benchbench.ExecutorSpec` from ``benchbench_executors``; its
factory builds an :class:`Executor` from the loaded datasets and its parameters. The driver then

1. calls :meth:`Executor.check` with every job, before any cell runs: a request no worker can
   satisfy (more GPUs than any node has) raises :class:`benchbench.UsageError` there (exit 2);
2. iterates :meth:`Executor.map` and appends each cell's records as they come back, in the order
   cells finish, so a killed driver loses only the cells in flight and ``--resume`` re-runs those;
3. records :meth:`Executor.environment` in the run's ``environment.json``;
4. calls :meth:`Executor.close`, also when the run is interrupted.

A cell runs by :func:`benchbench.engine.cell.run_cell` (``run_cell(job, dataset)``), wherever the
executor puts it; it always returns records, the summary (``kind: "cell"``) last, and never raises
for a cell's own failure. What an executor adds is what only it knows: the ``node`` a cell ran on
(``job.node``, set before ``run_cell``) and, for a cell whose worker died or was cancelled, the
summary that ``benchbench.engine.cell.lost_cell`` builds, ``failed`` or ``timeout`` with the reason.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..engine.cell import CellJob


class Executor(ABC):
    """Base class of every executor; ``name`` is the spec's and goes into every record."""

    name: str = ""

    def check(self, jobs: list[CellJob]) -> None:
        """Raise :class:`benchbench.UsageError` for a job no worker can run; default: all can."""

    @abstractmethod
    def map(self, jobs: Iterable[CellJob]) -> Iterator[list[dict[str, Any]]]:
        """Run ``jobs``; yield each cell's records (summary last) as soon as the cell is done."""

    def environment(self) -> dict[str, Any]:
        """What the run's ``environment.json`` says about where cells ran (cells at once, threads,
        a cluster's version and nodes)."""
        return {}

    def close(self) -> None:
        """Release workers or the cluster connection; called once, also after an interrupt."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
