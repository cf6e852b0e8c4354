"""Compare two leaderboards row by row, with direction-aware verdicts that know what they cannot judge.

Two numbers are compared only when their protocols agree on what defines them
(:data:`DEFINING_KEYS`: the feature extractor's weights, sample and reference counts, the split,
K of a bound, the dequantisation, ...); otherwise the row is ``not comparable`` and says which
field differs. Comparable numbers get the verdict of :mod:`.verdicts`, which picks the spread that
applies to the seeds each side has, and says ``no spread: cannot judge`` when there is none.

A row of A (the baseline) that has a value and that B lacks, or that has none in B (failed, n/a), is
a regression like a worse value: a candidate must not pass by losing results. A row of A with no
value that B lacks (an ``n/a`` under a name since changed) loses nothing. Metric names of either
side are mapped to today's (:func:`.names.current_name`), so leaderboards made before a rename
still compare. Versions are compared
as the strings the specs declare ("1.10" is not "1.1").
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from ..errors import UsageError
from .leaderboard import COLUMNS, ROW
from .names import current_name
from .verdicts import judge

VERSION_COLUMNS = ["model_version", "metric_version"]
OPTIONAL = ["exactness", "protocol"]
MISSING, LOST, NOT_COMPARABLE = "missing in B", "lost in B", "not comparable"
GONE = "gone from B"
REGRESSIONS = ("worse", MISSING, LOST, NOT_COMPARABLE)
# Protocol fields that define a number: two values that differ in one of them measure different
# things, so no better / worse is given between them.
DEFINING_KEYS = (
    "extractor", "classifier_weights_sha256", "weights_sha256", "feature_layer", "image_conversion",
    "n_generated", "n_reference", "reference_split", "reference_sha256", "subsets", "subset_size", "splits",
    "split", "k", "dequantization", "levels", "n", "n_data", "n_samples", "deterministic",
    "sampling",  # how the samples were drawn (sampler, steps, EMA, guidance): DDIM-10 FID is not ancestral FID
)


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


def verdict(row: pd.Series, tolerance: float = 0.0) -> tuple[str, str]:
    """``(verdict, reason)`` for B relative to A on one joined row; see :mod:`.verdicts`."""
    a, b = row["mean_a"], row["mean_b"]
    if pd.notna(a) and pd.isna(b):
        return LOST, f"B has no value: {row['status_b']}"
    if pd.isna(a) or pd.isna(b):
        return "no value", ""
    protocol_a, protocol_b = parse_protocol(row.get("protocol_a")), parse_protocol(row.get("protocol_b"))
    differs = [k for k in DEFINING_KEYS if protocol_a.get(k) != protocol_b.get(k)]
    if differs:
        return NOT_COMPARABLE, "protocol differs in " + "; ".join(f"{k}: {protocol_a.get(k)} vs {protocol_b.get(k)}" for k in differs)
    spread = {"n_a": row["n_seeds_a"], "n_b": row["n_seeds_b"], "std_a": row["std_a"], "std_b": row["std_b"],
              "sem_a": protocol_a.get("sem"), "sem_b": protocol_b.get("sem")}
    return judge(float(a), float(b), spread, row["direction"], tolerance)


def parse_protocol(text: object) -> dict[str, str]:
    """The leaderboard's ``k=v; k=v`` protocol text back into a dict of strings."""
    if not isinstance(text, str) or not text:
        return {}
    return dict(item.partition("=")[::2] for item in re.split(r"; (?=[A-Za-z_]\w*=)", text))


def compare(a: pd.DataFrame, b: pd.DataFrame, tolerance: float = 0.0) -> tuple[pd.DataFrame, list[str]]:
    """The joined table (one row per metric row of either side) and warnings about versions."""
    a, b = (frame.assign(**{c: frame[c] if c in frame else None for c in OPTIONAL}, metric=frame["metric"].map(current_name))
            for frame in (a, b))  # older boards lack some columns and use older names
    keep = ROW + ["mean", "std", "n_seeds", "direction", "status", *OPTIONAL] + [c for c in VERSION_COLUMNS if c in a and c in b]
    joined = a[keep].merge(b[keep], on=ROW, how="outer", suffixes=("_a", "_b"), indicator=True)
    joined["direction"] = joined["direction_a"].fillna(joined["direction_b"])
    joined["delta"] = joined["mean_b"] - joined["mean_a"]
    outcomes = [
        _absent(row) if side == "left_only" else ("only in B", "") if side == "right_only" else verdict(row, tolerance)
        for side, (_, row) in zip(joined["_merge"], joined.iterrows())
    ]
    joined["verdict"] = [v for v, _ in outcomes]
    joined["reason"] = [r for _, r in outcomes]
    joined["cost"] = joined["exactness_a"].fillna(joined["exactness_b"]).eq("measured")
    warnings = [
        f"{r.dataset}/{r.model}/{r.variant}/{r.metric}: {column} differs ({r[column + '_a']} vs {r[column + '_b']})"
        for column in VERSION_COLUMNS if f"{column}_a" in joined
        for _, r in joined.iterrows()
        if pd.notna(r[f"{column}_a"]) and pd.notna(r[f"{column}_b"]) and str(r[f"{column}_a"]) != str(r[f"{column}_b"])
    ]
    columns = ROW + ["direction", "mean_a", "mean_b", "delta", "n_seeds_a", "n_seeds_b", "verdict", "reason", "cost"]
    return joined[columns].reset_index(drop=True), warnings


def _absent(row: pd.Series) -> tuple[str, str]:
    """A row B lacks: a lost result when A has a value, else nothing lost."""
    if pd.isna(row["mean_a"]):
        return GONE, f"absent from B; A had no value either ({row['status_a']})"
    return MISSING, "the row is absent from B"


def regressions(table: pd.DataFrame) -> pd.DataFrame:
    """The rows that fail ``--fail-on-regression``. Costs (time, memory: exactness ``measured``) get
    verdicts like any row but never fail a comparison: they measure the machine as much as the code."""
    return table[table["verdict"].isin(REGRESSIONS) & ~table["cost"].astype(bool)]


def render(table: pd.DataFrame) -> str:
    return table.to_string(index=False, float_format=lambda v: f"{v:.4g}", na_rep="")
