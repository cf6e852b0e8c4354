"""Per dataset, the two plots of a run's trade-offs: how each model's training went (its ``curve``
records) and what its quality cost (the wide table's headline quality against fit time and
sampling speed).

A dataset without what a plot needs (a run made before curves were recorded, a table without a
quality or a cost column) gets the sentence saying so in place of the plot.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from ..results.wide import Column, WideTable
from .figures import Axis, Curve, cost_quality_figure, curves_figure
from .run_folder import RunFolder

COSTS = (("fit_seconds", "fit time (s, log)"), ("samples_per_second", "samples per second (log)"))


@dataclass
class Plot:
    dataset: str
    uri: str  # '' when there is nothing to plot; then ``note`` says why
    note: str
    key: list[tuple[int, str]] = field(default_factory=list)  # the numbers marking points, and their models


def curve_plots(run: RunFolder) -> list[Plot]:
    """One small-multiples plot per dataset: a panel per model family, a line per configuration."""
    by_cell = {r["cell_id"]: r for r in run.of_kind("curve")}
    plots = []
    for dataset in run.datasets:
        configurations = run.configurations(dataset)
        curves = [_curve(c.label, by_cell[c.first["cell_id"]]) for c in configurations if c.first["cell_id"] in by_cell]
        missing = [c.label for c in configurations if c.first["cell_id"] not in by_cell]
        if not curves:
            plots.append(Plot(dataset, "", "no training curves in this run (runs before curves were recorded have none)"))
            continue
        uri, skipped = curves_figure(curves)
        note = "lowest seed of each configuration; losses are means over windows of steps"
        note += f"; no curve for {', '.join(missing)}" if missing else ""
        note += f"; not drawn, without their family's main loss: {', '.join(skipped)}" if skipped else ""
        plots.append(Plot(dataset, uri, note))
    return plots


def _curve(label: str, record: dict[str, Any]) -> Curve:
    losses = {name: [math.nan if v is None else float(v) for v in values] for name, values in (record.get("losses") or {}).items()}
    return Curve(label, str(record.get("family") or record.get("model")), list(record.get("steps") or []), losses)


def cost_plots(tables: list[WideTable]) -> list[Plot]:
    return [_cost_plot(table) for table in tables]


def _cost_plot(table: WideTable) -> Plot:
    quality = headline_quality(table)
    costs = [Axis(title, column.values, log=True) for name, title in COSTS
             for column in table.columns if column.name == name and column.values]
    if quality is None or not costs:
        what = "a quality column" if quality is None else "a fit-time or samples-per-second column"
        return Plot(table.dataset, "", f"no cost/quality plot: the table has no {what}")
    axis = Axis(f"{quality.header} ({quality.unit})" if quality.unit else quality.header, quality.values)
    plotted = [row for row in table.rows if row in quality.values and any(row in c.values for c in costs)]
    numbers = {row: i for i, row in enumerate(plotted, start=1)}
    return Plot(table.dataset, cost_quality_figure(axis, costs, numbers),
                f"quality: {quality.name}, the headline quality column with values for the most models; "
                "a point per model, numbered as below", list(zip(numbers.values(), numbers)))


def headline_quality(table: WideTable) -> Column | None:
    """The quality column with values for the most rows (the first of those): quality columns come
    first in a wide table, most important first, and a plot needs as many models as possible."""
    quality = [c for c in table.columns if not c.cost and c.values]
    return max(quality, key=lambda c: len(c.values)) if quality else None
