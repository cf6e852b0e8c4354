"""Executors run cells and hand their records back to the driver, which alone writes the store."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from ..api.dataset import Dataset
from .cell import CellJob, run_cell


class LocalExecutor:
    """Run cells one after another in the driver process, on datasets the driver loaded once."""

    def __init__(self, datasets: dict[str, Dataset]):
        self.datasets = datasets

    def map(self, jobs: Iterable[CellJob]) -> Iterator[list[dict[str, Any]]]:
        for job in jobs:
            yield run_cell(job, self.datasets[job.dataset_key])
