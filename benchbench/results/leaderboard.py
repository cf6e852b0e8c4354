"""Records → tidy table → leaderboard, with pandas. Always derivable from ``cells.jsonl``.

One leaderboard row per dataset × model × variant × metric: mean and spread over seeds, the 95%
interval's half-width (Student t), the direction, the rank within (dataset, metric) and a status
that counts how each seed ended.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd

from .store import atomic_write, read_records

COLUMNS = ["dataset", "model", "variant", "metric", "mean", "std", "ci95", "n_seeds", "direction", "rank", "status"]
# Provenance: the model spec (``family``) and, for model and metric, the plugin and distribution
# that provide them, so a row can be traced to the code that produced it.
EXTRA = ["unit", "exactness", "family", "model_plugin", "model_distribution", "metric_plugin", "metric_distribution",
         "model_version", "metric_version", "protocol"]
KEY = ["dataset", "model", "variant"]
ROW = KEY + ["metric"]


def tidy(records: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per metric record (any status), cell summaries dropped."""
    rows = [r for r in records if r.get("kind") == "metric"]
    frame = pd.DataFrame(rows)
    if frame.empty:
        return pd.DataFrame(columns=ROW + ["seed", "value", "direction", "status"])
    return frame


def cell_statuses(records: list[dict[str, Any]]) -> pd.DataFrame:
    cells = [r for r in records if r.get("kind") == "cell"]
    return pd.DataFrame(cells, columns=KEY + ["seed", "status"]) if cells else pd.DataFrame(columns=KEY + ["seed", "status"])


def leaderboard(records: list[dict[str, Any]]) -> pd.DataFrame:
    """The leaderboard with exactly :data:`COLUMNS` first, then :data:`EXTRA` where known."""
    metrics, cells = tidy(records), cell_statuses(records)
    rows = [_row(group, cells) for _, group in metrics.groupby(ROW, sort=False)] if not metrics.empty else []
    rows += _rows_for_cells_without_metrics(metrics, cells)
    board = pd.DataFrame(rows, columns=COLUMNS + EXTRA)
    board["rank"] = _ranks(board)
    board = board.sort_values(["dataset", "metric", "rank", "model", "variant"], na_position="last", kind="stable")
    return board.reset_index(drop=True)


def _row(group: pd.DataFrame, cells: pd.DataFrame) -> dict[str, Any]:
    first = group.iloc[0]
    ok = group[group["status"] == "ok"]
    values = ok["value"].astype(float)
    mean, std, ci = _summary(values.to_numpy())
    seeds = _seed_statuses(group, cells, first)
    return {
        **{k: first[k] for k in ROW},
        "mean": mean, "std": std, "ci95": ci, "n_seeds": len(values),
        "direction": first.get("direction"), "rank": None, "status": _status_text(seeds),
        **{k: first.get(k) for k in EXTRA if k != "protocol"},
        "protocol": _protocol_text(first.get("protocol")),
    }


def _seed_statuses(group: pd.DataFrame, cells: pd.DataFrame, first: pd.Series) -> list[str]:
    """Each seed's outcome for this metric: its own record's status, else its cell's status."""
    own = dict(zip(group["seed"], group["status"]))
    mine = cells[(cells["dataset"] == first["dataset"]) & (cells["model"] == first["model"]) & (cells["variant"] == first["variant"])]
    for seed, status in zip(mine["seed"], mine["status"]):
        own.setdefault(seed, status)
    return list(own.values())


def _rows_for_cells_without_metrics(metrics: pd.DataFrame, cells: pd.DataFrame) -> list[dict[str, Any]]:
    """Model configurations with no metric value at all (every seed failed) still get a row."""
    seen = set(map(tuple, metrics[KEY].drop_duplicates().to_numpy())) if not metrics.empty else set()
    rows = []
    for key, group in cells.groupby(KEY, sort=False):
        if tuple(key) not in seen:
            rows.append({**dict(zip(KEY, key)), "metric": "(cell)", "mean": None, "std": None, "ci95": None,
                         "n_seeds": 0, "direction": None, "rank": None, "status": _status_text(list(group["status"]))})
    return rows


def t_quantile(p: float, dof: float) -> float:
    """Student t quantile. ``scipy.special`` rather than ``scipy.stats``: the same number, and a
    third of the import time for the commands that must start fast."""
    from scipy.special import stdtrit

    return float(stdtrit(dof, p))


def _summary(values: Any) -> tuple[float | None, float | None, float | None]:
    n = len(values)
    if n == 0:
        return None, None, None
    mean = float(values.mean())
    if n == 1:
        return mean, None, None
    std = float(values.std(ddof=1))
    return mean, std, t_quantile(0.975, n - 1) * std / math.sqrt(n)


def _status_text(statuses: list[str]) -> str:
    n = len(statuses)
    counts = pd.Series(statuses).value_counts()
    if counts.get("ok", 0) == n:
        return "ok"
    order = ["ok"] + sorted(s for s in counts.index if s != "ok")
    return "; ".join(f"{s} {counts[s]}/{n}" for s in order if s in counts)


def _ranks(board: pd.DataFrame) -> pd.Series:
    """1 = best within (dataset, metric), by direction; ties share the smallest rank."""
    ranks = pd.Series([None] * len(board), index=board.index, dtype="object")
    for _, group in board.dropna(subset=["mean"]).groupby(["dataset", "metric"]):
        ascending = group["direction"].iloc[0] != "higher"
        ranks[group.index] = group["mean"].rank(method="min", ascending=ascending).astype(int)
    return ranks


def _protocol_text(protocol: Any) -> str:
    if not isinstance(protocol, dict) or not protocol:
        return ""
    return "; ".join(f"{k}={v}" for k, v in sorted(protocol.items()))


def write_leaderboard(run_dir: Path) -> pd.DataFrame:
    """Rebuild ``tidy.csv`` and ``leaderboard.csv`` of a run from its records, and the wide tables
    people read (``leaderboard.md``, ``wide/<dataset>.csv`` / ``.md``: :mod:`.wide`)."""
    from .wide import wide_tables, write_wide  # wide builds on this module

    records, _ = read_records(Path(run_dir))
    board = leaderboard(records)
    atomic_write(Path(run_dir) / "tidy.csv", tidy(records).to_csv(index=False))
    atomic_write(Path(run_dir) / "leaderboard.csv", board.to_csv(index=False))
    write_wide(Path(run_dir), wide_tables(records))
    return board
