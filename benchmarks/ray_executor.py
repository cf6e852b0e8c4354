"""The ray executor against the local one on this machine: a suite of equal CPU-bound cells run by
the local executor with one torch thread, then by a local Ray instance with two workers of one
thread each (one CPU a cell). The bar: the Ray run's cells take at most 0.6 of the local run's
time (0.5 is the ideal on two cores); Ray's start-up (``ray.init``, the datasets put in its object
store) is reported apart, as the run's ``executor`` seconds.

    python benchmarks/ray_executor.py [--cells 8] [--steps 1500]

Cells: the VAE on digits at its defaults, ``--steps`` steps of batches of 128, one seed each (a
model entry per cell, so every cell is the same work), the ELBO as its one metric.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import textwrap
from pathlib import Path

from benchbench.engine.runner import run_suite


def suite_file(folder: Path, cells: int, steps: int) -> Path:
    models = "".join(textwrap.dedent(f"""
        [[models]]
        family = "vae"
        name = "vae{i}"
        budget = {{ steps = {steps} }}
        """) for i in range(cells))
    path = folder / "equal_cells.toml"
    path.write_text(textwrap.dedent("""
        [suite]
        name = "equal_cells"
        seeds = [0]
        device = "cpu"
        samples = 500

        [[datasets]]
        name = "digits"
        """) + models + '\n[[metrics]]\nname = "elbo"\n', encoding="utf-8")
    return path


def timed(path: Path, results: Path, executor: str, options: dict) -> dict[str, float]:
    outcome = run_suite(path, results_root=results, run_id=executor, progress=False, echo=lambda s: None,
                        executor=executor, executor_options=options)
    assert not outcome.failures, outcome.failures
    return outcome.seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=8)
    parser.add_argument("--steps", type=int, default=1500)
    args = parser.parse_args()
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    with tempfile.TemporaryDirectory() as folder:
        path = suite_file(Path(folder), args.cells, args.steps)
        local = timed(path, Path(folder) / "results", "local", {"jobs": 1, "threads": 1})
        ray = timed(path, Path(folder) / "results", "ray", {"address": "local", "local_cpus": 2, "cpus": 1})
    ratio = ray["cells"] / local["cells"]
    print(f"{args.cells} cells of the VAE on digits, {args.steps} steps each, on {os.cpu_count()} cores")
    print(f"local executor, 1 cell at a time, 1 thread: cells {local['cells']:.1f} s")
    print(f"ray executor, 2 workers of 1 thread:        cells {ray['cells']:.1f} s; Ray start-up {ray['executor']:.1f} s")
    print(f"ratio ray / local (cells): {ratio:.3f} (bar 0.6, ideal 0.5)")


if __name__ == "__main__":
    main()
