"""The ``ray`` executor: each cell a Ray core task (not Tune), on a local instance or an existing
cluster, its records sent back to the driver, which alone writes the store.

- Resources: a task asks for the cell's CPUs and GPUs (the model entry's ``resources``, else the
  executor's ``cpus`` / ``gpus``); Ray places it on a node that has them and sets the task's
  ``CUDA_VISIBLE_DEVICES``, so cells asking for a whole GPU never share one. A request no alive node
  can meet is a usage error before any cell runs. The cell runs with as many torch threads as CPUs.
- Flat memory: at most ``in_flight`` times the cells the cluster runs at once are submitted; the
  next is submitted as one comes back, so a suite of thousands of cells costs the driver its
  records only.
- Faults: a cell that raises is ``failed`` by ``run_cell`` as anywhere. A worker process that dies
  (killed, out of memory, its node gone) is re-run by Ray up to ``retries`` times, then recorded
  ``failed`` with Ray's reason and the node it last ran on. A cell still running ``grace`` seconds
  past its time limit (its own alarm did not stop it: stuck in native code) is cancelled and
  recorded ``timeout``. Time counts from when the task started on a worker, not from submission,
  which a small actor (:class:`StartLog`) tells the driver.
- Workers' output is not forwarded to the driver (``log_to_driver = False``): the driver's
  one line per cell is the progress, never interleaved with a worker's.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Any

from benchbench import Dataset, Executor, UsageError
from benchbench.engine.cell import CellJob, lost_cell, run_cell

INSTALL = "pip install 'benchbench[ray]'"
POLL_SECONDS = 1.0  # how often the driver looks for cells past their time limit


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise UsageError(f"executor 'ray' needs Ray, which is not installed: {INSTALL}") from None
    return ray


@dataclass(frozen=True)
class Request:
    """What one cell asks of a node."""

    cpus: float
    gpus: float

    def text(self) -> str:
        return f"{self.cpus:g} CPU" + (f" and {self.gpus:g} GPU" if self.gpus else "")


class StartLog:
    """A Ray actor the tasks tell when and where they start, so the driver times a cell from its
    start and names the node a lost cell last ran on."""

    def __init__(self) -> None:
        self.starts: dict[str, list[tuple[float, str]]] = {}

    def started(self, cell_id: str, node: str) -> None:
        self.starts.setdefault(cell_id, []).append((time.time(), node))

    def since(self) -> dict[str, list[tuple[float, str]]]:
        return self.starts


def run_task(job: CellJob, dataset: Dataset, threads: int, log: Any) -> list[dict[str, Any]]:
    """The body of every task: note the start, then run the cell where Ray placed it."""
    import ray
    import torch

    node = ray.get_runtime_context().get_node_id()
    log.started.remote(job.cell.cell_id, node)
    torch.set_num_threads(threads)
    started = time.time()
    records = run_cell(replace(job, node=node), dataset)
    records[-1].update(started_at=started, finished_at=time.time(),
                       cuda_visible_devices=os.environ.get("CUDA_VISIBLE_DEVICES"))
    return records


class RayExecutor(Executor):
    """Cells as Ray tasks; see the module docstring for resources, faults and time limits."""

    name = "ray"

    def __init__(self, datasets: dict[str, Dataset], address: str = "local", cpus: float = 1.0, gpus: float = 0.0,
                 retries: int = 2, in_flight: int = 4, grace: float = 60.0, local_cpus: int = 0, local_gpus: int = 0):
        problems = [f"{name} must be {rule}, got {value!r}" for name, value, rule, ok in (
            ("cpus", cpus, "positive", cpus > 0), ("gpus", gpus, ">= 0", gpus >= 0), ("retries", retries, ">= 0", retries >= 0),
            ("in_flight", in_flight, ">= 1", in_flight >= 1), ("grace", grace, ">= 0", grace >= 0),
            ("local_cpus", local_cpus, ">= 0", local_cpus >= 0), ("local_gpus", local_gpus, ">= 0", local_gpus >= 0)) if not ok]
        if problems:
            raise UsageError(f"executor 'ray': {'; '.join(problems)}")
        self.ray = import_ray()
        self.address, self.default = address, Request(float(cpus), float(gpus))
        self.retries, self.in_flight, self.grace = retries, in_flight, grace
        self._connect(address, local_cpus, local_gpus)
        self.datasets = {key: self.ray.put(data) for key, data in datasets.items()}
        self.log = self.ray.remote(num_cpus=0)(StartLog).options(scheduling_strategy=self._here()).remote()
        self.task = self.ray.remote(run_task)
        self.known_starts: dict[str, list[tuple[float, str]]] = {}

    def _here(self) -> Any:
        """Pinned to the driver's node: the run ends with that node anyway, and no other node's
        loss may take the start log with it."""
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        return NodeAffinitySchedulingStrategy(node_id=self.ray.get_runtime_context().get_node_id(), soft=False)

    def _connect(self, address: str, local_cpus: int, local_gpus: int) -> None:
        options: dict[str, Any] = {"log_to_driver": False, "include_dashboard": False, "configure_logging": False}
        if address == "local":
            options.update(num_cpus=local_cpus or os.cpu_count(), num_gpus=local_gpus or None)
        try:
            self.ray.init(address=address, **options)
        except (ConnectionError, ValueError, RuntimeError) as error:
            raise UsageError(f"executor 'ray': could not reach a Ray cluster at address {address!r}: {error}") from None

    # ---- before any cell --------------------------------------------------------------------

    def request(self, job: CellJob) -> Request:
        asked = job.cell.model.resources
        return Request(asked.get("cpus", self.default.cpus), asked.get("gpus", self.default.gpus))

    def nodes(self) -> list[dict[str, Any]]:
        return [n for n in self.ray.nodes() if n.get("Alive")]

    def check(self, jobs: list[CellJob]) -> None:
        """Every cell's request must fit one alive node: otherwise Ray would wait for ever."""
        sizes = [Request(n["Resources"].get("CPU", 0.0), n["Resources"].get("GPU", 0.0)) for n in self.nodes()]
        for job in jobs:
            need = self.request(job)
            if not any(need.cpus <= size.cpus and need.gpus <= size.gpus for size in sizes):
                largest = ", ".join(size.text() for size in sizes) or "none"
                raise UsageError(f"model {job.cell.model.name!r} asks {need.text()} per cell (resources or the executor's "
                                 f"cpus / gpus), more than any node of the Ray cluster has (nodes: {largest})")

    def slots(self) -> int:
        """Cells of the default request the cluster runs at once."""
        total = self.ray.cluster_resources().get("CPU", 1.0)
        return max(1, int(total // self.default.cpus))

    # ---- running ----------------------------------------------------------------------------

    def map(self, jobs: Iterable[CellJob]) -> Iterator[list[dict[str, Any]]]:
        waiting, pending = iter(jobs), {}
        cap = self.in_flight * self.slots()
        try:
            self._fill(waiting, pending, cap)
            while pending:
                ready, _ = self.ray.wait(list(pending), num_returns=1, timeout=POLL_SECONDS)
                for ref in ready:
                    yield self._collect(ref, pending.pop(ref))
                yield from self._cancel_overdue(pending)
                self._fill(waiting, pending, cap)
        finally:
            for ref in pending:  # interrupted: nothing left running on a shared cluster
                self.ray.cancel(ref, force=True)

    def _fill(self, waiting: Iterator[CellJob], pending: dict[Any, CellJob], cap: int) -> None:
        while len(pending) < cap and (job := next(waiting, None)) is not None:
            need = self.request(job)
            options = {"num_cpus": need.cpus, "num_gpus": need.gpus, "max_retries": self.retries, "retry_exceptions": False}
            ref = self.task.options(**options).remote(replace(job, progress=False), self.datasets[job.dataset_key],
                                                      max(1, int(need.cpus)), self.log)
            pending[ref] = job

    def _collect(self, ref: Any, job: CellJob) -> list[dict[str, Any]]:
        try:
            return self.ray.get(ref)
        except self.ray.exceptions.RayError as error:  # the worker or its node died, past every retry
            starts = self._starts().get(job.cell.cell_id, [])
            reason = f"{type(error).__name__}: {str(error).strip().splitlines()[0] if str(error).strip() else ''}"
            return lost_cell(job, "failed", f"the Ray worker running this cell was lost after {len(starts)} attempt(s): {reason}",
                             node=starts[-1][1] if starts else "", attempts=len(starts))

    def _cancel_overdue(self, pending: dict[Any, CellJob]) -> Iterator[list[dict[str, Any]]]:
        starts, now = self._starts(), time.time()
        for ref, job in list(pending.items()):
            runs = starts.get(job.cell.cell_id)
            if runs and now - runs[-1][0] > job.time_limit + self.grace:
                self.ray.cancel(ref, force=True)
                del pending[ref]
                yield lost_cell(job, "timeout", f"cancelled {now - runs[-1][0]:.0f} s after it started: still running "
                                f"{self.grace:g} s past its time limit of {job.time_limit:g} s",
                                node=runs[-1][1], attempts=len(runs))

    def _starts(self) -> dict[str, list[tuple[float, str]]]:
        """The start log, or what it said last when it cannot be reached this once."""
        try:
            self.known_starts = self.ray.get(self.log.since.remote(), timeout=30)
        except self.ray.exceptions.RayError:
            pass
        return self.known_starts

    # ---- afterwards -------------------------------------------------------------------------

    def environment(self) -> dict[str, Any]:
        nodes = [{"node": n["NodeID"], "address": n.get("NodeManagerAddress"), "cpus": n["Resources"].get("CPU", 0.0),
                  "gpus": n["Resources"].get("GPU", 0.0)} for n in self.nodes()]
        return {"executor": self.name, "ray_version": self.ray.__version__, "ray_address": self.address,
                "ray_nodes": nodes, "cells_at_once": self.slots(), "torch_threads": "the cell's CPUs",
                "cell_request": self.default.text(), "retries": self.retries}

    def close(self) -> None:
        if self.ray.is_initialized():
            self.ray.shutdown()
