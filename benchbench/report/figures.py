"""The report's plots with axes, drawn with matplotlib's Agg backend into inline PNGs: the data panel
of a 2-D dataset, training curves and cost against quality.

Figures are :class:`matplotlib.figure.Figure` objects, never pyplot's: nothing is registered in a
global figure manager, so nothing is left open after a report, and no display is ever needed.
Small (DPI 80) because the report of a whole suite must stay a few megabytes.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .images import View, data_uri

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

DPI = 80
FONT = 7
MAIN_LOSSES = ("loss", "nll")  # the objective itself when a model reports it beside its diagnostics


def _figure(width: float, height: float) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=DPI)


def figure_uri(figure: Figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return data_uri(buffer.getvalue())


def data_panel(points: np.ndarray, view: View) -> str:
    """The test split as a scatter with axes, on the view the dataset's model panels share."""
    figure = _figure(2.4, 2.4)
    axes = figure.add_axes((0.17, 0.13, 0.78, 0.78))
    axes.scatter(points[:, 0], points[:, 1], s=1.5, lw=0, color="0.35", rasterized=True)
    axes.set(xlim=(view.x0, view.x1), ylim=(view.y0, view.y1), aspect="equal")
    axes.set_title(f"data (test split, {len(points)} points)", fontsize=FONT)
    axes.tick_params(labelsize=FONT - 1)
    return figure_uri(figure)


@dataclass(frozen=True)
class Curve:
    """One configuration's training losses (its lowest seed), as a ``curve`` record holds them."""

    label: str
    family: str
    steps: Sequence[int]
    losses: dict[str, Sequence[float]]


def main_loss(curves: Sequence[Curve]) -> str:
    """The loss a family's panel plots: ``loss`` or ``nll`` when reported, else the name most of
    its configurations report (a GAN's ``critic``), so one panel holds comparable lines."""
    names = [name for c in curves for name in c.losses]
    for preferred in MAIN_LOSSES:
        if preferred in names:
            return preferred
    return max(dict.fromkeys(names), key=names.count)


def curves_figure(curves: Sequence[Curve]) -> tuple[str, list[str]]:
    """Small multiples, one panel per model family, a line per configuration for the family's main
    loss; steps on a log axis when they span two decades or more. Also returns what was not drawn:
    a configuration whose curve lacks its family's main loss, as ``"label (no loss)"``."""
    families = list(dict.fromkeys(c.family for c in curves))
    columns = min(4, len(families))
    rows = math.ceil(len(families) / columns)
    figure = _figure(2.6 * columns, 2.1 * rows)
    figure.subplots_adjust(left=0.08, right=0.98, bottom=0.1, top=0.9, wspace=0.3, hspace=0.5)
    skipped = []
    for i, family in enumerate(families):
        skipped += _curve_panel(figure.add_subplot(rows, columns, i + 1), family, [c for c in curves if c.family == family])
    return figure_uri(figure), skipped


def _curve_panel(axes: Axes, family: str, curves: Sequence[Curve]) -> list[str]:
    loss = main_loss(curves)
    shown = [c for c in curves if loss in c.losses and len(c.steps)]
    for curve, colour in zip(shown, _colours(len(shown))):
        axes.plot(curve.steps, curve.losses[loss], lw=0.9, color=colour, label=curve.label)
    values = np.concatenate([np.asarray(c.losses[loss], dtype=float) for c in shown]) if shown else np.array([])
    _robust_ylim(axes, values)
    steps = np.concatenate([np.asarray(c.steps, dtype=float) for c in shown]) if shown else np.array([])
    if len(steps) and steps.min() > 0 and steps.max() / steps.min() >= 100:
        _log_axis(axes, "x", steps)
    axes.set_title(f"{family}: {loss}", fontsize=FONT)
    axes.locator_params(axis="y", nbins=4)  # few labels: each tick's text is most of a panel's drawing time
    axes.tick_params(labelsize=FONT - 1)
    axes.set_xlabel("step", fontsize=FONT - 1)
    if shown:
        axes.legend(fontsize=FONT - 2, frameon=False, handlelength=1.2, loc="best")
    return [f"{c.label} (no {loss})" for c in curves if c not in shown]


def _robust_ylim(axes: Axes, values: np.ndarray) -> None:
    """Limits from the 2nd to 98th percentiles: a first step's huge loss would flatten the rest."""
    finite = values[np.isfinite(values)]
    if len(finite) < 2:
        return
    low, high = np.percentile(finite, [2, 98])
    pad = (high - low) * 0.15 or abs(high) * 0.1 or 1.0
    axes.set_ylim(low - pad, high + pad)


def _log_axis(axes: Axes, which: str, values: Sequence[float]) -> None:
    """A log scale labelled in plain numbers, at 1, 2 and 5 per decade when the values span less
    than two decades (else a range within one decade would carry no label at all); no minor ticks,
    which cost most of a small figure's drawing time."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullLocator

    getattr(axes, f"set_{which}scale")("log")
    axis = getattr(axes, f"{which}axis")
    decades = math.log10(max(values) / min(values))
    axis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0) if decades < 2 else (1.0,)))
    axis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    axis.set_minor_locator(NullLocator())


def _colours(n: int) -> list:
    import matplotlib

    cmap = matplotlib.colormaps["tab10" if n <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(n)]


@dataclass(frozen=True)
class Axis:
    """One axis of the cost/quality plot: its title and a value per row label."""

    title: str
    values: dict[str, float]
    log: bool = False


def cost_quality_figure(quality: Axis, costs: Sequence[Axis], numbers: dict[str, int]) -> str:
    """One panel per cost, that cost (log axis) against ``quality``, a point per model row marked
    with its number in ``numbers`` (the key beside the plot names it: labels would overlap)."""
    figure = _figure(4.6 * len(costs), 3.5)
    figure.subplots_adjust(left=0.09, right=0.98, bottom=0.14, top=0.95, wspace=0.25)
    colours = dict(zip(numbers, _colours(len(numbers))))
    for i, cost in enumerate(costs):
        axes = figure.add_subplot(1, len(costs), i + 1)
        rows = [r for r in numbers if r in cost.values and r in quality.values and _finite(quality.values[r], cost.values[r])]
        xs, ys = [cost.values[r] for r in rows], [quality.values[r] for r in rows]
        axes.scatter(xs, ys, s=14, c=[colours[r] for r in rows], zorder=2)
        for row, x, y in zip(rows, xs, ys):
            axes.annotate(str(numbers[row]), (x, y), fontsize=FONT - 1, xytext=(2, 2), textcoords="offset points")
        if cost.log and xs and min(xs) > 0:
            _log_axis(axes, "x", xs)
        if ys and min(ys) > 0 and max(ys) / min(ys) >= 100:
            _log_axis(axes, "y", ys)
        axes.set_xlabel(cost.title, fontsize=FONT)
        axes.set_ylabel(quality.title, fontsize=FONT)
        axes.tick_params(labelsize=FONT - 1)
        axes.grid(alpha=0.3, lw=0.5)
    return figure_uri(figure)


def _finite(*values: float) -> bool:
    return all(v is not None and math.isfinite(v) for v in values)
