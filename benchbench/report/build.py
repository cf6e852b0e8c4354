"""``bench report``: everything one run folder holds, in one self-contained HTML file.

The run's suite, environment and protocol; the wide leaderboards; the samples beside the real data;
training curves; cost against quality; the failures. Every picture is inline (``data:`` URIs),
every style in the page, so the file can be mailed, attached to an issue or opened offline, and
renders the same anywhere: the page never requests anything. Text from the run (suite, errors,
labels) is escaped by jinja2's autoescape.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import __version__
from ..results.store import atomic_write
from ..results.wide import LEGEND, WideTable, wide_tables
from .gallery import Gallery, RealData, galleries
from .overview import Failure, Overview, failures, not_applicable, overview
from .plots import Plot, cost_plots, curve_plots
from .run_folder import RunFolder, read_run

TEMPLATE = "template.html.j2"


@dataclass
class Report:
    """What the template renders, section by section."""

    overview: Overview
    tables: list[WideTable]
    galleries: list[Gallery]
    curves: list[Plot]
    costs: list[Plot]
    failures: list[Failure]
    not_applicable: list[tuple[str, str]]  # per dataset, one line: the metrics that did not apply, to how many models
    legend: str = LEGEND
    version: str = __version__


def collect(run: RunFolder, registry: Any = None) -> Report:
    tables = wide_tables(run.records)
    return Report(overview(run), tables, galleries(run, RealData(registry)), curve_plots(run), cost_plots(tables),
                  failures(run), not_applicable(run))


def render(report: Report) -> str:
    import jinja2

    environment = jinja2.Environment(loader=jinja2.FileSystemLoader(Path(__file__).parent), autoescape=True,
                                     undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    environment.tests["na_note"] = lambda note: note.startswith("n/a:")  # a wide table's note on what did not apply
    return environment.get_template(TEMPLATE).render(report=report)


def write_report(run_dir: Path, out: Path | None = None, registry: Any = None) -> Path:
    """Write the report of ``run_dir`` to ``out`` (default ``RUN_DIR/report.html``) and return its
    path; :class:`~benchbench.errors.UsageError` when ``run_dir`` holds no ``cells.jsonl``. The real
    data is loaded through ``registry`` (default: every installed plugin), so a plugin the user
    disabled is not imported for the report either."""
    run = read_run(Path(run_dir))
    out = Path(out) if out is not None else run.path / "report.html"
    html = render(collect(run, registry))
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(out, html)
    return out
