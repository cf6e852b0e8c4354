"""A screenshot of a report, for the README: ``python -m benchbench.report.screenshot REPORT.html OUT.png``.

Drives Debian's chromium through Playwright (never a downloaded browser), offline: the report is
self-contained, so every request the page makes is the file itself or a ``data:`` URI, and
:func:`open_report` returns the others for a caller (a test) to refuse.
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


@contextlib.contextmanager
def open_report(report: Path, width: int = 1400, height: int = 900) -> Iterator[tuple[Any, list[str]]]:
    """A headless chromium page showing ``report``, and the list (filled as the page loads) of
    every URL it requested."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            requests: list[str] = []
            page.on("request", lambda request: requests.append(request.url))
            page.goto(Path(report).resolve().as_uri(), wait_until="load")
            yield page, requests
        finally:
            browser.close()


def screenshot(report: Path, out: Path, full_page: bool = False) -> Path:
    """Save what the first screen of ``report`` shows (or the whole page) as a PNG at ``out``."""
    with open_report(report) as (page, _):
        page.screenshot(path=str(out), full_page=full_page)
    return Path(out)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--full-page", action="store_true", help="the whole page, not only the first screen")
    args = parser.parse_args(argv)
    print(screenshot(args.report, args.out, args.full_page))


if __name__ == "__main__":
    main()
