"""Compare two leaderboards row by row, with direction-aware verdicts.

With several seeds on both sides, a difference counts only if it is larger than the seeds' spread
allows (Welch's t-test at 95%); otherwise any difference beyond ``tolerance`` (relative) counts.

A row of A (the baseline) that B lacks, or that has a value in A and none in B (failed, n/a), is a
regression like a worse value: a candidate must not pass by losing results. Versions are compared
as the strings the specs declare ("1.10" is not "1.1").
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from ..errors import UsageError
from .leaderboard import COLUMNS, ROW, t_quantile

VERSION_COLUMNS = ["model_version", "metric_version"]
MISSING, LOST = "missing in B", "lost in B"
REGRESSIONS = ("worse", MISSING, LOST)


def read_leaderboard(path: str | Path) -> pd.DataFrame:
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"{path}: no such leaderboard file")
    try:
        frame = pd.read_csv(path, dtype={c: str for c in ["variant", "model", "dataset", "metric", "status", *VERSION_COLUMNS]})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise UsageError(f"{path}: not a readable CSV leaderboard ({error})") from None
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise UsageError(f"{path}: not a benchbench leaderboard; missing columns {missing}")
    return frame


def verdict(row: pd.Series, tolerance: float = 0.0) -> str:
    """better / worse / within noise / same for B relative to A, or why there is none."""
    a, b = row["mean_a"], row["mean_b"]
    if pd.notna(a) and pd.isna(b):
        return LOST
    if pd.isna(a) or pd.isna(b):
        return "no value"
    delta = b - a
    if _within_noise(row, delta) or abs(delta) <= tolerance * max(abs(a), abs(b)):
        return "within noise" if delta else "same"
    improved = delta < 0 if row["direction"] == "lower" else delta > 0
    return "better" if improved else "worse"


def _within_noise(row: pd.Series, delta: float) -> bool:
    na, nb, sa, sb = row["n_seeds_a"], row["n_seeds_b"], row["std_a"], row["std_b"]
    if pd.isna(sa) or pd.isna(sb) or na < 2 or nb < 2:
        return False
    va, vb = sa**2 / na, sb**2 / nb
    if va + vb == 0:
        return delta == 0
    dof = (va + vb) ** 2 / (va**2 / (na - 1) + vb**2 / (nb - 1))
    return abs(delta) <= t_quantile(0.975, dof) * math.sqrt(va + vb)


def compare(a: pd.DataFrame, b: pd.DataFrame, tolerance: float = 0.0) -> tuple[pd.DataFrame, list[str]]:
    """The joined table (one row per metric row of either side) and warnings about versions."""
    keep = ROW + ["mean", "std", "n_seeds", "direction", "status"] + [c for c in VERSION_COLUMNS if c in a and c in b]
    joined = a[[c for c in keep if c in a]].merge(b[[c for c in keep if c in b]], on=ROW, how="outer", suffixes=("_a", "_b"), indicator=True)
    joined["direction"] = joined["direction_a"].fillna(joined["direction_b"])
    joined["delta"] = joined["mean_b"] - joined["mean_a"]
    joined["verdict"] = [
        {"left_only": MISSING, "right_only": "only in B"}.get(side) or verdict(row, tolerance)
        for side, (_, row) in zip(joined["_merge"], joined.iterrows())
    ]
    joined["reason"] = [_reason(row) for _, row in joined.iterrows()]
    warnings = [
        f"{r.dataset}/{r.model}/{r.variant}/{r.metric}: {column} differs ({r[column + '_a']} vs {r[column + '_b']})"
        for column in VERSION_COLUMNS if f"{column}_a" in joined
        for _, r in joined.iterrows()
        if pd.notna(r[f"{column}_a"]) and pd.notna(r[f"{column}_b"]) and str(r[f"{column}_a"]) != str(r[f"{column}_b"])
    ]
    columns = ROW + ["direction", "mean_a", "mean_b", "delta", "n_seeds_a", "n_seeds_b", "verdict", "reason"]
    return joined[columns].reset_index(drop=True), warnings


def _reason(row: pd.Series) -> str:
    """Why a row that lost its value is a regression: B's status, or B's lack of the row."""
    if row["verdict"] == MISSING:
        return "the row is absent from B"
    if row["verdict"] == LOST:
        return f"B has no value: {row['status_b']}"
    return ""


def regressions(table: pd.DataFrame) -> pd.DataFrame:
    """The rows that fail ``--fail-on-regression``."""
    return table[table["verdict"].isin(REGRESSIONS)]


def render(table: pd.DataFrame) -> str:
    return table.to_string(index=False, float_format=lambda v: f"{v:.4g}", na_rep="")
