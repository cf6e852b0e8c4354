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


def test_a_swept_run_records_each_point_and_compare_matches_them(tmp_path):
    path = tmp_path / "swept.toml"
    path.write_text(SWEPT_SUITE)
    outcomes = [run_suite(path, results_root=tmp_path / name, run_id="r", registry=runnable_registry(), progress=False,
                          echo=lambda s: None) for name in ("a", "b")]
    records, _ = read_records(outcomes[0].run_dir)
    cells = {r["model"]: r for r in records if r["kind"] == "cell"}
    assert set(cells) == {"g[diverge_at=3]", "g[diverge_at=1000]"}
    assert [c["status"] for c in cells.values()] == ["ok", "ok"]
    assert all(r["sweep"] == {"diverge_at": 3 if "=3]" in r["model"] else 1000} for r in records)
    points = {"g[diverge_at=3]", "g[diverge_at=1000]"}
    assert set(outcomes[0].leaderboard.query("metric == 'mean_nll'").model) == points
    table, _ = compare(outcomes[0].leaderboard, outcomes[1].leaderboard)
    matched = table.query("metric == 'mean_nll'")
    assert set(matched.model) == points and len(matched) == 2
