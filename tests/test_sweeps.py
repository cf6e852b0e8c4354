"""Sweeps in suites: grids and paired values expand into model entries of their own, named by
their values, carried into every record, kept apart in the leaderboard and matched by compare."""

from __future__ import annotations

import textwrap

from benchbench.engine import sweeps
from benchbench.engine.runner import run_suite
from benchbench.engine.suite import load_suite
from benchbench.results.compare import compare
from benchbench.results.store import read_records
from fakes import runnable_registry


def test_a_grid_times_paired_values():
    grid, paired = {"lr": [0.1, 0.01], "hidden": [8, 16]}, {"beta": [1.0, 4.0], "k": [1, 5]}
    expanded = sweeps.points(grid, paired)
    assert len(expanded) == 8 and {"lr": 0.1, "hidden": 16, "beta": 4.0, "k": 5} in expanded
    assert {"lr": 0.1, "hidden": 16, "beta": 4.0, "k": 1} not in expanded  # paired, not crossed
    assert sweeps.points({}, {}) == [{}]
    assert sweeps.label({"lr": 0.001, "network": "mlp", "ema": True}) == "[lr=0.001,network=mlp,ema=true]"


def test_each_point_is_an_entry_with_the_values_in_its_name_and_params(fake_registry, write_suite):
    path = write_suite(textwrap.dedent("""
        [[datasets]]
        name = "digits"

        [[models]]
        family = "vae"
        name = "v"
        params = { latent_dim = 4, beta = 2.0 }
        budget = { steps = 10 }
        sweep = { beta = [1.0, 4.0] }
        sweep_zip = { k = [1, 5], decoder = ["bernoulli", "gaussian"] }
    """))
    models = load_suite(path, fake_registry).models
    assert [m.name for m in models] == ["v[beta=1,k=1,decoder=bernoulli]", "v[beta=1,k=5,decoder=gaussian]",
                                        "v[beta=4,k=1,decoder=bernoulli]", "v[beta=4,k=5,decoder=gaussian]"]
    assert models[3].params["beta"] == 4.0 and models[3].params["latent_dim"] == 4 and models[3].params["k"] == 5
    assert models[3].sweep == {"beta": 4.0, "k": 5, "decoder": "gaussian"}


SWEPT_SUITE = """
[suite]
name = "swept"
seeds = [0]
samples = 64

[[datasets]]
name = "blobs"

[[models]]
family = "gaussian"
variant = "ok"
name = "g"
budget = { steps = 20 }
batch_size = 32
sweep = { diverge_at = [3, 1000] }

[[metrics]]
name = "mean_nll"
"""


def run_text(tmp_path, text: str, jobs: int = 1, results: str = "results"):
    """Write ``text`` as a suite, run it on the fake plugins, and return the outcome and its records."""
    path = tmp_path / "suite.toml"
    path.write_text(text)
    outcome = run_suite(path, results_root=tmp_path / results, run_id="r", registry=runnable_registry(), progress=False,
                        echo=lambda s: None, jobs=jobs)
    return outcome, read_records(outcome.run_dir)[0]


def test_a_swept_run_records_each_point_and_compare_matches_them(tmp_path):
    runs = [run_text(tmp_path, SWEPT_SUITE, results=name) for name in ("a", "b")]
    outcomes, records = [outcome for outcome, _ in runs], runs[0][1]
    cells = {r["model"]: r for r in records if r["kind"] == "cell"}
    assert set(cells) == {"g[diverge_at=3]", "g[diverge_at=1000]"}
    assert [c["status"] for c in cells.values()] == ["ok", "ok"]
    assert all(r["sweep"] == {"diverge_at": 3 if "=3]" in r["model"] else 1000} for r in records)
    points = {"g[diverge_at=3]", "g[diverge_at=1000]"}
    assert set(outcomes[0].leaderboard.query("metric == 'mean_nll'").model) == points
    table, _ = compare(outcomes[0].leaderboard, outcomes[1].leaderboard)
    matched = table.query("metric == 'mean_nll'")
    assert set(matched.model) == points and len(matched) == 2


SAMPLING_SWEEP = """
[suite]
name = "sampling-sweep"
seeds = [0, 1]
samples = 64
checkpoint_every = 5

[[datasets]]
name = "blobs"

[[models]]
family = "gaussian"
name = "g"
budget = {{ steps = 20 }}
batch_size = 32
sweep = {{ sample_scale = [1.0, 3.0] }}
{more}

[[metrics]]
name = "mean_nll"

[[metrics]]
name = "mean_gap"
"""


def swept_cells(tmp_path, jobs: int = 1, more: str = ""):
    return run_text(tmp_path, SAMPLING_SWEEP.format(more=more), jobs)


def test_points_differing_only_in_sampling_share_one_training(tmp_path):
    _, records = swept_cells(tmp_path)
    cells = {(r["model"], r["seed"]): r for r in records if r["kind"] == "cell"}
    for seed in (0, 1):
        trained, reused = cells[("g[sample_scale=1]", seed)], cells[("g[sample_scale=3]", seed)]
        assert "training_reused_from" not in trained and trained["resumed_from_step"] == 0
        assert reused["training_reused_from"] == trained["cell_id"] and reused["resumed_from_step"] == 20  # no step trained
    metric = {(r["model"], r["seed"], r["metric"]): r for r in records if r["kind"] == "metric"}
    for seed in (0, 1):  # the same weights (same test NLL), sampled differently (another sample gap)
        nll = [metric[(f"g[sample_scale={s}]", seed, "mean_nll")]["value"] for s in (1, 3)]
        assert nll[0] == nll[1]
        fit = [metric[(f"g[sample_scale={s}]", seed, "fit_seconds")] for s in (1, 3)]
        assert fit[0]["value"] == fit[1]["value"] and fit[1]["protocol"]["training"].startswith("reused from ")
        assert "training" not in fit[0]["protocol"]
    assert len(list((tmp_path / "results" / "sampling-sweep" / "r" / "checkpoints").glob("training-*.pt"))) == 2


def test_in_worker_processes_too_and_a_training_sweep_still_trains_each_point(tmp_path):
    _, records = swept_cells(tmp_path, jobs=2, more="sweep_zip = { sleep = [0.0, 0.0001] }")
    cells = [r for r in records if r["kind"] == "cell"]
    assert len(cells) == 8 and all(c["status"] == "ok" for c in cells)
    reused = [c for c in cells if "training_reused_from" in c]
    assert len(reused) == 4  # per seed and sleep value, the sample_scale = 3 point
    trainers = {c["cell_id"]: c for c in cells if "training_reused_from" not in c}
    assert all(trainers[c["training_reused_from"]]["sweep"]["sleep"] == c["sweep"]["sleep"] for c in reused)


METRIC_SWEEP = """
[suite]
name = "metric-sweep"
seeds = [0]
samples = 64

[[datasets]]
name = "blobs"

[[models]]
family = "gaussian"
budget = { steps = 5 }

[[metrics]]
name = "declared"
sweep = { space = ["data", "latent"] }
"""


def test_a_swept_metric_gives_one_row_per_point_named_by_it(tmp_path):
    outcome, records = run_text(tmp_path, METRIC_SWEEP)
    assert not outcome.failures, outcome.failures
    named = {r["metric"]: r for r in records if r.get("metric_spec") == "declared"}
    assert set(named) == {"gap[data][space=data]", "gap[latent][space=latent]",
                          "gap_rank_d3[space=data]", "gap_rank_d3[space=latent]"}
    assert named["gap[data][space=data]"]["column"] == "gap[data][space=data]"
    assert named["gap_rank_d3[space=latent]"]["metric_sweep"] == {"space": "latent"}
    rows = outcome.leaderboard.query("metric.str.startswith('gap_rank')", engine="python")
    assert len(rows) == 2  # one row per point, not two seeds' worth of one
