"""Scores into the run's store: metric records stamped like the cell's, one closing ``evaluation``
record, the leaderboard rebuilt; a study recorded once; the store's lock and resume respected."""

from __future__ import annotations

import json

import pandas as pd
from click.testing import CliRunner

from benchbench.cli import cli
from benchbench.engine.runner import run_suite
from benchbench.hype.answers import AnswerBook
from benchbench.hype.commands import hype
from benchbench.hype.protocol import make_protocol
from benchbench.hype.study import load_study
from benchbench.results.store import RECORDS, RunStore, read_records
from fakes import runnable_registry, write_runnable_suite

if "hype" not in cli.commands:
    cli.add_command(hype)


def answer_study(study_dir, evaluators=3, mode="infinity"):
    """Evaluators who answer every trial "fake": right on fakes, wrong on reals (50% error)."""
    study = load_study(study_dir)
    book = AnswerBook(study, make_protocol(mode, blocks=1, trials_per_block=4))
    for _ in range(evaluators):
        session = book.new_session()
        level = 500
        for trial, planned in enumerate(session["blocks"][0]["trials"]):
            exposure = level if mode == "time" else None
            reply = book.record({"evaluator": session["evaluator"], "phase": "main", "block": 0, "trial": trial, "answer": "fake",
                                 "image": planned["image"], "requested_exposure_ms": exposure, "measured_exposure_ms": 480.0})
            level = level - 10 if reply["correct"] else level + 30
    book.close()
    return study


def records_of(run_dir):
    return [json.loads(line) for line in (run_dir / RECORDS).read_text().splitlines()]


def test_scores_become_leaderboard_records_stamped_like_the_cells(study_dir):
    study = answer_study(study_dir)
    run_dir = study_dir.parents[1]
    before = records_of(run_dir)
    result = CliRunner().invoke(cli, ["hype", "score", str(study_dir)])
    assert result.exit_code == 0, result.output
    assert "hype_infinity: 50.0 percent" in result.output and "Recorded 3 HYPE value(s)" in result.output
    new = records_of(run_dir)[len(before):]
    assert [r["kind"] for r in new] == ["metric"] * 3 + ["evaluation"]
    own = next(r for r in before if r["kind"] == "metric" and r["cell_id"] == study.info["cell_id"])
    for record in new[:3]:
        stamp = ("cell_id", "dataset", "dataset_params", "model", "model_params", "variant", "seed", "run_id", "suite", "family",
                 "model_plugin", "model_distribution", "model_version", "params_hash", "budget", "device")
        assert {k: record[k] for k in stamp} == {k: own[k] for k in stamp}
        assert (record["direction"], record["unit"], record["exactness"], record["status"], record["metric_spec"]) == \
            ("higher", "percent", "estimate", "ok", "hype")
        assert record["headline"] is True and record["column"] == record["metric"] and record["metric_plugin"] == "(hype)"
        protocol = record["protocol"]
        assert protocol["study_id"] == study.study_id and protocol["n_evaluators"] == 3 and protocol["n_excluded"] == 0
        assert protocol["bootstrap_resamples"] == 10_000 and protocol["n_images"] == 30 and len(protocol["answers_sha256"]) == 64
        assert protocol["ci95_low"] <= record["value"] <= protocol["ci95_high"]
    assert {r["metric"]: r["value"] for r in new[:3]} == {"hype_infinity": 50.0, "hype_infinity_fake_error": 0.0,
                                                          "hype_infinity_real_error": 100.0}
    assert new[3]["source"] == "hype" and new[3]["study"] == study.study_id
    board = pd.read_csv(run_dir / "leaderboard.csv")
    row = board[(board["metric"] == "hype_infinity") & (board["variant"] == "wgan-gp")].iloc[0]
    assert (row["mean"], row["n_seeds"], row["direction"], row["rank"]) == (50.0, 1, "higher", 1)
    assert sum(r["kind"] == "evaluation" for r in read_records(run_dir)[0]) == 1
    wide = (run_dir / "leaderboard.md").read_text()
    assert "hype_infinity ↑ ~" in wide and "hype_time" not in wide  # a headline column, marked an estimate


def test_a_study_is_recorded_once_the_store_being_append_only(study_dir):
    answer_study(study_dir)
    assert CliRunner().invoke(cli, ["hype", "score", str(study_dir)]).exit_code == 0
    size = (study_dir.parents[1] / RECORDS).stat().st_size
    again = CliRunner().invoke(cli, ["hype", "score", str(study_dir)])
    assert again.exit_code == 2 and "append-only" in again.output and "--no-record" in again.output
    assert (study_dir.parents[1] / RECORDS).stat().st_size == size
    assert CliRunner().invoke(cli, ["hype", "score", str(study_dir), "--no-record"]).exit_code == 0


def test_a_run_being_written_is_not_recorded_into(study_dir):
    answer_study(study_dir, mode="time")
    holder = RunStore(study_dir.parents[1])
    holder.open(new=False)
    try:
        result = CliRunner().invoke(cli, ["hype", "score", str(study_dir)])
    finally:
        holder.close()
    assert result.exit_code == 2 and "cannot record the HYPE scores now" in result.output and "being written" in result.output
    assert "hype_time:" in result.output  # the scores are still shown


def test_an_evaluation_record_ends_a_group_like_a_cell_summary(tmp_path):
    store = RunStore(tmp_path / "run")
    store.open(new=True)
    store.append([{"kind": "metric", "value": 1.0}, {"kind": "cell", "cell_id": "a"}])
    store.append([{"kind": "metric", "value": 2.0, "metric_spec": "hype"}, {"kind": "evaluation", "source": "hype", "study": "s"}])
    store.append([{"kind": "metric", "value": 3.0}])  # no closing record: cut on the next open
    store.close()
    records, _ = read_records(store.run_dir)
    assert [r.get("value") for r in records] == [1.0, None, 2.0, None]
    (store.run_dir / "suite.toml").write_text("")
    assert RunStore(store.run_dir).open(new=False) == records
    assert [json.loads(line).get("value") for line in (store.run_dir / RECORDS).read_text().splitlines()] == [1.0, None, 2.0, None]


def test_a_run_resumed_after_an_evaluation_keeps_it_and_runs_only_the_missing_cells(tmp_path):
    """``bench run --resume`` looks only at cell summaries: an evaluation group between cells
    neither counts as a cell nor gets cut."""
    suite = write_runnable_suite(tmp_path / "suite.toml", steps=5)
    quiet = dict(registry=runnable_registry(), progress=False, echo=lambda s: None)
    outcome = run_suite(suite, results_root=tmp_path / "results", run_id="run", **quiet)
    path = outcome.run_dir / RECORDS
    data = path.read_bytes()
    first_cell_end = data.find(b"\n", data.find(b'"kind": "cell"')) + 1
    first = json.loads(data[:first_cell_end].splitlines()[-1])
    evaluation = [{**first, "kind": "metric", "metric": "hype_time", "value": 420.0, "direction": "higher", "status": "ok",
                   "metric_spec": "hype"}, {"kind": "evaluation", "source": "hype", "study": "s", "cell_id": first["cell_id"]}]
    path.write_bytes(data[:first_cell_end] + "".join(json.dumps(r) + "\n" for r in evaluation).encode())
    messages = []
    resumed = run_suite(resume=outcome.run_dir, **{**quiet, "echo": messages.append})
    assert any("1 of 2 cells already finished" in m for m in messages)
    kinds = [r["kind"] for r in read_records(outcome.run_dir)[0]]
    assert kinds.count("cell") == 2 and kinds.count("evaluation") == 1
    assert "hype_time" in set(resumed.leaderboard["metric"])
