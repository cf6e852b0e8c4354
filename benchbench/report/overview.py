"""The report's first and last words: what was run and how (suite, environment, seeds, budgets,
devices, how each model drew its samples), and what did not finish (cells not ``ok``).

Read from the run folder alone, so a reader can judge the numbers without the machine that made
them; anything the folder does not hold is listed as missing rather than guessed.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from ..results.names import current_name
from ..results.wide import row_label
from .run_folder import RunFolder, sampling_text

ERROR_CHARS = 400  # a failure's message in the table; the whole of it sits in a <details> beside


@dataclass
class ModelProtocol:
    """How one model configuration was run, over every dataset it ran on."""

    model: str
    variant: str
    datasets: str
    budget: str
    steps: str
    sampling: str


@dataclass
class Overview:
    title: str
    suite_text: str
    facts: list[tuple[str, str]]
    environment: list[tuple[str, str]]
    models: list[ModelProtocol]
    missing: list[str] = field(default_factory=list)


@dataclass
class Failure:
    cell_id: str
    status: str
    steps: str
    summary: str
    error: str  # the whole message, with the traceback when the cell recorded one


def overview(run: RunFolder) -> Overview:
    suite = run.suite.get("suite", {})
    name = run.meta.get("suite") or suite.get("name") or run.path.parent.name
    run_id = run.meta.get("run_id") or run.path.name
    missing = [f"{file} (not in the run folder)" for file, value in
               (("suite.toml", run.suite_text), ("run.json", run.meta), ("environment.json", run.environment)) if not value]
    return Overview(f"{name} / {run_id}", run.suite_text, _facts(run, suite), _environment(run.environment),
                    _models(run), missing)


def _facts(run: RunFolder, suite: dict[str, Any]) -> list[tuple[str, str]]:
    cells = run.cells
    seeds = run.meta.get("seeds") or sorted({c["seed"] for c in cells})
    statuses = Counter(c["status"] for c in cells)
    facts = [
        ("suite", str(run.meta.get("suite") or suite.get("name", "?"))),
        ("description", str(suite.get("description", ""))),
        ("seeds", ", ".join(map(str, seeds)) + (f" (from {run.meta['seeds_from']})" if run.meta.get("seeds_from") else "")),
        ("samples per cell", str(suite.get("samples", "?"))),
        ("time limit per cell", f"{suite['time_limit']} s" if "time_limit" in suite else "?"),
        ("datasets", ", ".join(run.datasets)),
        ("cells", f"{len(cells)}: " + ", ".join(f"{n} {s}" for s, n in statuses.most_common())),
        ("devices", ", ".join(sorted({str(c.get("device", "?")) for c in cells}))),
        ("deterministic algorithms", str(suite.get("deterministic", False)).lower()),
    ]
    return [(k, v) for k, v in facts if v]


def _environment(environment: dict[str, Any]) -> list[tuple[str, str]]:
    """Flat key/value rows; versions one per row, argv as the command line."""
    rows = []
    for key, value in environment.items():
        if key == "versions" and isinstance(value, dict):
            rows += [(f"version of {k}", str(v)) for k, v in value.items()]
        elif key == "argv" and isinstance(value, list):
            rows.append(("command", " ".join(map(str, value))))
        else:
            rows.append((key, value if isinstance(value, str) else json.dumps(value)))
    return rows


def _models(run: RunFolder) -> list[ModelProtocol]:
    """One row per model configuration: budgets as the suite gave them, steps reached, and every
    way its samples were drawn (``protocol["sampling"]`` of its records)."""
    drawn = _sampling_by_cell(run.records)
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for cell in run.cells:
        groups.setdefault((cell["model"], cell["variant"]), []).append(cell)
    rows = []
    for (model, variant), cells in groups.items():
        ways = list(dict.fromkeys(w for c in cells for w in drawn.get(c["cell_id"], ())))
        steps = sorted({c.get("steps") for c in cells if c.get("steps") is not None})
        rows.append(ModelProtocol(
            model, variant, ", ".join(dict.fromkeys(c["dataset"] for c in cells)),
            "; ".join(dict.fromkeys(str(c.get("budget", "?")) for c in cells)),
            (f"{steps[0]}" if len(steps) == 1 else f"{steps[0]}–{steps[-1]}") if steps else "?",
            " | ".join(ways) or "not recorded"))
    return rows


def _sampling_by_cell(records: list[dict[str, Any]]) -> dict[str, list[str]]:
    drawn: dict[str, dict[str, None]] = {}
    for record in records:
        if record.get("kind") == "metric":
            text = sampling_text((record.get("protocol") or {}).get("sampling"))
            if text:
                drawn.setdefault(record["cell_id"], {}).setdefault(text)
    return {cell_id: list(ways) for cell_id, ways in drawn.items()}


def failures(run: RunFolder) -> list[Failure]:
    """Every cell that did not end ``ok``, with its reason."""
    rows = []
    for cell in run.cells:
        if cell["status"] == "ok":
            continue
        error = str(cell.get("error") or "(no reason recorded)")
        summary = error if len(error) <= ERROR_CHARS else error[:ERROR_CHARS] + " …"
        full = error + ("\n\n" + cell["traceback"] if cell.get("traceback") else "")
        step = cell.get("steps", cell.get("diverged_step"))
        steps = "" if step is None else str(step)
        rows.append(Failure(cell["cell_id"], cell["status"], steps, summary, full))
    return rows


def not_applicable(run: RunFolder) -> list[tuple[str, str]]:
    """Per dataset, one line naming each metric that did not apply and to how many models (the
    reasons, one line each, are the wide tables' notes)."""
    models: dict[str, dict[str, set[str]]] = {}
    for record in run.of_kind("metric"):
        if record.get("status") == "n/a":
            metric = current_name(str(record.get("metric")))
            models.setdefault(record["dataset"], {}).setdefault(metric, set()).add(row_label(record))
    return [(dataset, ", ".join(f"{metric} ({_models_text(len(rows))})" for metric, rows in by_metric.items()))
            for dataset, by_metric in models.items()]


def _models_text(n: int) -> str:
    return "1 model" if n == 1 else f"{n} models"
