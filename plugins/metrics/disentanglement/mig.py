"""The mutual information gap (Chen et al. 2018, "Isolating sources of disentanglement in VAEs"),
computed as disentanglement_lib does (Locatello et al. 2019): for each factor ``v_k``, the gap
between the two code dimensions most informative about it, in units of its entropy,

    MIG = (1 / K) sum_k (I(z_(1); v_k) - I(z_(2); v_k)) / H(v_k),

with the mutual information of a 20-bin histogram discretisation of the codes (``information``) on
10,000 points. 1 when each factor is captured by one code alone; 0 when no code tells one factor
more than another code does (no information, or the information duplicated).
"""

from __future__ import annotations

import numpy as np

from benchbench import EvalContext, MetricValue

from .ground_truth import points_protocol, score, split_points
from .information import entropies, histogram_discretise, mutual_information


def mutual_information_gap(information: np.ndarray, entropy: np.ndarray) -> float:
    """Mean over factors of the top-two gap of ``information`` ``(Z, K)``, divided by ``entropy``
    ``(K,)``; a single code dimension is compared with zero."""
    if (entropy <= 0).any():
        raise ValueError(f"factors {np.flatnonzero(entropy <= 0).tolist()} take one value in these points: "
                         "MIG divides by their entropy")
    top = np.sort(np.vstack([information, np.zeros_like(entropy)]), axis=0)[::-1]
    return float(np.mean((top[0] - top[1]) / entropy))


def mig(codes: np.ndarray, factors: np.ndarray, bins: int) -> float:
    """MIG of codes ``(N, Z)`` for factor indices ``(N, K)``, codes discretised into ``bins``."""
    return mutual_information_gap(mutual_information(histogram_discretise(codes, bins), factors), entropies(factors))


def evaluate_mig(context: EvalContext, n: int = 10_000, bins: int = 20, split: str = "test",
                 batch_size: int | None = None) -> list[MetricValue]:
    (codes, factors), _ = split_points(context, split, n, 0, batch_size)
    protocol = {"split": split, "n": points_protocol(n), "bins": bins, "seed": context.seed,
                "estimator": "histogram discretisation, plug-in mutual information (sklearn mutual_info_score)"}
    return [score(f"mig[histogram{bins}]", mig(codes, factors, bins), protocol)]
