"""Run folders the report tests share, made once per session (a few seconds in all).

``tiny_run``: a real run of a tiny suite (two toy 2-D datasets, one with a closed-form density and
one without, and ``digits``; the independent baseline and a small RealNVP; ``nll``, ``mmd`` and
``fid``), so the report reads what the host writes today (curves, density grids, declared
columns), plus one hand-written failed cell whose message holds markup. ``old_run``: the committed
``results/smoke/reference`` as a run made before curves and headline fields looks from a fresh
clone: its records without ``curve`` records or ``headline`` / ``column`` fields, its sample grids
and no sample tensors (they are not committed).
"""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path

import pytest

from benchbench.engine.runner import run_suite

ROOT = Path(__file__).resolve().parents[2]
HOSTILE = "RuntimeError: <script>alert('boom')</script> & <b>not bold</b>"

TINY_SUITE = """
[suite]
name = "tiny"
seeds = [0]
device = "cpu"
time_limit = 300
samples = 256
checkpoint_every = 1000

[[datasets]]
name = "8gaussians"
params = { n_train = 512, n_val = 128, n_test = 512 }

[[datasets]]
name = "moons"
params = { n_train = 512, n_val = 128, n_test = 512 }

[[datasets]]
name = "digits"

[[models]]
family = "independent"
budget = { steps = 30 }

[[models]]
family = "flow"
variant = "realnvp"
params = { layers = 2, hidden = 16 }
budget = { steps = 30 }

[[metrics]]
name = "nll"

[[metrics]]
name = "mmd"
params = { n = 256, permutations = 0 }

[[metrics]]
name = "fid"
"""


def failed_cell(dataset: str) -> dict:
    """The summary record of a GAN cell that failed before drawing samples."""
    return {"kind": "cell", "cell_id": f"{dataset}/gan/wgan-gp/seed0/0123456789", "dataset": dataset, "model": "gan",
            "family": "gan", "variant": "wgan-gp", "seed": 0, "status": "failed", "error": HOSTILE,
            "traceback": "Traceback (most recent call last):\n  ...\n" + HOSTILE, "params_hash": "0123456789",
            "budget": "30 steps", "device": "cpu", "model_params": {}, "dataset_params": {}, "wall_seconds": 0.1}


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tiny")
    suite = root / "tiny.toml"
    suite.write_text(textwrap.dedent(TINY_SUITE), encoding="utf-8")
    outcome = run_suite(suite, results_root=root / "results", run_id="r", progress=False, echo=lambda s: None,
                        cache_dir=root / "cache")
    assert not outcome.failures, outcome.failures
    with open(outcome.run_dir / "cells.jsonl", "a", encoding="utf-8") as handle:
        handle.write(json.dumps(failed_cell("8gaussians")) + "\n")
    return outcome.run_dir


@pytest.fixture(scope="session")
def tiny_report(tiny_run: Path) -> Path:
    from benchbench.report import write_report

    return write_report(tiny_run)


@pytest.fixture
def old_run(tmp_path: Path) -> Path:
    run = Path(shutil.copytree(ROOT / "results" / "smoke" / "reference", tmp_path / "smoke",
                               ignore=shutil.ignore_patterns("*.pt", "checkpoints", "wide", ".lock")))
    records = [json.loads(line) for line in (run / "cells.jsonl").read_text(encoding="utf-8").splitlines()]
    old = [{k: v for k, v in r.items() if k not in ("headline", "column")} for r in records if r["kind"] in ("metric", "cell")]
    (run / "cells.jsonl").write_text("".join(json.dumps(r) + "\n" for r in old), encoding="utf-8")
    return run
