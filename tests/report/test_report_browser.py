"""The report as a reader sees it: headless chromium (Debian's, through Playwright) opens the file,
finds every section, table and picture decoded, and the page requests nothing but the file."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from benchbench.report.screenshot import CHROMIUM, open_report

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("playwright") is None or not Path(CHROMIUM).is_file(),
    reason=f"needs Playwright for Python and a chromium at {CHROMIUM} (never downloaded by `playwright install`)")


def test_chromium_renders_every_section_and_picture_offline(tiny_report: Path, tmp_path: Path):
    with open_report(tiny_report) as (page, requests):
        sections = page.eval_on_selector_all("section", "s => s.map(e => e.id)")
        assert sections == ["run", "leaderboards", "samples", "curves", "costs", "failures"]
        assert page.locator("section#leaderboards table.wide").count() == 3
        assert page.locator("table.wide td.best b").count() > 0
        images = page.eval_on_selector_all("img", "all => all.map(i => [i.complete, i.naturalWidth, i.naturalHeight])")
        assert len(images) >= 3 + 3 * 2 + 2 * 4  # grids, plots, 2-D panels
        assert all(done and width > 0 and height > 0 for done, width, height in images), images
        assert page.locator("section#samples figure.panel img").count() == 2 + 2 * 2 * 2
        assert page.locator("section#failures table.failures tbody tr").count() == 1
        assert page.locator("script").count() == 0
        page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
    own = tiny_report.resolve().as_uri()
    assert requests and all(url == own or url.startswith("data:") for url in requests), requests
    assert (tmp_path / "report.png").stat().st_size > 10_000
