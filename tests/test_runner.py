"""The runner end to end on fake plugins: statuses, n/a, failure isolation, exit codes."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from benchbench import cli as cli_module
from benchbench.engine.runner import run_suite
from benchbench.errors import CapabilityError, PluginError, ResultsError, UsageError
from benchbench.results.leaderboard import COLUMNS
from benchbench.results.store import read_records
from fakes import runnable_registry, write_runnable_suite


def run(tmp_path, jobs=1, **suite):
    path = write_runnable_suite(tmp_path / "fake.toml", **suite)
    return run_suite(path, results_root=tmp_path / "results", run_id="r", registry=runnable_registry(), progress=False,
                     echo=lambda s: None, jobs=jobs)


def cells_of(outcome):
    records, _ = read_records(outcome.run_dir)
    return [r for r in records if r["kind"] == "cell"], [r for r in records if r["kind"] == "metric"]


def test_ok_run_records_every_metric_and_na_with_reason(tmp_path):
    outcome = run(tmp_path)
    cells, metrics = cells_of(outcome)
    assert [c["status"] for c in cells] == ["ok", "ok"]
    by_name = {(m["metric"], m["seed"]): m for m in metrics}
    assert by_name[("mean_nll", 0)]["status"] == "ok" and by_name[("mean_nll", 0)]["exactness"] == "exact"
    assert by_name[("needs_encode", 1)]["status"] == "n/a"
    assert "does not provide encode" in by_name[("needs_encode", 1)]["error"]
    for cost in ("fit_seconds", "samples_per_second", "train_steps_per_second", "peak_memory_mb"):
        assert by_name[(cost, 0)]["value"] > 0
    assert not outcome.failures
    assert list(outcome.leaderboard.columns[: len(COLUMNS)]) == COLUMNS
    row = outcome.leaderboard.query("metric == 'mean_nll'").iloc[0]
    assert row["n_seeds"] == 2 and row["status"] == "ok" and row["std"] > 0


def test_cells_run_in_worker_processes_give_the_same_records(tmp_path):
    """Two cells at once, each in a process of its own: every cell is recorded, with the values the
    cells give when run in turn, and environment.json says how the cells ran."""
    one, two = run(tmp_path / "one"), run(tmp_path / "two", jobs=2)
    values = lambda outcome: sorted((m["cell_id"], m["metric"], m["value"]) for m in cells_of(outcome)[1]  # noqa: E731
                                    if m.get("exactness") != "measured")
    assert values(one) == values(two) and len(values(two)) == 6
    assert [c["status"] for c in cells_of(two)[0]] == ["ok", "ok"]
    environment = json.loads((two.run_dir / "environment.json").read_text())
    assert environment["cells_at_once"] == 2 and environment["torch_threads"] >= 1
    with pytest.raises(UsageError, match="jobs must be at least 1, got 0"):
        run(tmp_path / "zero", jobs=0)


def test_learning_beats_the_untrained_model(tmp_path):
    """The fake model learns the blob's mean: a longer budget gives a lower test NLL."""
    short = run(tmp_path / "a", steps=1).leaderboard.query("metric == 'mean_nll'")["mean"].iloc[0]
    long = run(tmp_path / "b", steps=60).leaderboard.query("metric == 'mean_nll'")["mean"].iloc[0]
    assert long < short


def test_failing_cell_is_recorded_with_traceback_and_run_goes_on(tmp_path):
    outcome = run(tmp_path, variant="raise")
    cells, _ = cells_of(outcome)
    assert [c["status"] for c in cells] == ["failed", "failed"]
    assert "boom in train_step" in cells[0]["error"] and "Traceback" in cells[0]["traceback"]
    assert len(outcome.failures) == 2
    assert outcome.leaderboard["status"].tolist() == ["failed 2/2"]


def test_diverging_cell_is_marked_with_its_step(tmp_path):
    outcome = run(tmp_path, variant="diverge")
    cells, metrics = cells_of(outcome)
    assert {c["status"] for c in cells} == {"diverged"}
    assert cells[0]["diverged_step"] == 5 and "step 5" in cells[0]["error"]
    assert not metrics


def test_a_models_own_divergence_guard_marks_the_cell_diverged_at_that_step(tmp_path):
    outcome = run(tmp_path, variant="guard")
    cells, metrics = cells_of(outcome)
    assert {c["status"] for c in cells} == {"diverged"}
    assert cells[0]["diverged_step"] == 5
    assert "critic output 3e+09 beyond divergence_limit 1e+06 at step 5" in cells[0]["error"]
    assert not metrics


def test_what_a_model_measures_about_its_sampling_is_a_cost_row(tmp_path):
    cells, metrics = cells_of(run(tmp_path, variant="self-measuring"))
    rows = [m for m in metrics if m["metric"] == "network_evals_per_sample"]
    assert [r["value"] for r in rows] == [3.0, 3.0] and {r["exactness"] for r in rows} == {"measured"}
    assert rows[0]["protocol"] == {"sampler": "fake"} and rows[0]["metric_plugin"] == "fake"
    cells, metrics = cells_of(run(tmp_path / "bad", variant="bad-sampling-values"))
    broken = [m for m in metrics if m["metric"] == "sampling_values"]
    assert broken and broken[0]["status"] == "failed" and "sampling_values()" in broken[0]["error"]
    assert {c["status"] for c in cells} == {"failed"}


def test_cell_past_its_time_limit_is_a_timeout(tmp_path):
    outcome = run(tmp_path, variant="slow", steps=1000, time_limit=0.5)
    cells, _ = cells_of(outcome)
    assert {c["status"] for c in cells} == {"timeout"}
    assert all(c["wall_seconds"] < 5 for c in cells)


def test_failing_metric_fails_the_cell_but_keeps_other_values(tmp_path):
    outcome = run(tmp_path, extra='\n[[metrics]]\nname = "mean_nll"\nparams = { fail = true }\n')
    cells, metrics = cells_of(outcome)
    assert {c["status"] for c in cells} == {"failed"}
    assert "metric exploded" in cells[0]["error"]
    assert any(m["metric"] == "mean_gap" and m["status"] == "ok" for m in metrics)


def test_second_run_into_the_same_folder_is_refused(tmp_path):
    run(tmp_path)
    with pytest.raises(ResultsError, match="already holds a run"):
        run(tmp_path)


def test_resume_skips_finished_cells(tmp_path):
    outcome = run(tmp_path)
    before = (outcome.run_dir / "cells.jsonl").read_bytes()
    again = run_suite(resume=outcome.run_dir, registry=runnable_registry(), progress=False, echo=lambda s: None)
    assert (outcome.run_dir / "cells.jsonl").read_bytes() == before
    assert again.leaderboard.equals(outcome.leaderboard)


def test_cli_exit_status_is_1_when_a_cell_fails(tmp_path, monkeypatch):
    monkeypatch.setattr(cli_module, "command_registry", lambda ctx: runnable_registry())
    suite = write_runnable_suite(tmp_path / "fake.toml", variant="raise")
    result = CliRunner().invoke(cli_module.cli, ["run", str(suite), "--results", str(tmp_path / "res"), "--no-progress"])
    assert result.exit_code == 1, result.output
    assert "FAILED blobs/gaussian/raise/seed0" in result.output


def test_cli_run_with_bad_device_exits_2_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(cli_module, "command_registry", lambda ctx: runnable_registry())
    suite = write_runnable_suite(tmp_path / "fake.toml")
    suite.write_text(suite.read_text().replace('name = "fake"', 'name = "fake"\ndevice = "cuda:7"'))
    result = CliRunner().invoke(cli_module.cli, ["run", str(suite), "--results", str(tmp_path / "res")])
    assert result.exit_code == 2
    assert not (tmp_path / "res").exists()


def test_cell_finished_hook_sees_every_cell_and_a_broken_reporter_loses_nothing(tmp_path):
    import benchbench
    from benchbench.plugin.manager import make_plugin_manager
    from benchbench.plugin.registry import build_registry
    from fakes import RunnablePlugin

    seen = []

    class Reporter:
        @benchbench.hookimpl
        def benchbench_cell_finished(self, cell, records):
            seen.append((cell["status"], len(records)))
            raise RuntimeError("reporter bug")

    registry = build_registry(make_plugin_manager(plugins=[("fake", RunnablePlugin()), ("reporter", Reporter())], entry_points=False))
    messages = []
    outcome = run_suite(write_runnable_suite(tmp_path / "s.toml"), results_root=tmp_path, registry=registry, progress=False, echo=messages.append)
    assert [s for s, _ in seen] == ["ok", "ok"] and all(n > 0 for _, n in seen)
    assert any("reporter" in m and "reporter bug" in m for m in messages)
    assert len(cells_of(outcome)[0]) == 2


def test_environment_and_suite_are_stored(tmp_path):
    outcome = run(tmp_path)
    env = json.loads((outcome.run_dir / "environment.json").read_text())
    assert env["device"] == "cpu" and "torch" in env["versions"]
    assert "[[models]]" in (outcome.run_dir / "suite.toml").read_text()


@pytest.mark.parametrize(("variant", "plugin", "error", "message"), [
    ("broken", "gaussian", PluginError, "model 'gaussian' from plugin 'fake'"),
    ("picky", "gaussian", CapabilityError, "picky variant models nothing"),
    ("default", "binary-only", CapabilityError, "'binary-only' models binary data, 'blobs' is continuous"),
])
def test_models_that_cannot_run_are_refused_before_anything_is_written(tmp_path, variant, plugin, error, message):
    suite = write_runnable_suite(tmp_path / "fake.toml", variant=variant)
    suite.write_text(suite.read_text().replace('family = "gaussian"', f'family = "{plugin}"'))
    with pytest.raises(error, match=message):
        run_suite(suite, results_root=tmp_path / "results", registry=runnable_registry(), progress=False, echo=lambda s: None)
    assert not (tmp_path / "results").exists()


def test_reporter_may_take_only_the_arguments_it_needs(tmp_path):
    import benchbench
    from benchbench.plugin.manager import make_plugin_manager
    from benchbench.plugin.registry import build_registry
    from fakes import RunnablePlugin

    seen = []

    class Reporter:
        @benchbench.hookimpl
        def benchbench_cell_finished(self, cell):
            seen.append(cell["cell_id"])

    registry = build_registry(make_plugin_manager(plugins=[("fake", RunnablePlugin()), ("reporter", Reporter())], entry_points=False))
    run_suite(write_runnable_suite(tmp_path / "s.toml"), results_root=tmp_path, registry=registry, progress=False, echo=lambda s: None)
    assert len(seen) == 2


def test_unmet_requirements_give_reasons():
    import torch

    from benchbench import EvalContext, Requirements
    from benchbench.engine.cell import unmet
    from fakes import Gaussian, blobs

    context = EvalContext(Gaussian(), blobs(), None, "cpu", 0, cache_dir=None)
    assert unmet(Requirements(any_capabilities=frozenset({"log_prob", "elbo"})), context) == ""
    assert "none of elbo, encode" in unmet(Requirements(any_capabilities=frozenset({"elbo", "encode"})), context)
    assert unmet(Requirements(samples=True), context) == "the cell drew no samples"
    context.samples = torch.zeros(10, 2)
    assert "at least 100 samples" in unmet(Requirements(samples=True, min_samples=100), context)
    assert "has no labels" in unmet(Requirements(labels=True), context)
    assert "needs binary data" in unmet(Requirements(data_kinds=frozenset({"binary"})), context)


def test_incompatible_checkpoint_is_named_not_a_raw_traceback(tmp_path):
    import torch

    from benchbench.engine.training import FitPlan, fit
    from benchbench.engine.suite import Budget
    from fakes import Gaussian

    path = tmp_path / "ckpt.pt"
    torch.save({"model": {"other": torch.zeros(3)}, "optimizers": [], "step": 1, "elapsed": 0.0, "done": False,
                "order": torch.arange(4), "generator": torch.Generator().get_state(), "torch_rng": torch.get_rng_state(),
                "cuda_rng": []}, path)
    with pytest.raises(CapabilityError, match="does not fit Gaussian"):
        fit(Gaussian(), torch.zeros(4, 2), None, FitPlan(Budget("steps", 2), 2, checkpoint=path, progress=False), seed=0)


def test_dynamic_binarisation_draws_a_new_binary_batch_each_step():
    import numpy as np
    import torch

    from benchbench import Dataset
    from benchbench.engine.cell import training_transform
    from fakes import Gaussian

    grey = np.full((8, 1, 4, 4), 0.3)
    data = Dataset("d", grey, grey[:2].round(), grey[:2].round(), "binary", dynamic_binarization=True)
    discrete = Gaussian()
    discrete.density = "discrete"
    transform = training_transform(discrete, data)
    generator = torch.Generator().manual_seed(0)
    a, b = (transform(torch.as_tensor(grey, dtype=torch.float32), generator) for _ in range(2))
    assert set(a.unique().tolist()) == {0.0, 1.0} and not torch.equal(a, b)
    assert abs(torch.cat([a, b]).mean().item() - 0.3) < 0.06
    continuous = training_transform(Gaussian(), data)(torch.as_tensor(grey, dtype=torch.float32), generator)
    assert ((continuous >= 0) & (continuous < 1)).all() and len(continuous.unique()) > 2  # binarised, then dequantised


# -------------------------------------------------------------------------------------------------
# The contract at the boundary: what plugins return is checked where it enters the host
# -------------------------------------------------------------------------------------------------


def run_careless(tmp_path, returns):
    """The fake suite with the careless metric first, so the other metrics come after it."""
    suite = write_runnable_suite(tmp_path / "fake.toml")
    first = '[[metrics]]\nname = "mean_nll"'
    suite.write_text(suite.read_text().replace(first, f'[[metrics]]\nname = "careless"\nparams = {{ returns = "{returns}" }}\n\n{first}'))
    return run_suite(suite, results_root=tmp_path / "results", run_id="r", registry=runnable_registry(), progress=False, echo=lambda s: None)


@pytest.mark.parametrize(("returns", "expected"), [
    ("float", "must return a list of MetricValue, got float"),
    ("value", "must return a list of MetricValue, got MetricValue"),
    ("sideways", "careless: direction must be one of ['higher', 'lower'], got str 'sideways'"),
])
def test_a_metric_breaking_the_contract_fails_alone_and_is_named(tmp_path, returns, expected):
    outcome = run_careless(tmp_path, returns)
    cells, metrics = cells_of(outcome)
    careless = [m for m in metrics if m["metric"] == "careless"]
    assert [m["status"] for m in careless] == ["failed", "failed"]
    assert "metric 'careless' from plugin 'fake' ((registered directly))" in careless[0]["error"]
    assert expected in careless[0]["error"]
    # The metrics after it still ran, and the leaderboard has a row for the broken one.
    assert {m["status"] for m in metrics if m["metric"] == "mean_nll"} == {"ok"}
    assert outcome.leaderboard.query("metric == 'careless'")["status"].tolist() == ["failed 2/2"]


def test_a_metric_value_given_as_a_tensor_is_stored_as_a_number(tmp_path):
    outcome = run_careless(tmp_path, "tensor")
    _, metrics = cells_of(outcome)
    values = [m["value"] for m in metrics if m["metric"] == "careless"]
    assert all(isinstance(v, float) for v in values) and len(values) == 2
    assert not outcome.failures


def test_losses_returned_as_tensors_are_stored_as_numbers(tmp_path):
    outcome = run(tmp_path, variant="tensor-loss")
    cells, _ = cells_of(outcome)
    assert not outcome.failures
    for cell in cells:
        assert isinstance(cell["final_losses"]["loss"], float), cell["final_losses"]
    assert "tensor(" not in (outcome.run_dir / "cells.jsonl").read_text()


@pytest.mark.parametrize(("variant", "expected"), [
    ("string-loss", "model 'gaussian' from plugin 'fake' ((registered directly)): train_step's loss 'loss' must be a real number"),
    ("bad-shape", "model 'gaussian' from plugin 'fake' ((registered directly)): sample(64) must return shape (64, 2)"),
])
def test_a_model_breaking_the_contract_fails_its_cell_with_the_plugin_named(tmp_path, variant, expected):
    outcome = run(tmp_path, variant=variant)
    cells, _ = cells_of(outcome)
    assert {c["status"] for c in cells} == {"failed"}
    assert expected in cells[0]["error"], cells[0]["error"]


def test_peak_memory_is_each_cells_own(tmp_path):
    """A cell that holds 256 MiB runs first; two identical small cells after it report their own
    peak, not the process's (which the big cell set), and agree with each other."""
    suite = write_runnable_suite(tmp_path / "fake.toml", variant="hog", steps=3)
    suite.write_text(suite.read_text() + '\n[[models]]\nfamily = "gaussian"\nvariant = "ok"\nbudget = { steps = 3 }\n')
    outcome = run_suite(suite, results_root=tmp_path / "results", run_id="r", registry=runnable_registry(),
                        progress=False, echo=lambda s: None)
    _, metrics = cells_of(outcome)
    peaks = {(m["variant"], m["seed"]): m for m in metrics if m["metric"] == "peak_memory_mb"}
    small = [peaks[("ok", 0)]["value"], peaks[("ok", 1)]["value"]]
    assert abs(small[0] - small[1]) / max(small) < 0.05, peaks
    assert max(small) < peaks[("hog", 1)]["value"] - 200, peaks
    assert peaks[("ok", 0)]["protocol"]["method"] == "peak resident set of the cell (free heap trimmed, VmHWM reset at cell start)"


def test_records_and_leaderboard_name_the_providing_plugin_and_distribution(tmp_path):
    outcome = run(tmp_path)
    cells, metrics = cells_of(outcome)
    nll = next(m for m in metrics if m["metric"] == "mean_nll")
    assert (nll["family"], nll["model_plugin"], nll["model_distribution"]) == ("gaussian", "fake", "(registered directly)")
    assert (nll["metric_spec"], nll["metric_plugin"]) == ("mean_nll", "fake")
    row = outcome.leaderboard.query("metric == 'mean_nll'").iloc[0]
    assert (row["family"], row["model_plugin"], row["metric_plugin"]) == ("gaussian", "fake", "fake")
    cost = outcome.leaderboard.query("metric == 'fit_seconds'").iloc[0]
    assert cost["metric_plugin"] == "(runner)" and cost["metric_distribution"].startswith("benchbench ")


# -------------------------------------------------------------------------------------------------
# `bench validate` checks what `bench run` checks before training
# -------------------------------------------------------------------------------------------------


def test_validate_refuses_what_run_refuses_and_static_says_what_it_skipped(tmp_path, monkeypatch):
    monkeypatch.setattr(cli_module, "command_registry", lambda ctx: runnable_registry())
    suite = write_runnable_suite(tmp_path / "fake.toml")
    suite.write_text(suite.read_text().replace('family = "gaussian"', 'family = "binary-only"').replace('variant = "ok"\n', ""))
    message = "'binary-only' models binary data, 'blobs' is continuous"
    run_result = CliRunner().invoke(cli_module.cli, ["run", str(suite), "--results", str(tmp_path / "res")])
    validate_result = CliRunner().invoke(cli_module.cli, ["validate", str(suite)])
    assert (run_result.exit_code, validate_result.exit_code) == (2, 2)
    assert message in run_result.output and message in validate_result.output
    static = CliRunner().invoke(cli_module.cli, ["validate", "--static", str(suite)])
    assert static.exit_code == 0
    assert "static checks only (keys, names, parameters); not checked: loading the data, data kinds, building the models" in static.output


def test_validate_of_a_good_suite_says_what_it_checked(tmp_path, monkeypatch):
    monkeypatch.setattr(cli_module, "command_registry", lambda ctx: runnable_registry())
    result = CliRunner().invoke(cli_module.cli, ["validate", str(write_runnable_suite(tmp_path / "fake.toml"))])
    assert result.exit_code == 0, result.output
    assert "ok (2 cells: 1 datasets x 1 models x 2 seeds; 3 metrics; every dataset loaded, every model built" in result.output
    assert not (tmp_path / "results").exists()


# -------------------------------------------------------------------------------------------------
# Seeds from the command line, deterministic algorithms, what decides floating point
# -------------------------------------------------------------------------------------------------


def test_seeds_override_the_suite_and_are_kept_on_resume(tmp_path, monkeypatch):
    monkeypatch.setattr(cli_module, "command_registry", lambda ctx: runnable_registry())
    suite = write_runnable_suite(tmp_path / "fake.toml")
    result = CliRunner().invoke(cli_module.cli, ["run", str(suite), "--results", str(tmp_path / "res"), "--run-id", "r",
                                                 "--seeds", "3,4,5", "--no-progress"])
    assert result.exit_code == 0, result.output
    run_dir = tmp_path / "res" / "fake" / "r"
    meta = json.loads((run_dir / "run.json").read_text())
    assert (meta["seeds"], meta["seeds_from"]) == ([3, 4, 5], "--seeds")
    records, _ = read_records(run_dir)
    assert sorted({r["seed"] for r in records}) == [3, 4, 5]
    # A resumed run keeps its seeds (it finds all three cells finished) and refuses new ones.
    before = (run_dir / "cells.jsonl").read_bytes()
    again = run_suite(resume=run_dir, registry=runnable_registry(), progress=False, echo=lambda s: None)
    assert (run_dir / "cells.jsonl").read_bytes() == before
    assert set(again.leaderboard.query("status == 'ok'")["n_seeds"]) == {3}
    with pytest.raises(UsageError, match="--seeds applies to a new run"):
        run_suite(resume=run_dir, seeds=[0], registry=runnable_registry(), progress=False, echo=lambda s: None)


@pytest.mark.parametrize("seeds", ["0,0", "-1", "a,b"])
def test_bad_seeds_exit_2(tmp_path, monkeypatch, seeds):
    monkeypatch.setattr(cli_module, "command_registry", lambda ctx: runnable_registry())
    suite = write_runnable_suite(tmp_path / "fake.toml")
    result = CliRunner().invoke(cli_module.cli, ["run", str(suite), "--results", str(tmp_path / "res"), "--seeds", seeds])
    assert result.exit_code == 2, result.output
    assert "--seeds" in result.output
    assert not (tmp_path / "res").exists()


def test_deterministic_suites_use_torchs_deterministic_algorithms_and_say_so(tmp_path):
    import torch

    outcome = run(tmp_path, extra="")
    assert "deterministic" not in next(m for m in cells_of(outcome)[1] if m["metric"] == "mean_nll")["protocol"]
    suite = write_runnable_suite(tmp_path / "det.toml")
    suite.write_text(suite.read_text().replace('name = "fake"', 'name = "fake"\ndeterministic = true'))
    seen = []
    monkey = pytest.MonkeyPatch()
    original = torch.Tensor.sum
    monkey.setattr(torch.Tensor, "sum", lambda self, *a, **k: (seen.append(torch.are_deterministic_algorithms_enabled()), original(self, *a, **k))[1])
    try:
        det = run_suite(suite, results_root=tmp_path / "det", run_id="r", registry=runnable_registry(), progress=False, echo=lambda s: None)
    finally:
        monkey.undo()
    assert seen and all(seen)
    assert not torch.are_deterministic_algorithms_enabled()  # restored after the run
    nll = next(m for m in cells_of(det)[1] if m["metric"] == "mean_nll")
    assert nll["protocol"]["deterministic"] is True
    environment = json.loads((det.run_dir / "environment.json").read_text())
    assert environment["deterministic_algorithms"] is True


def test_environment_records_what_decides_floating_point(tmp_path):
    import torch

    environment = json.loads((run(tmp_path).run_dir / "environment.json").read_text())
    assert environment["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    assert environment["torch_threads"] == torch.get_num_threads()
    assert environment["deterministic_algorithms"] is False
    assert environment["cpu_model"]


# -------------------------------------------------------------------------------------------------
# Conditional sampling, and how the samples were drawn in every number made from them
# -------------------------------------------------------------------------------------------------


def run_labelled(tmp_path, variant, classes=3):
    """The fake suite on blobs with ``classes`` labels (0: none), and the label-match metric."""
    suite = write_runnable_suite(tmp_path / "fake.toml", variant=variant, steps=3, extra='\n[[metrics]]\nname = "label-match"\n')
    suite.write_text(suite.read_text().replace("shift = 2.0", f"shift = 2.0, classes = {classes}"))
    return run_suite(suite, results_root=tmp_path / "results", run_id="r", registry=runnable_registry(), progress=False,
                     echo=lambda s: None)


def test_balanced_labels_keep_every_prefix_balanced_and_follow_the_seed():
    import torch

    from benchbench.engine.cell import balanced_labels

    labels = balanced_labels(100, 7, seed=3)
    counts = torch.nn.functional.one_hot(labels, 7).cumsum(0)  # (100, 7): counts of each prefix
    assert labels.dtype == torch.int64 and len(labels) == 100
    assert int((counts.max(1).values - counts.min(1).values).max()) == 1
    assert torch.equal(labels, balanced_labels(100, 7, seed=3)) and not torch.equal(labels, balanced_labels(100, 7, seed=4))


def test_a_conditional_model_on_labelled_data_gets_balanced_labels_saved_and_seen_by_metrics(tmp_path):
    import torch

    outcome = run_labelled(tmp_path, "conditional")
    cells, metrics = cells_of(outcome)
    assert {c["status"] for c in cells} == {"ok"}
    saved = sorted((outcome.run_dir / "samples").glob("*.labels.pt"))
    assert len(saved) == 2
    drawn = []
    for path in saved:
        labels = torch.load(path)
        samples = torch.load(path.with_name(path.name.replace(".labels.pt", ".pt")))
        counts = torch.bincount(labels, minlength=3)
        assert labels.dtype == torch.int64 and counts.sum() == 64 and counts.max() - counts.min() <= 1
        assert torch.equal(samples[:, 0], labels.to(torch.float32))  # the fake writes what it was given there
        drawn.append(labels)
    assert not torch.equal(*drawn)  # each seed its own order
    assert [m["value"] for m in metrics if m["metric"] == "label_match"] == [1.0, 1.0]


@pytest.mark.parametrize(("variant", "classes"), [("ok", 3), ("conditional", 0)], ids=["unconditional", "no-labels"])
def test_without_a_conditional_model_and_labels_the_model_is_sampled_without_labels(tmp_path, variant, classes):
    outcome = run_labelled(tmp_path, variant, classes)
    cells, metrics = cells_of(outcome)
    assert {c["status"] for c in cells} == {"ok"}  # the unconditional fake fails its cell if given labels
    assert not list((outcome.run_dir / "samples").glob("*.labels.pt"))
    match = [m for m in metrics if m["metric"] == "label-match"]
    assert [m["status"] for m in match] == ["n/a", "n/a"] and "drawn without labels" in match[0]["error"]


def test_how_samples_were_drawn_is_in_every_sample_number_and_no_likelihood(tmp_path):
    _, metrics = cells_of(run_labelled(tmp_path, "conditional"))
    by_name = {m["metric"]: m for m in metrics if m["seed"] == 0}
    drawn = {"sampler": "fake-guided", "guidance": 2.0, "labels": "class-balanced"}
    for name in ("mean_gap", "label_match", "samples_per_second"):
        assert by_name[name]["protocol"]["sampling"] == drawn, name
    assert "sampling" not in by_name["mean_nll"]["protocol"] and "sampling" not in by_name["fit_seconds"]["protocol"]
    _, unconditional = cells_of(run(tmp_path / "plain"))
    assert not any("sampling" in m["protocol"] for m in unconditional if m["status"] == "ok")  # nothing to say


def test_a_sampling_protocol_that_is_not_a_dict_fails_the_cell_naming_the_plugin(tmp_path):
    cells, _ = cells_of(run(tmp_path, variant="bad-sampling-protocol"))
    assert {c["status"] for c in cells} == {"failed"}
    assert ("model 'gaussian' from plugin 'fake' ((registered directly)): sampling_protocol() must return a dict "
            "with string keys, got str 'fast'") in cells[0]["error"]
