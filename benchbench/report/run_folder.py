"""What a run folder holds, read once: records by kind, the suite as run, run.json, environment.json
and where each cell's saved samples are.

Only what ``bench run`` writes is assumed; a file it did not write (an old run has no curve records,
a fresh clone has the sample grids but not the tensors) is an absence the sections report, never
an error. A folder without ``cells.jsonl`` is not a run: :class:`UsageError` naming it.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..results.store import RECORDS, read_records
from ..results.wide import row_label


@dataclass
class Configuration:
    """One model configuration on one dataset (model, variant, parameters) and its cells, by seed."""

    label: str  # the wide tables' row label ("gan/wgan-gp"), plus the parameters that tell it from a namesake
    cells: list[dict[str, Any]]

    @property
    def first(self) -> dict[str, Any]:
        """The cell of the lowest seed: the one whose samples and curve the report shows."""
        return min(self.cells, key=lambda c: c["seed"])


@dataclass
class RunFolder:
    """The records and files of one run, as :func:`read_run` found them."""

    path: Path
    records: list[dict[str, Any]]
    suite_text: str  # '' when the folder has no suite.toml
    meta: dict[str, Any]  # run.json
    environment: dict[str, Any]  # environment.json
    suite: dict[str, Any] = field(init=False)

    def __post_init__(self) -> None:
        try:
            self.suite = tomllib.loads(self.suite_text)
        except tomllib.TOMLDecodeError:
            self.suite = {}

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [r for r in self.records if r.get("kind") == kind]

    @property
    def cells(self) -> list[dict[str, Any]]:
        return self.of_kind("cell")

    @property
    def datasets(self) -> list[str]:
        """Datasets in the order their first cell was recorded."""
        return list(dict.fromkeys(c["dataset"] for c in self.cells))

    def configurations(self, dataset: str) -> list[Configuration]:
        """The model configurations run on ``dataset``, in the order they were recorded."""
        groups: dict[tuple, list[dict[str, Any]]] = {}
        for cell in self.cells:
            if cell["dataset"] == dataset:
                groups.setdefault((cell["model"], cell["variant"], cell.get("params_hash", "")), []).append(cell)
        names = [row_label(cells[0]) for cells in groups.values()]
        return [Configuration(_label(cells[0], names.count(row_label(cells[0])) > 1), cells)
                for cells in groups.values()]

    def sample_file(self, cell: dict[str, Any], suffix: str) -> Path | None:
        """``samples/<cell id>.<suffix>`` when the run kept it (``pt``, ``png``, ``density.pt``, ``traversals.pt``, ``labels.pt``)."""
        path = self.path / "samples" / f"{cell['cell_id'].replace('/', '__')}.{suffix}"
        return path if path.is_file() else None


def _label(cell: dict[str, Any], ambiguous: bool) -> str:
    """The wide tables' row label (``model/variant``); with the model's parameters when another
    configuration of the dataset has the same label."""
    label = row_label(cell)
    if not ambiguous:
        return label
    params = ", ".join(f"{k}={v}" for k, v in sorted((cell.get("model_params") or {}).items()))
    return f"{label} ({params or cell.get('params_hash', '')})"


def read_run(run_dir: Path) -> RunFolder:
    """Read ``run_dir``; :class:`UsageError` naming it when it holds no ``cells.jsonl``."""
    run_dir = Path(run_dir)
    if not (run_dir / RECORDS).is_file():
        raise UsageError(f"{run_dir}: no {RECORDS}; expected a run folder made by `bench run`")
    records, _ = read_records(run_dir)
    return RunFolder(run_dir, records, _text(run_dir / "suite.toml"), _json(run_dir / "run.json"),
                     _json(run_dir / "environment.json"))


def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8") if path.is_file() else ""


def _json(path: Path) -> dict[str, Any]:
    """A JSON object file, or {} when it is absent or not an object (the report says what is missing)."""
    try:
        value = json.loads(_text(path) or "{}")
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def sampling_text(sampling: Any) -> str:
    """``protocol["sampling"]`` as one line: ``sampler=ddim, steps=50``."""
    if not isinstance(sampling, dict) or not sampling:
        return ""
    return ", ".join(f"{k}={_short(v)}" for k, v in sampling.items())


def _short(value: Any) -> str:
    return json.dumps(value, sort_keys=True) if isinstance(value, (dict, list)) else str(value)
