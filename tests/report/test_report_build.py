"""The report of a run, read back as HTML: every section, tables, one inline picture per model and
panel, escaping, self-containment, size; and runs that lack what newer runs hold."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest import HOSTILE, ROOT
from report_html import decoded_size, parse

from benchbench.errors import UsageError
from benchbench.report import write_report

SECTIONS = ["run", "leaderboards", "samples", "curves", "costs", "failures"]
DATASETS = ["8gaussians", "moons", "digits"]


@pytest.fixture(scope="module")
def html(tiny_report: Path) -> str:
    return tiny_report.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def page(html: str):
    return parse(html)


def section(page, name: str):
    return page.find("section", id=name)


def gallery(page, dataset: str):
    """The gallery <div> that follows the dataset's heading in the samples section."""
    samples = section(page, "samples")
    headings = [h.attrs.get("id") for h in samples.elements if h.tag == "h3"]
    assert f"samples-{dataset}" in headings
    galleries = [c for c in samples.elements if c.tag == "div" and "gallery" in c.attrs.get("class", "")]
    return galleries[headings.index(f"samples-{dataset}")]


def test_the_report_is_written_to_the_run_folder_and_holds_every_section(tiny_run, tiny_report, page):
    assert tiny_report == tiny_run / "report.html"
    assert [s.attrs["id"] for s in page.all("section")] == SECTIONS
    nav = [a.attrs["href"] for a in page.find("nav").all("a")]
    assert nav == [f"#{name}" for name in SECTIONS]
    assert "tiny / r" in page.find("h1").text


def test_run_section_shows_the_suite_environment_and_protocol(tiny_run, page):
    run = section(page, "run")
    suite = run.find("details").find("pre").text
    assert suite == (tiny_run / "suite.toml").read_text(encoding="utf-8")
    facts = {row.all("th")[0].text: row.all("td")[0].text for row in run.find("table", "facts").all("tr")}
    assert facts["seeds"].startswith("0") and facts["samples per cell"] == "256" and facts["devices"] == "cpu"
    assert facts["cells"] == "7: 6 ok, 1 failed"
    protocol = [[td.text for td in tr.all("td")] for tr in run.find("table", "protocol").find("tbody").all("tr")]
    assert ["flow", "realnvp", "8gaussians, moons, digits", "30 steps", "30"] == protocol[1][:5]
    environment = json.loads((tiny_run / "environment.json").read_text())
    shown = run.all("details")[1].text
    assert environment["python"] in shown and f"version of torch{environment['versions']['torch']}" in shown


def test_a_wide_leaderboard_per_dataset_with_the_best_marked(page):
    boards = section(page, "leaderboards")
    assert [h.text for h in boards.all("h3")] == DATASETS
    tables = boards.all("table", "wide")
    assert len(tables) == len(DATASETS)
    for table in tables:
        headers = [th.text for th in table.find("thead").all("th")]
        assert headers[0] == "model" and any(h.startswith("nll ↓") for h in headers)
        assert any("samples_per_second ↑" in h for h in headers)
        rows = [tr.all("th")[0].text for tr in table.find("tbody").all("tr")]
        assert {"independent", "flow/realnvp"} <= set(rows)
        best = table.all("td", "best")
        assert best and all(td.all("b") for td in best)
    assert "nats/example" in tables[0].text  # units under the headers
    assert "mean over seeds" in boards.find("p", "legend").text


def test_one_picture_per_model_grid_and_per_2d_panel_all_inline_and_decodable(page):
    digits = gallery(page, "digits")
    reference = digits.find("figure", "reference")
    assert [decoded_size(img.attrs["src"]) for img in reference.all("img")] == [(73, 73)]  # 8 x 8 grid of 8 x 8 images
    panels = digits.all("figure", "panel")
    assert [p.find("figcaption").children[0] for p in panels] == ["independent", "flow/realnvp"]
    assert all(len(p.all("img")) == 1 and decoded_size(p.find("img").attrs["src"]) == (73, 73) for p in panels)
    for dataset in ("8gaussians", "moons"):
        plane = gallery(page, dataset)
        assert len(plane.find("figure", "reference").all("img")) == 2  # the data, the true density
        panels = plane.all("figure", "panel")
        assert len(panels) == 2 and all(len(p.all("img")) == 2 for p in panels)  # samples, learned density
        assert all(min(decoded_size(img.attrs["src"])) > 10 for p in panels for img in p.all("img"))
    assert "closed form" in gallery(page, "8gaussians").find("figure", "reference").text
    assert "histogram of the test split" in gallery(page, "moons").find("figure", "reference").text


def test_a_model_without_samples_is_named_not_drawn(page):
    samples = section(page, "samples")
    assert any("Samples not kept" in p.text and "gan/wgan-gp" in p.text for p in samples.all("p", "missing"))


def test_curves_and_cost_plots_one_per_dataset(page):
    for name in ("curves", "costs"):
        plots = section(page, name).all("img", "plot")
        assert len(plots) == len(DATASETS)
        assert all(decoded_size(img.attrs["src"])[0] > 100 for img in plots)
    key = section(page, "costs").find("p", "key").text
    assert "1 independent" in key and "2 flow/realnvp" in key


def test_failures_are_listed_with_their_reason_escaped(html, page):
    failures = section(page, "failures")
    row = failures.find("table", "failures").find("tbody").find("tr")
    assert [td.text for td in row.all("td")][:2] == ["8gaussians/gan/wgan-gp/seed0/0123456789", "failed"]
    assert HOSTILE in row.text  # shown as text ...
    assert "<script" not in html and not page.all("script")  # ... never as markup
    assert "&lt;script&gt;" in html
    assert "fid[classifier] (2 models)" in failures.find("ul", "notes").text  # the n/a summary


def test_self_contained_no_link_leaves_the_page(page):
    assert not page.all("link") and not page.all("script")
    for element in page.iter():
        for attr in ("src", "href"):
            value = element.attrs.get(attr)
            if value is not None:
                assert value.startswith(("data:image/png;base64,", "#")), (element.tag, value[:80])
    assert not re.search(r"url\(", section(page, "run").text)


def test_an_old_run_without_curves_headlines_or_sample_tensors_builds(old_run):
    out = write_report(old_run, old_run / "elsewhere" / "old.html")
    assert out == old_run / "elsewhere" / "old.html"
    page = parse(out.read_text(encoding="utf-8"))
    assert "no training curves in this run" in section(page, "curves").text
    digits = gallery(page, "digits")
    assert len(digits.all("figure", "panel")) == 2  # the committed PNG grids
    assert len(digits.find("figure", "reference").all("img")) == 1
    assert any("Samples not kept" in p.text for p in section(page, "samples").all("p", "missing"))
    assert len(section(page, "leaderboards").all("table", "wide")) == 2
    assert "Every cell finished" in section(page, "failures").text


def test_a_dataset_that_cannot_be_loaded_costs_only_its_real_data_panel(tiny_run, tmp_path):
    import shutil

    run = Path(shutil.copytree(tiny_run, tmp_path / "run"))
    lines = (run / "cells.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    for record in records:
        if record.get("dataset") == "digits":
            record["dataset_params"] = {"no_such_parameter": 1}
    (run / "cells.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    page = parse(write_report(run).read_text(encoding="utf-8"))
    samples = section(page, "samples")
    assert any("'digits' could not be loaded here" in p.text for p in samples.all("p", "missing"))
    digits = gallery(page, "digits")
    assert not digits.all("figure", "reference") and len(digits.all("figure", "panel")) == 2


def test_a_folder_that_is_not_a_run_is_a_usage_error_naming_it(tmp_path):
    with pytest.raises(UsageError, match=re.escape(str(tmp_path)) + ".*no cells.jsonl"):
        write_report(tmp_path)


def test_the_quick_reference_report_stays_under_5_mb(tmp_path):
    """The committed quick reference (every family, PNG grids, no tensors); its build time is a
    benchmark (benchmarks/report_build.py), not a test."""
    out = write_report(ROOT / "results" / "quick" / "reference", tmp_path / "quick.html")
    assert out.stat().st_size < 5_000_000, out.stat().st_size
