"""Torch threads on a machine busy with other work: one quick-suite model trained through the host's
loop with 1 thread and with as many threads as cores, on an idle machine and beside one other
CPU-bound process (a single-threaded busy loop, as another user's job). Oversubscribed threads
wait for each other at every parallel region, so on a loaded machine the many-thread fit loses far
more than the share of the CPU the other job takes; the README's advice on ``--threads`` rests on
this table.

    python benchmarks/threads_under_load.py [--steps 300] [--repeats 3]

Model: RealNVP on digits as in the quick suite (8 coupling layers of 64 units, batches of 128);
median steps per second over ``--repeats`` fits of ``--steps`` steps.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import time

import torch

from benchbench.engine.suite import Budget
from benchbench.engine.training import FitPlan, fit
from benchbench.testing import plugin_registry


def busy(stop: multiprocessing.Event) -> None:
    """One core's worth of other work until told to stop."""
    x = 0.0
    while not stop.is_set():
        for i in range(100_000):
            x += i * 1e-9


def steps_per_second(threads: int, steps: int, repeats: int) -> float:
    from benchbench_plugins.datasets.digits import make_digits

    torch.set_num_threads(threads)
    data = make_digits(split_seed=0, val_fraction=0.1, test_fraction=0.2)
    spec = plugin_registry(installed=True).model("flow")
    rates = []
    for repeat in range(repeats):
        torch.manual_seed(repeat)
        model = spec.resolve()(data, variant="realnvp", **{**spec.defaults(), **spec.variants["realnvp"], "layers": 8, "hidden": 64})
        plan = FitPlan(Budget("steps", steps), 128, progress=False)
        report = fit(model, torch.as_tensor(data.train), None, plan, seed=repeat)
        rates.append(report.steps / report.seconds)
    return statistics.median(rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    rows = []
    for loaded in (False, True):
        stop = multiprocessing.Event()
        other = multiprocessing.Process(target=busy, args=(stop,)) if loaded else None
        if other:
            other.start()
            time.sleep(1)
        try:
            for threads in (1, cores):
                rows.append((loaded, threads, steps_per_second(threads, args.steps, args.repeats)))
        finally:
            if other:
                stop.set()
                other.join()
    print(f"RealNVP on digits, {args.steps} steps of 128, median of {args.repeats}, {cores} cores")
    print("| machine | torch threads | steps/s |")
    print("|---|---|---|")
    for loaded, threads, rate in rows:
        print(f"| {'one other busy process' if loaded else 'idle'} | {threads} | {rate:.1f} |")


if __name__ == "__main__":
    main()
