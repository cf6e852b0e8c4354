"""HYPE scores into the run's store, so they sit in the leaderboard beside FID.

Each score becomes a metric record stamped like the cell's own records (suite, run, cell, model,
variant, seed, parameters, versions), ``exactness = "estimate"`` and direction ``higher``: a higher
error rate, or a longer exposure needed to tell, means more realistic samples. The interval, the
evaluator and exclusion counts, the protocol, the study id and the answers' SHA-256 go into its
protocol. The records and one closing ``"kind": "evaluation"`` record are appended in one fsynced
write under the store's single-writer lock, then the leaderboards are rebuilt.

The store is append-only, so a study is recorded once; a second study's number for the same cell
and metric is refused as well, since the leaderboard would average the two as if they were seeds.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from .. import __version__
from ..errors import ResultsError, UsageError
from ..results.leaderboard import write_leaderboard
from ..results.store import RunStore
from .study import Study

STAMP = ("cell_id", "dataset", "dataset_params", "model", "model_params", "variant", "seed", "run_id", "suite", "family",
         "model_plugin", "model_distribution", "model_version", "params_hash", "budget", "device")
METRIC_VERSION = "1"  # bump when the scores' computation changes


def record_scores(study: Study, scores: list[dict[str, Any]], answers_sha256: str) -> list[dict[str, Any]]:
    """Append the scores that have a value to the study's run and rebuild its leaderboards; returns the records."""
    run_dir = Path(study.info["run_dir"])
    scores = [s for s in scores if s["value"] is not None]
    if not scores:
        raise UsageError(f"{study.answers_path}: no complete evaluation to record yet")
    if not (run_dir / "suite.toml").is_file():
        raise UsageError(f"{study.root}: prepared from the run {run_dir}, which is no longer a run folder (moved?); "
                         "see the scores with --no-record")
    store = RunStore(run_dir)
    try:
        records = store.open(new=False)
    except ResultsError as error:
        raise ResultsError(f"cannot record the HYPE scores now: {error}. Score again later, or see them with --no-record") from None
    try:
        _check_new(records, study, scores, run_dir)
        stamp = _stamp(records, study, run_dir)
        new = [metric_record(stamp, s, study, answers_sha256) for s in scores]
        new.append({"kind": "evaluation", "source": "hype", "study": study.study_id, "study_dir": str(Path(study.root).resolve()),
                    "cell_id": study.info["cell_id"], "metrics": [s["metric"] for s in scores], "answers_sha256": answers_sha256,
                    "recorded": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "benchbench_version": __version__})
        store.append(new)
        write_leaderboard(run_dir)
    finally:
        store.close()
    return new


def metric_record(stamp: dict[str, Any], score: dict[str, Any], study: Study, answers_sha256: str) -> dict[str, Any]:
    """One score as a leaderboard metric record."""
    protocol = {**score["protocol"], "ci95_low": score["ci95_low"], "ci95_high": score["ci95_high"],
                "n_evaluators": score["n_evaluators"], "n_excluded": score["n_excluded"], "n_incomplete": score["n_incomplete"],
                "n_answers": score["n_answers"], "n_images": study.info["n"], "upscale": study.info["upscale"],
                "selection_seed": study.info["selection_seed"], "study_id": study.study_id, "answers_sha256": answers_sha256}
    return {**stamp, "kind": "metric", "metric": score["metric"], "value": score["value"], "direction": "higher",
            "unit": score["unit"], "exactness": "estimate", "status": "ok", "error": None, "metric_spec": "hype",
            "metric_plugin": "(hype)", "metric_distribution": f"benchbench {__version__}", "metric_version": METRIC_VERSION,
            "metric_params": {}, "headline": True, "column": score["metric"], "protocol": protocol}


def _check_new(records: list[dict[str, Any]], study: Study, scores: list[dict[str, Any]], run_dir: Path) -> None:
    if any(r.get("kind") == "evaluation" and r.get("study") == study.study_id for r in records):
        raise UsageError(f"{run_dir}: study {study.study_id} is already recorded and the store is append-only; "
                         "see the current scores with `bench hype score --no-record`")
    names = {s["metric"] for s in scores}
    for r in records:
        if r.get("kind") == "metric" and r.get("metric_spec") == "hype" and r.get("cell_id") == study.info["cell_id"] \
                and r.get("metric") in names:
            raise UsageError(f"{run_dir}: cell {study.info['cell_id']} already has {r['metric']} from study "
                             f"{r.get('protocol', {}).get('study_id')}; the leaderboard would average two studies as seeds. "
                             "See this study's scores with --no-record")


def _stamp(records: list[dict[str, Any]], study: Study, run_dir: Path) -> dict[str, Any]:
    """The fields that place a record in the leaderboard, copied from the cell's own records."""
    cell_id = study.info["cell_id"]
    mine = [r for r in records if r.get("cell_id") == cell_id and r.get("kind") in ("metric", "cell")]
    if not mine:
        raise UsageError(f"{run_dir}: no finished cell {cell_id}, which study {study.study_id} was prepared from")
    source = next((r for r in mine if r["kind"] == "metric"), mine[-1])
    return {k: source.get(k) for k in STAMP}
