"""Is B's value better or worse than A's, or can the evidence not tell? One rule per case.

The spread that decides depends on how many seeds each side has:

=================  ==========================================================================
both >= 2 seeds    Welch's t-test at 95%: the difference of means against both seed spreads
one side >= 2      the other side's single value against that side's 95% *prediction interval*
                   ``mean ± t(0.975, n-1) · s · sqrt(1 + 1/n)``: where one more seed would fall
one seed each      the metric's own standard error of evaluation (``sem`` in the protocol, e.g.
                   over test points for the likelihoods), ``|Δ| <= 1.96 · sqrt(sem_a² + sem_b²)``;
                   without one, ``no spread: cannot judge`` rather than a guess
=================  ==========================================================================

A relative difference below :data:`FLOAT_NOISE` is ``same`` in every case: floating-point noise
is not a result. ``--tolerance`` (relative) widens "within noise" further on request.
"""

from __future__ import annotations

import math
from typing import Any

from .leaderboard import t_quantile

FLOAT_NOISE = 1e-6
Z95 = 1.959963984540054
NO_SPREAD = "no spread: cannot judge"


def judge(a: float, b: float, spread: dict[str, Any], direction: str, tolerance: float = 0.0) -> tuple[str, str]:
    """``(verdict, reason)`` for B's mean ``b`` against A's ``a``; ``spread`` holds ``n_a, n_b,
    std_a, std_b, sem_a, sem_b`` (missing or NaN where unknown)."""
    delta, scale = b - a, max(abs(a), abs(b))
    if abs(delta) <= FLOAT_NOISE * scale:
        return "same", "" if delta == 0 else f"relative difference {abs(delta) / scale:.1e} is floating-point noise"
    if abs(delta) <= tolerance * scale:
        return "within noise", f"inside --tolerance {tolerance:g}"
    bound, how = noise_bound(spread)
    if bound is None:
        return NO_SPREAD, how
    if abs(delta) <= bound:
        return "within noise", f"|Δ| {abs(delta):.3g} <= {bound:.3g} ({how})"
    improved = delta < 0 if direction == "lower" else delta > 0
    return ("better" if improved else "worse"), f"|Δ| {abs(delta):.3g} > {bound:.3g} ({how})"


def noise_bound(s: dict[str, Any]) -> tuple[float | None, str]:
    """The largest |Δ| the evidence calls noise, and which rule gave it; None when there is none."""
    n_a, n_b = _count(s.get("n_a")), _count(s.get("n_b"))
    std_a, std_b = _number(s.get("std_a")), _number(s.get("std_b"))
    if n_a >= 2 and n_b >= 2 and std_a is not None and std_b is not None:
        return welch_half_width(n_a, std_a, n_b, std_b), f"Welch 95%, {n_a} vs {n_b} seeds"
    if n_a >= 2 and std_a is not None:
        return prediction_half_width(n_a, std_a), f"B's one seed against A's 95% prediction interval over {n_a} seeds"
    if n_b >= 2 and std_b is not None:
        return prediction_half_width(n_b, std_b), f"A's one seed against B's 95% prediction interval over {n_b} seeds"
    sem_a, sem_b = _number(s.get("sem_a")), _number(s.get("sem_b"))
    if sem_a is not None and sem_b is not None:
        return Z95 * math.hypot(sem_a, sem_b), "one seed each: the metric's own standard errors, 95%"
    return None, "one seed on each side and no standard error of evaluation; run more seeds"


def welch_half_width(n_a: int, std_a: float, n_b: int, std_b: float) -> float:
    """Half-width of Welch's 95% interval for the difference of two means."""
    va, vb = std_a**2 / n_a, std_b**2 / n_b
    if va + vb == 0:
        return 0.0
    dof = (va + vb) ** 2 / (va**2 / (n_a - 1) + vb**2 / (n_b - 1))
    return t_quantile(0.975, dof) * math.sqrt(va + vb)


def prediction_half_width(n: int, std: float) -> float:
    """Half-width of the 95% prediction interval of one new draw, from ``n`` draws of spread ``std``."""
    return t_quantile(0.975, n - 1) * std * math.sqrt(1 + 1 / n)


def _count(value: Any) -> int:
    number = _number(value)
    return 0 if number is None else int(number)


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number
