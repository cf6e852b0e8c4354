"""Harness overhead of a run: the time spent in anything but fitting, sampling and metrics.

Runs a suite (default: the smoke suite) in this process and reads the timings every cell
records. Per cell, overhead = wall − fit − sample − metric compute (set-up of the cell: seeding,
model construction, moving data, saving samples). Around the cells, a run has one-off costs that
do not grow with budgets: the preflight (loading every dataset once and building every model once
to catch mistakes before training), writing records, and the leaderboards; they are reported
apart. Fit time itself includes the training loop; its cost against a bare PyTorch loop is
measured separately.

    python benchmarks/harness_overhead.py [suites/smoke.toml]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time

from benchbench.engine.runner import run_suite
from benchbench.results.store import read_records

COMPUTE = ("fit_seconds", "sample_seconds", "metric_seconds")


def main() -> None:
    suite = sys.argv[1] if len(sys.argv) > 1 else "suites/smoke.toml"
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        outcome = run_suite(suite, results_root=tmp, progress=False, echo=lambda s: None)
        total = time.perf_counter() - start
        cells = [r for r in read_records(outcome.run_dir)[0] if r["kind"] == "cell"]
    print(f"suite {suite}: {len(cells)} cells, run wall {total:.2f} s\n")
    print("| cell | wall s | fit s | sample s | metric s | overhead s | overhead % |\n|---|---|---|---|---|---|---|")
    shares = []
    for cell in cells:
        compute = sum(cell.get(k, 0.0) for k in COMPUTE)
        overhead = cell["wall_seconds"] - compute
        shares.append(overhead / cell["wall_seconds"])
        print(f"| {cell['cell_id']} | {cell['wall_seconds']:.3f} | {cell.get('fit_seconds', 0):.3f} | {cell.get('sample_seconds', 0):.3f} "
              f"| {cell.get('metric_seconds', 0):.3f} | {overhead:.3f} | {100 * shares[-1]:.2f} |")
    walls = sum(cell["wall_seconds"] for cell in cells)
    overhead = walls - sum(cell.get(k, 0.0) for cell in cells for k in COMPUTE)
    print(f"\nper-cell overhead: median {100 * statistics.median(shares):.2f}%, max {100 * max(shares):.2f}%; "
          f"all cells {overhead:.3f} s of {walls:.3f} s = {100 * overhead / walls:.2f}%")
    between = outcome.seconds["cells"] - walls
    print(f"one-off: preflight {outcome.seconds['preflight']:.2f} s, records and progress between cells {between:.3f} s, "
          f"leaderboards {outcome.seconds['leaderboard']:.2f} s (run wall {total:.2f} s)")


if __name__ == "__main__":
    main()
