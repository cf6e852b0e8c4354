"""The built-in ``local`` executor: cells one after another in the driver process, or ``jobs`` at
once in worker processes of this machine.

Both yield each cell's records as soon as the cell is done, so the driver appends them at once and
a killed run loses at most the cells in flight.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import platform
import signal
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import replace
from typing import Any

from ..api.dataset import Dataset
from ..api.executor import Executor
from ..errors import UsageError
from .cell import CellJob, run_cell

PR_SET_PDEATHSIG = 1  # linux/prctl.h: the signal a process gets when its parent dies


def local_executor(datasets: dict[str, Dataset], jobs: int = 1, threads: int = 0) -> Executor:
    """``jobs`` cells at once (1: in the driver process), each with ``threads`` torch threads
    (0: torch's own count, the machine's cores unless ``OMP_NUM_THREADS`` says otherwise, shared
    equally among the cells at once)."""
    import torch

    if jobs < 1:
        raise UsageError(f"executor 'local': jobs must be at least 1, got {jobs}")
    if threads < 0:
        raise UsageError(f"executor 'local': threads must be 0 (the cores shared equally) or more, got {threads}")
    threads = threads or max(1, torch.get_num_threads() // jobs)
    return LocalExecutor(datasets, threads) if jobs == 1 else ProcessExecutor(datasets, jobs, threads)


class LocalExecutor(Executor):
    """Run cells one after another in the driver process, on datasets the driver loaded once."""

    name = "local"

    def __init__(self, datasets: dict[str, Dataset], threads: int):
        self.datasets, self.threads = datasets, threads

    def map(self, jobs: Iterable[CellJob]) -> Iterator[list[dict[str, Any]]]:
        import torch

        previous = torch.get_num_threads()
        torch.set_num_threads(self.threads)
        try:
            for job in jobs:
                yield run_cell(replace(job, node=platform.node()), self.datasets[job.dataset_key])
        finally:
            torch.set_num_threads(previous)

    def environment(self) -> dict[str, Any]:
        return {"executor": self.name, "cells_at_once": 1, "torch_threads": self.threads}


class ProcessExecutor(Executor):
    """Run ``workers`` cells at once, each in a process of its own with ``threads`` torch threads.

    On a small CPU, two cells with one thread each finish sooner than two cells in turn with two
    threads each (1.4 times the throughput on 2 cores for the quick suite): the small networks of a
    CPU suite use a second thread poorly, and one thread per
    cell also makes a cell's arithmetic independent of how busy the machine is. Workers are
    started fresh (``spawn``: torch's thread pools do not survive ``fork``), receive the datasets
    the driver loaded once, and die with the driver (Linux), so a killed run leaves no worker
    writing a checkpoint that a resumed run is about to read.
    """

    name = "local"

    def __init__(self, datasets: dict[str, Dataset], workers: int, threads: int):
        self.datasets, self.workers, self.threads = datasets, workers, threads

    def environment(self) -> dict[str, Any]:
        return {"executor": self.name, "cells_at_once": self.workers, "torch_threads": self.threads}

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
    return run_cell(replace(job, node=platform.node()), _WORKER_DATASETS[job.dataset_key])
