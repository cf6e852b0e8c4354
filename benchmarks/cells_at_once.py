"""Wall time of a run with its cells in turn (``--jobs 1``: one process, all of torch's threads)
against two at a time (``--jobs 2``: two worker processes, half the threads each), side by side.

Runs alternate, one warm-up pair first (dropped); we report each setting's median wall time over
the repeats and their ratio. Numbers of the cells are not compared here (tests do that).

    python benchmarks/cells_at_once.py [benchmarks/cells_at_once.toml] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import torch

from benchbench.engine.runner import run_suite


def wall(suite: str, jobs: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        run_suite(suite, results_root=tmp, progress=False, echo=lambda s: None, jobs=jobs)
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("suite", nargs="?", default="benchmarks/cells_at_once.toml")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    times: dict[int, list[float]] = {1: [], 2: []}
    for repeat in range(args.repeats + 1):
        for jobs in (1, 2):
            seconds = wall(args.suite, jobs)
            if repeat:
                times[jobs].append(seconds)
    one, two = (statistics.median(times[j]) for j in (1, 2))
    print(f"suite {args.suite}, torch threads {torch.get_num_threads()}, median of {args.repeats} after a warm-up pair")
    print(f"--jobs 1: {one:.1f} s   --jobs 2: {two:.1f} s   ratio jobs1/jobs2: {one / two:.2f}")
    print(f"all runs, jobs 1: {[round(t, 1) for t in times[1]]}; jobs 2: {[round(t, 1) for t in times[2]]}")


if __name__ == "__main__":
    main()
