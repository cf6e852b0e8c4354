"""Fréchet distance of 2048-d statistics: benchbench's symmetric route against the sqrtm formula.

Three ways to the same number from the same float64 statistics:

* ``sqrtm``: TTUR / pytorch-fid's ``scipy.linalg.sqrtm(Σ₁ Σ₂)`` (with its ``eps`` retry when the
  result is not finite), the formula most published FIDs used;
* ``torch-fidelity``: the sum of square roots of ``np.linalg.eigvals(Σ₁ Σ₂)``;
* ``benchbench``: :func:`benchbench_plugins.metrics.features.frechet.frechet_distance` (Cholesky
  factor of Σ₁, then the eigenvalues of the symmetric ``Aᵀ Σ₂ A``).

The statistics are those of Inception-like features: non-negative, correlated, 2048-d, from more
samples than dimensions (full rank), two sets with different means and covariances. Each method
runs ``--repeats`` times, interleaved; the table gives the median wall time, the speed-up over
sqrtm, and the relative difference from sqrtm's value.

    python benchmarks/frechet.py [--dim 2048] [--samples 4096] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np
import scipy.linalg
from torch_fidelity.metric_fid import fid_statistics_to_metric

from benchbench_plugins.metrics.features.frechet import frechet_distance

Statistics = tuple[np.ndarray, np.ndarray]


def inception_like(rng: np.random.Generator, n: int, mixing: np.ndarray, shift: float) -> Statistics:
    """Mean and covariance of ``n`` ReLU features of correlated Gaussians (like pool features)."""
    features = np.maximum(rng.normal(size=(n, len(mixing))) @ mixing + shift, 0)
    return features.mean(0), np.cov(features, rowvar=False)


def sqrtm_formula(mu1: np.ndarray, s1: np.ndarray, mu2: np.ndarray, s2: np.ndarray, eps: float = 1e-6) -> float:
    """pytorch-fid's ``calculate_frechet_distance``."""
    covmean = scipy.linalg.sqrtm(s1.dot(s2))
    if not np.isfinite(covmean).all():
        offset = np.eye(len(s1)) * eps
        covmean = scipy.linalg.sqrtm((s1 + offset).dot(s2 + offset))
    diff = mu1 - mu2
    return float(diff.dot(diff) + np.trace(s1) + np.trace(s2) - 2 * np.trace(np.real(covmean)))


def torch_fidelity_formula(mu1: np.ndarray, s1: np.ndarray, mu2: np.ndarray, s2: np.ndarray) -> float:
    return fid_statistics_to_metric({"mu": mu1, "sigma": s1}, {"mu": mu2, "sigma": s2}, False)["frechet_inception_distance"]


METHODS: dict[str, Callable[..., float]] = {
    "sqrtm (pytorch-fid)": sqrtm_formula,
    "eigvals (torch-fidelity)": torch_fidelity_formula,
    "benchbench": frechet_distance,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dim", type=int, default=2048)
    parser.add_argument("--samples", type=int, default=4096)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    mixing = rng.normal(size=(args.dim, args.dim)) / np.sqrt(args.dim)
    (mu1, s1), (mu2, s2) = (inception_like(rng, args.samples, mixing, shift) for shift in (0.3, 0.4))
    times: dict[str, list[float]] = {name: [] for name in METHODS}
    values: dict[str, float] = {}
    for _ in range(args.repeats):
        for name, method in METHODS.items():
            start = time.perf_counter()
            values[name] = method(mu1, s1, mu2, s2)
            times[name].append(time.perf_counter() - start)
    base_time, base_value = statistics.median(times["sqrtm (pytorch-fid)"]), values["sqrtm (pytorch-fid)"]
    print(f"Fréchet distance, {args.dim}-d statistics from {args.samples} samples each, median of {args.repeats} runs\n")
    print("| method | median s | runs s | speed-up vs sqrtm | value | relative difference vs sqrtm |\n|---|---|---|---|---|---|")
    for name in METHODS:
        median = statistics.median(times[name])
        runs = ", ".join(f"{t:.2f}" for t in times[name])
        print(f"| {name} | {median:.2f} | {runs} | {base_time / median:.1f}x | {values[name]:.10g} "
              f"| {abs(values[name] - base_value) / abs(base_value):.1e} |")


if __name__ == "__main__":
    main()
