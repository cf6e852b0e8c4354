"""Wide leaderboards: per dataset, a row per model and a column per headline metric, read at a glance.

The tidy leaderboard (one row per dataset × model × metric) is the contract that ``bench compare``
and scripts read; this is what a person reads. Per dataset:

* a row per model (``model/variant``), in the suite's order;
* the metrics' headline values as columns (a metric spec declares which: :class:`ValueSpec`), or
  those ``--metrics`` names; quality first, then costs (fit time, samples/s); each header has the
  direction's arrow and the unit;
* each cell the mean over seeds and, with several seeds, ± the half-width of its 95% interval
  (Student t, as the tidy leaderboard); the best of each column marked;
* whether a number is exact, a bound or an estimate: ``≤`` marks a bound, ``~`` an estimate, in the
  header when the whole column shares it, else in each cell;
* what did not apply summarised in one line per reason, not one row per model and metric; values
  that do not depend on the model (a clustering reference) once per dataset, not once per row.

Old runs (records without the declared layout, names since changed) are read through
:func:`.names.current_name` and a fallback list of headline quantities.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .leaderboard import t_quantile
from .names import current_name
from .store import atomic_write

ARROWS = {"lower": "↓", "higher": "↑"}
MARKS = {"bound": "≤", "estimate": "~"}
LEGEND = ("↓ lower is better, ↑ higher is better; mean over seeds ± half-width of the 95% interval (Student t) "
          "when there are several; * best in its column; ≤ an upper bound (e.g. an ELBO or a dequantised density), "
          "~ an estimate (Monte Carlo, sample-based or an estimated normaliser), unmarked: exact or measured")
# The layout of records made before metric specs declared theirs: headline quantities, the bounds
# that share the exact value's column, and the values that do not depend on the model.
FALLBACK_HEADLINE = frozenset({"nll", "bpd", "fid", "kid", "precision", "recall", "mmd2", "modes_covered",
                               "high_quality_fraction", "conditional_accuracy", "nmi", "fit_seconds", "samples_per_second"})
_FALLBACK_BOUND = re.compile(r"(nll|bpd)_bound_k\d+")
_FALLBACK_REFERENCE = "[random_projection"
_MODEL_CLASS = re.compile(r"^model \w+ ")  # "model GAN does not provide elbo": the same reason for every class


@dataclass(frozen=True)
class Column:
    """One column of a wide table: a quantity with its direction, unit and values per row."""

    name: str
    header: str
    direction: str
    unit: str
    cost: bool
    values: dict[str, float]
    ci95: dict[str, float]
    marks: dict[str, str]  # row -> "≤" / "~" / "" (per value); header_mark when the column shares one
    header_mark: str = ""

    def best_rows(self) -> set[str]:
        if not self.values:
            return set()
        pick = min if self.direction == "lower" else max
        target = pick(self.values.values())
        return {row for row, value in self.values.items() if math.isclose(value, target, rel_tol=1e-12, abs_tol=0.0)}


@dataclass
class WideTable:
    """One dataset's wide leaderboard; see the module docstring."""

    dataset: str
    rows: list[str]
    columns: list[Column]
    text: dict[tuple[str, str], str]
    best: set[tuple[str, str]]
    notes: list[str] = field(default_factory=list)
    legend: str = LEGEND

    def frame(self) -> pd.DataFrame:
        """Display strings: a row per model, a column per :attr:`Column.header` (unit included)."""
        data = {"model": self.rows}
        for column in self.columns:
            data[_titled(column)] = [self._shown(row, column.name) for row in self.rows]
        return pd.DataFrame(data)

    def numbers(self) -> pd.DataFrame:
        """Numbers for ``wide.csv``: per column its mean and 95% half-width, a row per model."""
        data: dict[str, list[Any]] = {"model": self.rows}
        for column in self.columns:
            data[column.name] = [column.values.get(row, np.nan) for row in self.rows]
            data[f"{column.name} ci95"] = [column.ci95.get(row, np.nan) for row in self.rows]
        return pd.DataFrame(data)

    def _shown(self, row: str, column: str) -> str:
        text = self.text.get((row, column), "")
        return f"{text} *" if (row, column) in self.best else text

    def to_text(self) -> str:
        """A fixed-width table for the terminal, the notes below it."""
        frame = self.frame()
        headers = ["model"] + [c.header for c in self.columns]
        units = [""] + [c.unit for c in self.columns]
        cells = [list(map(str, frame.iloc[i])) for i in range(len(frame))]
        widths = [max(len(h), len(u), *(len(r[j]) for r in cells)) for j, (h, u) in enumerate(zip(headers, units))]
        lines = [f"{self.dataset}"]
        for line in (headers, units):
            lines.append("  ".join(text.ljust(w) if j == 0 else text.rjust(w) for j, (text, w) in enumerate(zip(line, widths))))
        lines.append("  ".join("-" * w for w in widths))
        lines += ["  ".join(text.ljust(w) if j == 0 else text.rjust(w) for j, (text, w) in enumerate(zip(row, widths)))
                  for row in cells]
        return "\n".join(lines + [f"  {note}" for note in self.notes])

    def to_markdown(self) -> str:
        frame = self.frame()
        lines = [f"### {self.dataset}", "", "| " + " | ".join(frame.columns) + " |", "|" + "---|" * len(frame.columns)]
        for i in range(len(frame)):
            lines.append("| " + " | ".join(_markdown_cell(v) for v in frame.iloc[i]) + " |")
        lines += [""] + [f"- {note}" for note in self.notes]
        return "\n".join(lines) + "\n"


def _titled(column: Column) -> str:
    return f"{column.header} ({column.unit})" if column.unit else column.header


def _markdown_cell(text: str) -> str:
    text = text.replace("|", "\\|")
    return f"**{text[:-2]}**" if text.endswith(" *") else text


def wide_tables(records: list[dict[str, Any]], metrics: Sequence[str] | None = None) -> list[WideTable]:
    """One wide table per dataset, in the order datasets first appear; ``metrics`` chooses columns
    (a column's name, or its quantity before ``[``) instead of the headline ones."""
    frame = _metric_frame(records)
    cells = [r for r in records if r.get("kind") == "cell"]
    datasets = list(dict.fromkeys([r["dataset"] for r in cells] + list(frame["dataset"].unique() if len(frame) else [])))
    return [_table(name, frame[frame["dataset"] == name] if len(frame) else frame,
                   [c for c in cells if c["dataset"] == name], metrics) for name in datasets]


def _metric_frame(records: list[dict[str, Any]]) -> pd.DataFrame:
    rows = []
    for r in records:
        if r.get("kind") != "metric":
            continue
        metric = current_name(str(r.get("metric")))
        reference = r.get("reference", "headline" not in r and _FALLBACK_REFERENCE in metric)
        bound = _FALLBACK_BOUND.fullmatch(metric)
        rows.append({"dataset": r.get("dataset"), "row": row_label(r), "metric": metric,
                     "column": r.get("column") or (bound.group(1) if bound else metric),
                     "headline": r.get("headline", _quantity(metric) in FALLBACK_HEADLINE and not reference),
                     "reference": bool(reference), "value": r.get("value"), "status": r.get("status"),
                     "error": r.get("error"), "direction": r.get("direction"), "unit": r.get("unit") or "",
                     "exactness": r.get("exactness") or "", "seed": r.get("seed")})
    return pd.DataFrame(rows, columns=["dataset", "row", "metric", "column", "headline", "reference", "value", "status",
                                       "error", "direction", "unit", "exactness", "seed"])


def row_label(record: dict[str, Any]) -> str:
    """``model/variant``, or the model alone for its default variant."""
    model, variant = record.get("model"), record.get("variant")
    return str(model) if variant in (None, "default") else f"{model}/{variant}"


def _quantity(name: str) -> str:
    return name.split("[", 1)[0]


def _table(dataset: str, frame: pd.DataFrame, cells: list[dict[str, Any]], metrics: Sequence[str] | None) -> WideTable:
    rows = list(dict.fromkeys([row_label(c) for c in cells] + list(frame["row"].unique())))
    ok = frame[(frame["status"] == "ok") & frame["value"].notna()]
    chosen = _chosen_columns(ok, metrics)
    columns, notes = [], []
    for name in chosen:
        part = ok[ok["column"] == name]
        if part["reference"].all() and part["row"].nunique() > 1 and part["value"].astype(float).nunique() == 1:
            notes.append(f"{name} = {_number(float(part['value'].iloc[0]))} for every model (it does not depend on the model)")
            continue
        columns.append(_column(name, part))
    columns.sort(key=lambda c: c.cost)  # quality first, costs after; stable within each
    text = {(row, c.name): _value_text(c, row) for c in columns for row in rows if row in c.values}
    best = {(row, c.name) for c in columns if len(c.values) > 1 for row in c.best_rows()}
    notes += _failure_notes(frame, cells) + not_applicable_notes(frame)
    return WideTable(dataset, rows, columns, text, best, notes)


def _chosen_columns(ok: pd.DataFrame, metrics: Sequence[str] | None) -> list[str]:
    names = list(dict.fromkeys(ok["column"]))
    if metrics is None:
        headline = set(ok.loc[ok["headline"].astype(bool), "column"])
        return [n for n in names if n in headline]
    wanted = set(metrics)
    return [n for n in names if n in wanted or _quantity(n) in wanted
            or bool(set(ok.loc[ok["column"] == n, "metric"]) & wanted)]


def _column(name: str, part: pd.DataFrame) -> Column:
    first = part.iloc[0]
    values, ci95, marks = {}, {}, {}
    for row, group in part.groupby("row", sort=False):
        x = group["value"].astype(float).to_numpy()
        values[row] = float(x.mean())
        if len(x) > 1:
            ci95[row] = t_quantile(0.975, len(x) - 1) * float(x.std(ddof=1)) / math.sqrt(len(x))
        kinds = set(group["exactness"])
        marks[row] = MARKS.get("bound" if "bound" in kinds else "estimate" if "estimate" in kinds else "", "")
    shared = set(marks.values())
    header_mark = shared.pop() if len(shared) == 1 else ""
    if header_mark:
        marks = {row: "" for row in marks}
    cost = bool((part["exactness"] == "measured").all())
    header = " ".join(p for p in (name, ARROWS.get(first["direction"], ""), header_mark) if p)
    return Column(name, header, first["direction"], first["unit"], cost, values, ci95, marks, header_mark)


def _value_text(column: Column, row: str) -> str:
    mark = column.marks.get(row, "")
    text = _number(column.values[row])
    if row in column.ci95:
        text += f" ± {_number(column.ci95[row], 2)}"
    return f"{mark} {text}" if mark else text


def _number(value: float, digits: int = 4) -> str:
    return f"{value:.{digits}g}"


def _failure_notes(frame: pd.DataFrame, cells: list[dict[str, Any]]) -> list[str]:
    notes = [f"{row_label(c)} seed {c.get('seed')}: {c.get('status')}: {_first_line(c.get('error'))}"
             for c in cells if c.get("status") != "ok"]
    failed = frame[frame["status"] == "failed"]
    notes += [f"{r.row} seed {r.seed}: {r.metric} failed: {_first_line(r.error)}" for r in failed.itertuples()]
    return notes


def not_applicable_notes(frame: pd.DataFrame) -> list[str]:
    """One line per reason (the model's class name left out, so one capability missing from many
    families is one line): which metrics did not apply to which models."""
    na = frame[frame["status"] == "n/a"]
    every = set(frame["row"])
    notes = []
    for reason, group in na.assign(reason=na["error"].fillna("").map(lambda e: _MODEL_CLASS.sub("", str(e)))).groupby(
            "reason", sort=False):
        metrics = ", ".join(dict.fromkeys(group["metric"]))
        rows = list(dict.fromkeys(group["row"]))
        who = f"every model ({len(rows)})" if set(rows) == every and len(rows) > 1 else ", ".join(rows)
        notes.append(f"n/a: {metrics} for {who}: {reason}")
    return notes


def _first_line(text: Any) -> str:
    return str(text or "").strip().splitlines()[0] if text else ""


def render_text(tables: list[WideTable]) -> str:
    """Every dataset's table for the terminal, and the legend once."""
    return "\n\n".join([t.to_text() for t in tables] + [LEGEND])


def write_wide(run_dir: Path, tables: list[WideTable]) -> None:
    """``wide/<dataset>.csv`` and ``.md`` per dataset, and ``leaderboard.md`` with every dataset."""
    folder = Path(run_dir) / "wide"
    folder.mkdir(exist_ok=True)
    for table in tables:
        atomic_write(folder / f"{table.dataset}.csv", table.numbers().to_csv(index=False))
        atomic_write(folder / f"{table.dataset}.md", table.to_markdown() + f"\n{LEGEND}\n")
    atomic_write(Path(run_dir) / "leaderboard.md", "\n".join(t.to_markdown() for t in tables) + f"\n{LEGEND}\n")
