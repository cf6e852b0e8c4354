"""The noise levels of a noise-conditional score network and the step size of its sampler, by the
rules of NCSNv2 (Song & Ermon 2020, "Improved techniques for training score-based generative
models", §3–4). The model draws ``σ_1 > σ_2 > … > σ_L``, a geometric sequence of ratio
``γ = σ_{i−1} / σ_i``, and samples by annealed Langevin dynamics with ``T`` steps of size
``α_i = ε σ_i² / σ_L²`` at level ``i``.

* **Technique 1** (initial noise scale): ``σ_1`` as large as the largest Euclidean distance
  between two training points, so that Langevin from ``N(0, σ_1² I)`` can reach every mode.
* **Technique 2** (other noise scales): for ``x ~ N(0, σ² I)`` in ``D`` dimensions ``‖x‖`` is
  about ``N(σ √D, σ² / 2)``; adjacent levels overlap enough when a sample of level ``i`` falls in
  the 3-std shell of level ``i − 1`` with probability about one half,

      Φ(√(2D)(γ − 1) + 3γ) − Φ(√(2D)(γ − 1) − 3γ) ≈ 0.5.

  The left side falls from 0.997 at ``γ = 1`` towards 0 only when ``√(2D) > 3``; for ``D ≤ 4`` the
  norm does not concentrate, every ratio overlaps by this measure, and the rule sets no ``L``
  (:func:`levels_for_ratio` then returns the cap). With ``γ`` found, ``L`` is the fewest levels
  from ``σ_1`` to ``σ_L`` whose ratio is at most ``γ``; ``max_levels`` caps it for CPU budgets.
* **Technique 4** (step size): on a single training point at the origin, level ``i``'s perturbed
  density is ``N(0, σ_i² I)``, and a Langevin step ``x ← (1 − ε/σ_L²) x + √(2α_i) z`` started from
  level ``i − 1``'s variance ``γ² σ_i²`` has after ``T`` steps variance ``s_T²`` with (their Eq. 6)

      s_T² / σ_i² = (1 − u)^{2T} (γ² − 2u / (1 − (1 − u)²)) + 2u / (1 − (1 − u)²),   u = ε / σ_L²,

  the recursion ``v ← (1 − u)² v + 2α_i`` solved in closed form. It is above 1 for every ``u`` and
  independent of ``i``; NCSNv2 pick the ``ε`` that brings it closest to 1 for the ``T`` they
  afford. (Their CIFAR-10 setting, ``σ_1 = 50``, ``L = 232``, ``T = 5``, gives 6.2e-6, their value.)
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy.optimize import brentq, minimize_scalar
from scipy.spatial.distance import pdist
from scipy.stats import norm

SHELL_STDS = 3.0  # technique 2's "within 3 standard deviations" of a level's norm
TARGET_OVERLAP = 0.5  # technique 2's ≈ 0.5
MAX_RATIO = 1e6  # brentq's bracket for γ: beyond any noise range in use
LOG_U_BOUNDS = (-40.0, 0.0)  # technique 4 searches u = ε / σ_L² in (e^-40, 1): stable steps have u < 1


def largest_distance(x: torch.Tensor, max_points: int, seed: int = 0) -> float:
    """Technique 1's ``σ_1``: the largest Euclidean distance between two rows of ``x`` ``(N, *shape)``,
    over a random subset of ``max_points`` rows when ``N`` is larger (pdist is quadratic in ``N``)."""
    flat = x.detach().double().flatten(1).cpu().numpy()
    if len(flat) > max_points:
        flat = flat[np.random.default_rng(seed).choice(len(flat), max_points, replace=False)]
    return float(pdist(flat).max())


def shell_overlap(ratio: float, dim: int) -> float:
    """Technique 2's left side: the probability that level ``i``'s sample lies within 3 stds of
    level ``i − 1``'s norm, for ratio ``γ = σ_{i−1} / σ_i`` in ``dim`` dimensions."""
    a = math.sqrt(2 * dim)
    return float(norm.cdf(a * (ratio - 1) + SHELL_STDS * ratio) - norm.cdf(a * (ratio - 1) - SHELL_STDS * ratio))


def overlap_ratio(dim: int) -> float | None:
    """Technique 2's ``γ`` for ``dim`` dimensions, or None where no ratio brings the overlap down to
    one half (``√(2 dim) ≤ 3``: every ratio overlaps enough)."""
    if math.sqrt(2 * dim) <= SHELL_STDS:
        return None
    return brentq(lambda ratio: shell_overlap(ratio, dim) - TARGET_OVERLAP, 1.0, MAX_RATIO, xtol=1e-12)


def levels_for_ratio(sigma_max: float, sigma_min: float, ratio: float | None, max_levels: int) -> int:
    """The fewest levels from ``sigma_max`` to ``sigma_min`` whose common ratio is at most ``ratio``,
    capped at ``max_levels``; the cap where ``ratio`` is None (technique 2 sets no number)."""
    if ratio is None:
        return max_levels
    return min(max_levels, math.ceil(math.log(sigma_max / sigma_min) / math.log(ratio)) + 1)


def geometric_sigmas(sigma_max: float, sigma_min: float, levels: int) -> torch.Tensor:
    """``σ_1 = sigma_max > … > σ_L = sigma_min``, geometric, ``(L,)`` float64."""
    return torch.logspace(math.log10(sigma_max), math.log10(sigma_min), levels, dtype=torch.float64)


def variance_ratio(u: float, ratio: float, steps: int) -> float:
    """Technique 4's ``s_T² / σ_i²`` (Eq. 6) for ``u = ε / σ_L²``, ``γ = ratio`` and ``T = steps``."""
    stationary = 2 * u / (1 - (1 - u) ** 2)
    return (1 - u) ** (2 * steps) * (ratio**2 - stationary) + stationary


def langevin_step_size(ratio: float, steps: int, sigma_min: float) -> float:
    """Technique 4's ``ε``: the one bringing :func:`variance_ratio` closest to 1 (it is above 1 for
    every ``u``, so its minimiser), times ``σ_L²``."""
    best = minimize_scalar(lambda log_u: variance_ratio(math.exp(log_u), ratio, steps), bounds=LOG_U_BOUNDS,
                           method="bounded", options={"xatol": 1e-10})
    return math.exp(best.x) * sigma_min**2
