"""Wide leaderboards: a row per model, a column per headline metric, intervals, best marks,
exactness marks, costs last, n/a summarised, model-independent values once."""

from __future__ import annotations

import math

import pytest
from scipy import stats

from benchbench.results.wide import LEGEND, render_text, wide_tables, write_wide


def metric(model, metric, value, seed=0, *, variant="v", dataset="toy", direction="lower", unit="u", exactness="exact",
           status="ok", error=None, headline=True, column=None, **extra):
    return {"kind": "metric", "dataset": dataset, "model": model, "variant": variant, "seed": seed, "metric": metric,
            "value": value, "status": status, "error": error, "direction": direction, "unit": unit,
            "exactness": exactness, "headline": headline, "column": column or metric, **extra}


def cell(model, seed=0, variant="v", dataset="toy", status="ok", error=None):
    return {"kind": "cell", "dataset": dataset, "model": model, "variant": variant, "seed": seed, "status": status,
            "error": error}


A_VALUES, B_VALUES = [1.0, 1.2, 1.4], [2.0, 2.5, 2.7]


@pytest.fixture
def records():
    rows = []
    for seed, (a, b) in enumerate(zip(A_VALUES, B_VALUES)):
        rows += [cell("a", seed), cell("b", seed)]
        rows += [metric("a", "fit_seconds", 5.0 + seed, seed, exactness="measured", unit="s"),
                 metric("a", "nll", a, seed, unit="nats"), metric("b", "nll_bound_k1", b, seed, unit="nats",
                                                                  exactness="bound", column="nll"),
                 metric("a", "fid[classifier]", 3.0, seed, exactness="estimate"),
                 metric("b", "fid[classifier]", 4.0, seed, exactness="estimate"),
                 metric("a", "recall", 0.5, seed, direction="higher", headline=False),
                 metric("b", "recall", 0.7, seed, direction="higher", headline=False),
                 metric("a", "nmi[random_projection_d2]", 0.25, seed, reference=True, headline=True),
                 metric("b", "nmi[random_projection_d2]", 0.25, seed, reference=True, headline=True),
                 metric("a", "elbo", None, seed, status="n/a", error="model A does not provide elbo"),
                 metric("b", "elbo", None, seed, status="n/a", error="model A does not provide elbo"),
                 metric("b", "mmd2", None, seed, status="n/a", error="needs fewer dimensions")]
    return rows


def test_cells_hold_the_mean_and_the_t_interval_and_the_best_is_marked(records):
    (table,) = wide_tables(records)
    assert table.rows == ["a/v", "b/v"]
    half = stats.t.ppf(0.975, 2) * stats.tstd(A_VALUES) / math.sqrt(3)
    nll = next(c for c in table.columns if c.name == "nll")
    assert nll.values["a/v"] == pytest.approx(1.2) and nll.ci95["a/v"] == pytest.approx(half, rel=1e-9)
    assert table.text[("a/v", "nll")] == f"1.2 ± {half:.2g}"
    assert ("a/v", "nll") in table.best and ("b/v", "nll") not in table.best
    assert table.frame().iloc[0, 1].endswith(" *")


def test_a_bound_is_marked_in_its_cell_and_a_shared_estimate_in_the_header(records):
    (table,) = wide_tables(records)
    assert table.text[("b/v", "nll")].startswith("≤ ")
    assert not table.text[("a/v", "nll")].startswith(("≤", "~"))
    fid = next(c for c in table.columns if c.name == "fid[classifier]")
    assert fid.header == "fid[classifier] ↓ ~" and not table.text[("a/v", "fid[classifier]")].startswith("~")
    assert "≤" in LEGEND and "~" in LEGEND


def test_quality_comes_first_then_costs_and_only_headline_columns(records):
    (table,) = wide_tables(records)
    assert [c.name for c in table.columns] == ["nll", "fid[classifier]", "fit_seconds"]


def test_metrics_choose_columns_by_name_or_quantity(records):
    (table,) = wide_tables(records, metrics=["recall", "fid"])
    assert [c.name for c in table.columns] == ["fid[classifier]", "recall"]
    assert ("b/v", "recall") in table.best  # higher is better


def test_not_applicable_is_one_line_per_reason_and_references_appear_once(records):
    (table,) = wide_tables(records)
    assert "n/a: elbo for every model (2): does not provide elbo" in table.notes
    assert "n/a: mmd2 for b/v: needs fewer dimensions" in table.notes
    assert "nmi[random_projection_d2] = 0.25 for every model (it does not depend on the model)" in table.notes
    assert all("random_projection" not in c.name for c in table.columns)


def test_failed_cells_are_noted_with_their_first_line(records):
    records.append(cell("c", 0, status="failed", error="RuntimeError: boom\ntraceback..."))
    (table,) = wide_tables(records)
    assert "c/v seed 0: failed: RuntimeError: boom" in table.notes and "c/v" in table.rows


def test_old_names_and_records_without_a_layout_still_read():
    old = [cell("a"), {k: v for k, v in metric("a", "fid_classifier", 2.0).items() if k not in ("headline", "column")},
           {k: v for k, v in metric("a", "is_classifier", 5.0).items() if k not in ("headline", "column")}]
    (table,) = wide_tables(old)
    assert [c.name for c in table.columns] == ["fid[classifier]"]  # a headline quantity; the score is not


def test_files_per_dataset_and_a_text_rendering(records, tmp_path):
    records += [cell("a", 0, dataset="other"), metric("a", "nll", 9.0, dataset="other")]
    tables = wide_tables(records)
    write_wide(tmp_path, tables)
    assert sorted(p.name for p in (tmp_path / "wide").iterdir()) == ["other.csv", "other.md", "toy.csv", "toy.md"]
    assert "| model | nll ↓ (nats) |" in (tmp_path / "wide" / "toy.md").read_text()
    assert "### other" in (tmp_path / "leaderboard.md").read_text()
    numbers = (tmp_path / "wide" / "toy.csv").read_text().splitlines()
    assert numbers[0].startswith("model,nll,nll ci95,")
    text = render_text(tables)
    assert text.startswith("toy\n") and "other" in text and text.endswith(LEGEND)
