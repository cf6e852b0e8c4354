"""Builders for the HYPE tests: a run folder made without training, hand-written answer lines.

The run holds what ``bench run`` would leave for these cells: ``cells.jsonl`` (a summary and one
metric record per cell, stamped alike), ``suite.toml``, ``run.json`` and ``samples/<cell>.pt``.

==================================  =========  =========  ======================================
cell                                dataset    samples    for
==================================  =========  =========  ======================================
digits/gan/wgan-gp/seed0 and seed1  digits     (40, 1, 8, 8) in [0, 1]  the studies
digits/gan/ns-gan/seed0             digits     none       ambiguity, missing samples
8gaussians/flow/realnvp/seed0       8gaussians (40, 2)    a dataset that is not images
==================================  =========  =========  ======================================
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from benchbench.hype.protocol import make_protocol


DIGITS = {"split_seed": 0, "val_fraction": 0.1, "test_fraction": 0.2}  # registry.dataset("digits").defaults()
N_SAMPLES = 40


def cell(dataset: str, model: str, variant: str, seed: int, dataset_params: dict[str, Any]) -> dict[str, Any]:
    """A cell summary stamped as engine.cell._stamp stamps it."""
    return {"kind": "cell", "cell_id": f"{dataset}/{model}/{variant}/seed{seed}/abc123", "dataset": dataset, "model": model,
            "family": model, "variant": variant, "seed": seed, "status": "ok", "error": None, "suite": "tiny", "run_id": "run",
            "dataset_params": dataset_params, "model_params": {}, "model_plugin": model, "model_distribution": "benchbench 0.1.0",
            "model_version": "1", "params_hash": "abc123", "budget": "10 steps", "device": "cpu"}


def write_run(run_dir: Path) -> Path:
    import torch

    cells = [cell("digits", "gan", "wgan-gp", 0, DIGITS), cell("digits", "gan", "wgan-gp", 1, DIGITS),
             cell("digits", "gan", "ns-gan", 0, DIGITS), cell("8gaussians", "flow", "realnvp", 0, {"n_train": 1000})]
    lines = []
    for summary in cells:
        metric = {**summary, "kind": "metric", "metric": "fit_seconds", "value": 1.0, "direction": "lower", "unit": "s",
                  "exactness": "measured", "protocol": {}, "metric_spec": "(runner)", "metric_plugin": "(runner)",
                  "metric_distribution": "benchbench 0.1.0", "metric_version": "1"}
        lines += [metric, summary]
    (run_dir / "samples").mkdir(parents=True)
    (run_dir / "cells.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    (run_dir / "suite.toml").write_text('[suite]\nname = "tiny"\n')
    (run_dir / "run.json").write_text(json.dumps({"suite": "tiny", "run_id": "run", "seeds": [0, 1]}))
    generator = torch.Generator().manual_seed(0)
    for summary, shape in ((cells[0], (1, 8, 8)), (cells[1], (1, 8, 8)), (cells[3], (2,))):
        samples = torch.rand((N_SAMPLES, *shape), generator=generator)
        torch.save(samples, run_dir / "samples" / f"{summary['cell_id'].replace('/', '__')}.pt")
    return run_dir




def protocol(mode: str, trials: int, **changes: Any) -> dict[str, Any]:
    """The protocol dict an answer carries: the paper's for ``mode`` with ``trials`` per block."""
    return {**make_protocol(mode, trials_per_block=trials).to_dict(), **changes}


def answer(evaluator: str, trial: int, truth: str, said: str, *, mode: str = "infinity", block: int = 0, block_trials: int = 4,
           exposure: int | None = None, phase: str = "main", vigilance: bool = False, image: str | None = None,
           proto: dict[str, Any] | None = None) -> str:
    """One line of answers.jsonl as the server writes it."""
    record = {"type": "answer", "study_id": "s", "evaluator": evaluator, "mode": mode, "phase": phase, "block": block,
              "trial": trial, "block_trials": block_trials, "image": image or f"{evaluator}-{phase}-{block}-{trial}",
              "vigilance": vigilance, "truth": truth, "answer": said, "correct": truth == said,
              "requested_exposure_ms": exposure, "measured_exposure_ms": None if exposure is None else exposure - 4.0,
              "response_ms": 700.0, "client_time_ms": 0.0, "protocol": proto or protocol(mode, 4),
              "server_time": "2019-05-01T12:00:00.000Z"}
    return json.dumps(record)
