"""Executors run cells and hand their records back to the driver, which alone writes the store.

Both yield each cell's records as soon as the cell is done, so the driver appends them at once and
a killed run loses at most the cells in flight.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import signal
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import replace
from typing import Any

from ..api.dataset import Dataset
from .cell import CellJob, run_cell

PR_SET_PDEATHSIG = 1  # linux/prctl.h: the signal a process gets when its parent dies


class LocalExecutor:
    """Run cells one after another in the driver process, on datasets the driver loaded once."""

    def __init__(self, datasets: dict[str, Dataset]):
        self.datasets = datasets

    def map(self, jobs: Iterable[CellJob]) -> Iterator[list[dict[str, Any]]]:
        for job in jobs:
            yield run_cell(job, self.datasets[job.dataset_key])


class ProcessExecutor:
    """Run ``workers`` cells at once, each in a process of its own with ``threads`` torch threads.

    On a small CPU, two cells with one thread each finish sooner than two cells in turn with two
    threads each (1.4 times the throughput on 2 cores for the quick suite): the small networks of a
    CPU suite use a second thread poorly, and one thread per
    cell also makes a cell's arithmetic independent of how busy the machine is. Workers are
    started fresh (``spawn``: torch's thread pools do not survive ``fork``), receive the datasets
    the driver loaded once, and die with the driver (Linux), so a killed run leaves no worker
    writing a checkpoint that a resumed run is about to read.
    """

    def __init__(self, datasets: dict[str, Dataset], workers: int, threads: int):
        self.datasets, self.workers, self.threads = datasets, workers, threads

    def map(self, jobs: Iterable[CellJob]) -> Iterator[list[dict[str, Any]]]:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(self.workers, mp_context=context, initializer=_start_worker,
                                 initargs=(self.datasets, self.threads)) as pool:
            pending: set[Future] = {pool.submit(_run_in_worker, replace(job, progress=False)) for job in jobs}
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    yield future.result()


_WORKER_DATASETS: dict[str, Dataset] = {}


def _start_worker(datasets: dict[str, Dataset], threads: int) -> None:
    import torch

    _WORKER_DATASETS.update(datasets)
    torch.set_num_threads(threads)
    try:
        ctypes.CDLL("libc.so.6").prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except OSError:  # not Linux: a worker outliving its driver finishes its cell and exits
        pass


def _run_in_worker(job: CellJob) -> list[dict[str, Any]]:
    return run_cell(job, _WORKER_DATASETS[job.dataset_key])
