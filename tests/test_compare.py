"""Leaderboards from records, and comparisons of two leaderboards, checked against scipy."""

from __future__ import annotations

import csv
import io
import math
import statistics
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner
from scipy import stats

import benchbench.cli
from benchbench.errors import UsageError
from benchbench.results.compare import compare, read_leaderboard, regressions, render
from benchbench.results.leaderboard import leaderboard

HEADER = ["dataset", "model", "variant", "metric", "mean", "std", "ci95", "n_seeds", "direction", "rank", "status"]
COMPARE_COLUMNS = ["dataset", "model", "variant", "metric", "direction", "mean_a", "mean_b", "delta", "n_seeds_a", "n_seeds_b", "verdict", "reason", "cost"]


def metric(model: str, seed: int, value: float | None, *, name: str = "nll", direction: str = "lower", status: str = "ok",
           dataset: str = "8gaussians", variant: str = "default", **extra: Any) -> dict[str, Any]:
    return {"kind": "metric", "dataset": dataset, "model": model, "variant": variant, "metric": name, "seed": seed,
            "value": value, "direction": direction, "status": status, **extra}


def cell(model: str, seed: int, status: str = "ok", *, dataset: str = "8gaussians", variant: str = "default") -> dict[str, Any]:
    return {"kind": "cell", "dataset": dataset, "model": model, "variant": variant, "seed": seed, "status": status}


def reference(values: list[float]) -> tuple[float, float, float]:
    """Mean, sample standard deviation and 95% half-width by Student t, computed independently."""
    mean = statistics.fmean(values)
    low, high = stats.t.interval(0.95, len(values) - 1, loc=mean, scale=stats.sem(values))
    return mean, statistics.stdev(values), (high - low) / 2


VAE_NLL = [1.0, 1.3, 1.1]
FLOW_NLL = [0.9, 0.8]


@pytest.fixture
def records() -> list[dict[str, Any]]:
    """vae: 3 ok seeds; flow: 2 ok, 1 diverged; gan: every seed failed; baseline: one seed."""
    out = []
    for seed, value in enumerate(VAE_NLL):
        out += [metric("vae", seed, value, variant="vae"), metric("vae", seed, 0.9, variant="vae", name="acc", direction="higher"), cell("vae", seed, variant="vae")]
    for seed, value in enumerate(FLOW_NLL):
        out += [metric("flow", seed, value), metric("flow", seed, 0.9, name="acc", direction="higher"), cell("flow", seed)]
    out.append(cell("flow", 2, "diverged"))
    out += [cell("gan", 0, "error"), cell("gan", 1, "timeout"), cell("gan", 2, "error")]
    out += [metric("baseline", 0, 2.0), metric("baseline", 0, 0.5, name="acc", direction="higher"),
            metric("baseline", 0, None, name="fid", status="n/a"), cell("baseline", 0)]
    return out


def row(board: pd.DataFrame, model: str, metric_name: str) -> pd.Series:
    rows = board[(board["model"] == model) & (board["metric"] == metric_name)]
    assert len(rows) == 1, rows
    return rows.iloc[0]


# --------------------------------------------------------------------------------------------------
# leaderboard
# --------------------------------------------------------------------------------------------------


def test_leaderboard_columns_in_order(records) -> None:
    board = leaderboard(records)
    assert list(board.columns[: len(HEADER)]) == HEADER
    assert list(pd.read_csv(io.StringIO(board.to_csv(index=False))).columns[: len(HEADER)]) == HEADER


def test_mean_std_ci95_match_student_t(records) -> None:
    board = leaderboard(records)
    for model, values in (("vae", VAE_NLL), ("flow", FLOW_NLL)):
        got = row(board, model, "nll")
        mean, std, ci95 = reference(values)
        assert got["mean"] == pytest.approx(mean, rel=1e-12)
        assert got["std"] == pytest.approx(std, rel=1e-12)
        assert got["ci95"] == pytest.approx(ci95, rel=1e-12)
        assert got["n_seeds"] == len(values)
        assert got["direction"] == "lower"


def test_one_seed_has_no_spread(records) -> None:
    board = leaderboard(records)
    baseline = row(board, "baseline", "nll")
    assert (baseline["mean"], baseline["n_seeds"], baseline["status"]) == (2.0, 1, "ok")
    assert pd.isna(baseline["std"]) and pd.isna(baseline["ci95"])
    (line,) = [r for r in csv.DictReader(io.StringIO(board.to_csv(index=False))) if r["model"] == "baseline" and r["metric"] == "nll"]
    assert (line["std"], line["ci95"]) == ("", "")


def test_status_counts_how_seeds_ended(records) -> None:
    board = leaderboard(records)
    assert row(board, "vae", "nll")["status"] == "ok"
    assert row(board, "flow", "nll")["status"] == "ok 2/3; diverged 1/3"
    assert row(board, "flow", "acc")["status"] == "ok 2/3; diverged 1/3"


def test_model_whose_every_seed_failed_still_gets_a_row(records) -> None:
    board = leaderboard(records)
    gan = board[board["model"] == "gan"]
    assert len(gan) == 1
    gan = gan.iloc[0]
    assert (gan["metric"], gan["n_seeds"], gan["status"]) == ("(cell)", 0, "error 2/3; timeout 1/3")
    assert pd.isna(gan["mean"]) and pd.isna(gan["rank"])


def test_metric_without_any_value_is_unranked(records) -> None:
    fid = row(leaderboard(records), "baseline", "fid")
    assert (fid["n_seeds"], fid["status"]) == (0, "n/a 1/1")
    assert pd.isna(fid["mean"]) and pd.isna(fid["rank"])


def test_rank_is_direction_aware_and_ties_share(records) -> None:
    board = leaderboard(records)
    nll = board[board["metric"] == "nll"]
    assert list(zip(nll["model"], nll["rank"])) == [("flow", 1), ("vae", 2), ("baseline", 3)]  # lower is better
    acc = board[board["metric"] == "acc"]
    assert dict(zip(acc["model"], acc["rank"])) == {"flow": 1, "vae": 1, "baseline": 3}  # higher is better; a tie
    assert list(acc["model"]) == ["flow", "vae", "baseline"]  # ties in model order


def test_leaderboard_of_no_records_is_empty_with_columns() -> None:
    board = leaderboard([])
    assert board.empty and list(board.columns[: len(HEADER)]) == HEADER


def test_leaderboard_csv_reads_back(records, tmp_path) -> None:
    path = tmp_path / "leaderboard.csv"
    leaderboard(records).to_csv(path, index=False)
    frame = read_leaderboard(path)
    assert list(frame.columns[: len(HEADER)]) == HEADER
    assert len(frame) == len(leaderboard(records))


# --------------------------------------------------------------------------------------------------
# compare
# --------------------------------------------------------------------------------------------------


def board(*rows: dict[str, Any]) -> pd.DataFrame:
    """A hand-made leaderboard; every row one seed unless it says otherwise."""
    defaults = {"dataset": "8gaussians", "variant": "default", "metric": "nll", "std": math.nan, "ci95": math.nan,
                "n_seeds": 1, "direction": "lower", "rank": 1, "status": "ok"}
    return pd.DataFrame([{**defaults, **r} for r in rows], columns=list(dict.fromkeys(HEADER + [c for r in rows for c in r])))


def verdicts(table: pd.DataFrame) -> dict[tuple[str, str], str]:
    return {(r.model, r.metric): r.verdict for r in table.itertuples()}


SEEDED = {"n_seeds": 3, "std": 0.05}  # a baseline side with a seed spread


def test_verdicts_follow_direction() -> None:
    a = board({"model": "m1", "mean": 1.0, **SEEDED}, {"model": "m2", "mean": 1.0, **SEEDED},
              {"model": "m1", "metric": "acc", "mean": 0.5, "direction": "higher", **SEEDED},
              {"model": "m2", "metric": "acc", "mean": 0.5, "direction": "higher", **SEEDED},
              {"model": "m3", "mean": 1.0, **SEEDED})
    b = board({"model": "m1", "mean": 0.6}, {"model": "m2", "mean": 1.4},
              {"model": "m1", "metric": "acc", "mean": 0.9, "direction": "higher"},
              {"model": "m2", "metric": "acc", "mean": 0.1, "direction": "higher"},
              {"model": "m3", "mean": 1.0})
    table, warnings = compare(a, b)
    assert list(table.columns) == COMPARE_COLUMNS
    assert verdicts(table) == {("m1", "nll"): "better", ("m2", "nll"): "worse", ("m1", "acc"): "better",
                               ("m2", "acc"): "worse", ("m3", "nll"): "same"}
    m1 = table[(table["model"] == "m1") & (table["metric"] == "nll")].iloc[0]
    assert m1["delta"] == pytest.approx(-0.4)
    assert "B's one seed against A's 95% prediction interval over 3 seeds" in m1["reason"]
    assert warnings == []
    assert "better" in render(table)


def test_one_seed_each_without_an_evaluation_error_cannot_be_judged() -> None:
    a, b = board({"model": "m", "mean": 1.00}), board({"model": "m", "mean": 1.04})
    table = compare(a, b)[0]
    assert verdicts(table) == {("m", "nll"): "no spread: cannot judge"}
    assert "run more seeds" in table["reason"].iloc[0]
    assert regressions(table).empty
    assert verdicts(compare(a, b, tolerance=0.05)[0]) == {("m", "nll"): "within noise"}


@pytest.mark.parametrize(("b_mean", "expected"), [(1.02, "within noise"), (1.05, "worse"), (0.95, "better")])
def test_one_seed_each_uses_the_metrics_own_standard_error(b_mean, expected) -> None:
    a = board({"model": "m", "mean": 1.0, "protocol": "sem=0.01; split=test"})
    b = board({"model": "m", "mean": b_mean, "protocol": "sem=0.01; split=test"})
    table = compare(a, b)[0]
    bound = stats.norm.ppf(0.975) * math.hypot(0.01, 0.01)
    assert (abs(b_mean - 1.0) <= bound) == (expected == "within noise")
    assert verdicts(table) == {("m", "nll"): expected}
    assert "the metric's own standard errors" in table["reason"].iloc[0]


@pytest.mark.parametrize("seeded_side", ["a", "b"])
def test_several_seeds_on_one_side_judge_the_other_by_its_prediction_interval(seeded_side) -> None:
    spread = statistics.stdev(SPREAD)
    half = stats.t.ppf(0.975, len(SPREAD) - 1) * spread * math.sqrt(1 + 1 / len(SPREAD))  # scipy, independently
    many = {"model": "m", "mean": 1.0, "n_seeds": len(SPREAD), "std": spread}
    for offset, expected in [(0.98 * half, "within noise"), (1.02 * half, "worse")]:
        one = {"model": "m", "mean": 1.0 + offset if seeded_side == "a" else 1.0 - offset}
        a, b = (board(many), board(one)) if seeded_side == "a" else (board(one), board(many))
        assert verdicts(compare(a, b)[0]) == {("m", "nll"): expected}, (offset, half)


def test_floating_point_noise_is_the_same() -> None:
    a = board({"model": "m", "mean": 1.9203}, {"model": "m", "metric": "mmd2", "mean": 1.2e-3})
    b = board({"model": "m", "mean": 1.9203 + 5e-8}, {"model": "m", "metric": "mmd2", "mean": 1.2e-3 + 3e-10})
    table = compare(a, b)[0]
    assert verdicts(table) == {("m", "nll"): "same", ("m", "mmd2"): "same"}
    assert all("floating-point noise" in r for r in table["reason"])


def test_samples_drawn_another_way_are_not_compared() -> None:
    ddim = "extractor=classifier[pinned:7eccffe9f4da5c2f]; sampling={'sampler': 'ddim', 'steps': 10, 'ema': True}"
    a = board({"model": "m", "metric": "fid[classifier]", "mean": 2.1, "protocol": ddim, **SEEDED})
    b = board({"model": "m", "metric": "fid[classifier]", "mean": 2.0, "protocol": ddim.replace("'steps': 10", "'steps': 50")})
    table = compare(a, b)[0]
    assert verdicts(table) == {("m", "fid[classifier]"): "not comparable"}
    assert "protocol differs in sampling: {'sampler': 'ddim', 'steps': 10" in table["reason"][0]


def test_rows_whose_protocols_differ_in_what_defines_them_are_not_compared() -> None:
    pinned = "extractor=classifier[pinned:7eccffe9f4da5c2f]; n_generated=2000; sem=0.1"
    a = board({"model": "m", "metric": "fid[classifier]", "mean": 2.1, "protocol": pinned, **SEEDED},
              {"model": "m", "mean": 1.0, "protocol": "k=100; sem=0.1", **SEEDED})
    b = board({"model": "m", "metric": "fid[classifier]", "mean": 2.0,
               "protocol": pinned.replace("pinned:7eccffe9f4da5c2f", "local:0123456789abcdef")},
              {"model": "m", "mean": 1.0, "protocol": "k=10; sem=0.1"})
    table = compare(a, b)[0]
    assert verdicts(table) == {("m", "fid[classifier]"): "not comparable", ("m", "nll"): "not comparable"}
    reasons = dict(zip(table["metric"], table["reason"]))
    assert reasons["fid[classifier]"] == "protocol differs in extractor: classifier[pinned:7eccffe9f4da5c2f] vs classifier[local:0123456789abcdef]"
    assert reasons["nll"] == "protocol differs in k: 100 vs 10"
    assert len(regressions(table)) == 2


def test_costs_get_verdicts_but_are_never_regressions() -> None:
    a = board({"model": "m", "metric": "fit_seconds", "mean": 10.0, "exactness": "measured", **SEEDED})
    b = board({"model": "m", "metric": "fit_seconds", "mean": 30.0, "exactness": "measured"})
    table = compare(a, b)[0]
    assert verdicts(table) == {("m", "fit_seconds"): "worse"}
    assert regressions(table).empty


def test_rows_only_on_one_side_and_missing_values() -> None:
    a = board({"model": "old", "mean": 1.0}, {"model": "both", "mean": 1.0}, {"model": "dead", "metric": "(cell)", "mean": math.nan, "n_seeds": 0},
              {"model": "revived", "mean": math.nan, "n_seeds": 0, "status": "failed 1/1"})
    b = board({"model": "new", "mean": 1.0}, {"model": "both", "mean": math.nan, "n_seeds": 0, "status": "failed 1/1"},
              {"model": "dead", "metric": "(cell)", "mean": math.nan, "n_seeds": 0}, {"model": "revived", "mean": 1.0})
    table = compare(a, b)[0]
    assert verdicts(table) == {("old", "nll"): "missing in B", ("new", "nll"): "only in B", ("both", "nll"): "lost in B",
                               ("dead", "(cell)"): "no value", ("revived", "nll"): "no value"}
    reasons = {r.model: r.reason for r in table.itertuples()}
    assert reasons["old"] == "the row is absent from B"
    assert reasons["both"] == "B has no value: failed 1/1"
    assert set(regressions(table)["model"]) == {"both", "old"}


def test_versions_are_compared_as_the_strings_specs_declare(tmp_path) -> None:
    a = board({"model": "vae", "mean": 1.0, "model_version": "1.10", "metric_version": "1"},
              {"model": "flow", "mean": 1.0, "model_version": "1", "metric_version": "1"})
    b = board({"model": "vae", "mean": 1.0, "model_version": "1.1", "metric_version": "1"})
    table, warnings = compare(read_leaderboard(write(a, tmp_path / "a.csv")), read_leaderboard(write(b, tmp_path / "b.csv")))
    # 1.10 is not 1.1, and the row B lacks warns about nothing (it used to say "1 vs 1.0").
    assert warnings == ["8gaussians/vae/default/nll: model_version differs (1.10 vs 1.1)"]
    assert verdicts(table)[("flow", "nll")] == "missing in B"


def test_version_difference_warns() -> None:
    a = board({"model": "vae", "mean": 1.0, "model_version": "1", "metric_version": "1"})
    b = board({"model": "vae", "mean": 1.0, "model_version": "2", "metric_version": "1"})
    _, warnings = compare(a, b)
    assert warnings == ["8gaussians/vae/default/nll: model_version differs (1 vs 2)"]


SPREAD = [1.0, 1.2, 0.8, 1.1, 0.9]
# B's seeds = shift + scale * (A's seeds - 1): from far inside to far outside Welch's 95% interval,
# two of them close to its edge (t ≈ 2.2 and 2.5 with about 8 degrees of freedom).
SHIFTS = {"inside": (1.05, 1.0), "edge-in": (1.22, 1.0), "edge-out": (1.25, 1.0), "outside": (0.4, 1.0),
          "outside-worse": (1.6, 1.0), "inside-wider": (0.95, 1.8), "outside-wider": (0.3, 1.8)}


def test_within_noise_agrees_with_welch_interval() -> None:
    a_records, b_records, b_values = [], [], {}
    for model, (shift, scale) in SHIFTS.items():
        b_values[model] = [shift + scale * (v - 1.0) for v in SPREAD]
        a_records += [metric(model, seed, v) for seed, v in enumerate(SPREAD)]
        b_records += [metric(model, seed, v) for seed, v in enumerate(b_values[model])]
    table, _ = compare(leaderboard(a_records), leaderboard(b_records))
    got = verdicts(table)
    for model, values in b_values.items():
        welch = stats.ttest_ind(values, SPREAD, equal_var=False)
        interval = welch.confidence_interval(0.95)
        contains_zero = interval.low <= 0 <= interval.high
        assert contains_zero == (welch.pvalue >= 0.05)
        assert (got[(model, "nll")] == "within noise") == contains_zero, (model, interval)
        if not contains_zero:
            assert got[(model, "nll")] == ("better" if statistics.fmean(values) < 1.0 else "worse")
    assert {got[(m, "nll")] for m in ("inside", "edge-in", "inside-wider")} == {"within noise"}
    assert (got[("edge-out", "nll")], got[("outside", "nll")], got[("outside-worse", "nll")], got[("outside-wider", "nll")]) == (
        "worse", "better", "worse", "better")


def test_identical_boards_are_the_same(records) -> None:
    table, warnings = compare(leaderboard(records), leaderboard(records))
    assert set(table.loc[table["metric"] != "fid", "verdict"]) - {"no value"} == {"same"}
    assert verdicts(table)[("gan", "(cell)")] == "no value"
    assert warnings == []


# --------------------------------------------------------------------------------------------------
# `bench compare`
# --------------------------------------------------------------------------------------------------


def write(frame: pd.DataFrame, path) -> str:
    frame.to_csv(path, index=False)
    return str(path)


@pytest.fixture
def boards(tmp_path) -> dict[str, str]:
    a = board({"model": "vae", "mean": 1.0, "model_version": "1", **SEEDED}, {"model": "flow", "mean": 2.0, "model_version": "1", **SEEDED})
    regressed = board({"model": "vae", "mean": 1.5, "model_version": "1"}, {"model": "flow", "mean": 1.0, "model_version": "1"})
    improved = board({"model": "vae", "mean": 0.5, "model_version": "2"}, {"model": "flow", "mean": 2.0, "model_version": "1"})
    return {"a": write(a, tmp_path / "a.csv"), "regressed": write(regressed, tmp_path / "regressed.csv"),
            "improved": write(improved, tmp_path / "improved.csv")}


def invoke(*args: str):
    return CliRunner().invoke(benchbench.cli.cli, ["compare", *args])


def test_cli_fail_on_regression_exits_1(boards) -> None:
    result = invoke(boards["a"], boards["regressed"], "--fail-on-regression")
    assert result.exit_code == 1, result.output
    assert "1 regression(s)" in result.output
    assert "worse: 1" in result.output and "better: 1" in result.output


def test_cli_without_regression_exits_0(boards) -> None:
    result = invoke(boards["a"], boards["improved"], "--fail-on-regression")
    assert result.exit_code == 0, result.output
    assert "warning: 8gaussians/vae/default/nll: model_version differs (1 vs 2)" in result.output


def test_cli_fail_on_regression_counts_rows_b_lost(boards, tmp_path) -> None:
    a = pd.read_csv(boards["a"])
    lost = a.copy()
    lost.loc[lost["model"] == "flow", ["mean", "n_seeds", "status"]] = [math.nan, 0, "n/a 1/1"]
    result = invoke(boards["a"], write(lost[lost["model"] == "flow"], tmp_path / "lost.csv"), "--fail-on-regression")
    assert result.exit_code == 1, result.output
    assert "regression: 8gaussians/vae/default/nll: missing in B: the row is absent from B" in result.output
    assert "regression: 8gaussians/flow/default/nll: lost in B: B has no value: n/a 1/1" in result.output
    assert "2 regression(s)" in result.output


def test_cli_regression_without_flag_exits_0(boards) -> None:
    assert invoke(boards["a"], boards["regressed"]).exit_code == 0


def test_cli_csv_missing_columns_exits_2(boards, tmp_path) -> None:
    broken = tmp_path / "broken.csv"
    pd.read_csv(boards["a"]).drop(columns=["n_seeds", "direction"]).to_csv(broken, index=False)
    result = invoke(boards["a"], str(broken))
    assert result.exit_code == 2
    assert f"{broken}: not a benchbench leaderboard; missing columns ['n_seeds', 'direction']" in result.output


def test_cli_missing_file_exits_2(boards, tmp_path) -> None:
    result = invoke(str(tmp_path / "absent.csv"), boards["a"])
    assert result.exit_code == 2
    assert f"{tmp_path / 'absent.csv'}: no such leaderboard file" in result.output


def test_read_leaderboard_rejects_non_csv(tmp_path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(UsageError, match="not a readable CSV leaderboard"):
        read_leaderboard(empty)


def test_leaderboards_made_before_the_renames_still_compare() -> None:
    old = board({"model": "m", "metric": "fid_classifier", "mean": 2.0, **SEEDED},
                {"model": "m", "metric": "nmi_random_projection_d8", "mean": 0.3, "direction": "higher", **SEEDED},
                {"model": "m", "metric": "inception-score", "mean": math.nan, "status": "n/a", "n_seeds": 0})
    new = board({"model": "m", "metric": "fid[classifier]", "mean": 2.0},
                {"model": "m", "metric": "nmi[random_projection_d8]", "mean": 0.3, "direction": "higher"},
                {"model": "m", "metric": "inception_score[classifier]", "mean": math.nan, "status": "n/a", "n_seeds": 0})
    table = compare(old, new)[0]
    got = verdicts(table)
    assert got[("m", "fid[classifier]")] == got[("m", "nmi[random_projection_d8]")] == "same"
    # an n/a once recorded under the spec's name: nothing was lost, so no regression
    assert got[("m", "inception_score")] == "gone from B" and len(regressions(table)) == 0


def test_a_value_absent_from_b_is_still_a_regression() -> None:
    table = compare(board({"model": "m", "mean": 1.0, **SEEDED}), board({"model": "other", "mean": 1.0}))[0]
    assert verdicts(table)[("m", "nll")] == "missing in B" and len(regressions(table)) == 1


def test_a_suite_naming_a_renamed_metric_is_told_the_new_name(write_suite, fake_registry) -> None:
    from benchbench.engine.suite import load_suite
    from benchbench.errors import SuiteError

    path = write_suite('[suite]\nname = "s"\n[[datasets]]\nname = "8gaussians"\n[[models]]\nfamily = "vae"\n'
                       'budget = { steps = 1 }\n[[metrics]]\nname = "precision-recall"\n')
    with pytest.raises(SuiteError, match="metrics\\[0\\].name: expected a metric name, found 'precision-recall'. "
                                         "'precision-recall' was renamed 'precision_recall'"):
        load_suite(path, fake_registry)
