"""Values a metric spec declares: an n/a is recorded under the names a value would have, values
carry their wide-table layout, and an undeclared value is that value's failure."""

from __future__ import annotations

import pytest

from benchbench import ValueSpec
from benchbench.engine.runner import run_suite
from benchbench.results.store import read_records
from fakes import runnable_registry, write_runnable_suite


def run_with(tmp_path, metrics: str) -> list[dict]:
    path = write_runnable_suite(tmp_path / "fake.toml", extra=metrics)
    outcome = run_suite(path, results_root=tmp_path / "results", run_id="r", registry=runnable_registry(), progress=False,
                        echo=lambda s: None)
    return [r for r in read_records(outcome.run_dir)[0] if r["kind"] == "metric" and r["seed"] == 0]


def test_na_is_recorded_under_the_declared_names_with_their_layout(tmp_path):
    records = run_with(tmp_path, '\n[[metrics]]\nname = "declared_encode"\n')
    na = [r for r in records if r["metric_spec"] == "declared_encode"]
    # gap_rank_d{d}: d is no parameter, so no n/a can be named for it
    assert [(r["metric"], r["status"], r["direction"], r["unit"], r["headline"]) for r in na] == [
        ("gap[latent]", "n/a", "lower", "units", True)]
    assert "does not provide encode" in na[0]["error"]


def test_values_carry_their_column_and_headline(tmp_path):
    records = run_with(tmp_path, '\n[[metrics]]\nname = "declared"\nparams = { space = "features" }\n')
    by_name = {r["metric"]: r for r in records if r["metric_spec"] == "declared"}
    assert by_name["gap[features]"]["status"] == "ok" and by_name["gap[features]"]["headline"] is True
    assert by_name["gap_rank_d3"]["column"] == "gap_rank_d3" and by_name["gap_rank_d3"]["headline"] is False
    costs = {r["metric"]: r for r in records if r["metric_spec"] == "(runner)"}
    assert costs["fit_seconds"]["headline"] and not costs["peak_memory_mb"]["headline"]


def test_an_undeclared_value_is_that_values_failure(tmp_path):
    records = run_with(tmp_path, '\n[[metrics]]\nname = "declared"\nparams = { name = "gap_in_disguise" }\n')
    (bad,) = [r for r in records if r["metric"] == "gap_in_disguise"]
    assert bad["status"] == "failed" and bad["value"] is None
    assert "returned 'gap_in_disguise', which its spec does not declare" in bad["error"]
    assert "'gap[{space}]'" in bad["error"]


@pytest.mark.parametrize(("template", "params", "name", "matches", "concrete"), [
    ("fid[{extractor}]", {"extractor": "classifier"}, "fid[classifier]", True, "fid[classifier]"),
    ("fid[{extractor}]", {"extractor": "classifier"}, "fid[inception]", False, "fid[classifier]"),
    ("nll_bound_k{K}", {"k": 100}, "nll_bound_k1", True, None),
    ("nll_bound_k{K}", {"k": 100}, "nll", False, None),
    ("a.b[{x}]", {"x": "1"}, "aXb[1]", False, "a.b[1]"),  # template text is literal, not a pattern
])
def test_templates_fill_from_parameters_and_leave_the_rest_free(template, params, name, matches, concrete):
    value = ValueSpec(template, "lower", "u")
    assert value.matches(name, params) is matches
    assert value.concrete(params) == concrete


def test_a_column_groups_an_exact_value_and_its_bound():
    assert ValueSpec("nll_bound_k{K}", "lower", "nats", column="nll").column_name("nll_bound_k5", {"k": 5}) == "nll"
    assert ValueSpec("fid[{extractor}]", "lower", "u").column_name("fid[inception]", {"extractor": "inception"}) == "fid[inception]"
