"""Parzen-window log-likelihood: a Gaussian kernel density estimate built on the model's samples.

``log p_h(x) = log (1/S) Σ_i N(x; s_i, h² I)
            = logsumexp_i(-|x - s_i|² / 2h²) - log S - (D/2) log(2π h²)``            (nats)

the estimator of Breuleux et al. (2011, "Quickly generating representative samples from an
RBM-derived process") used by Goodfellow et al. (2014, "Generative adversarial nets", §5) to give
sample-only models a log-likelihood. The protocol is theirs: the bandwidth ``h`` is the one of a
log-spaced grid that maximises the mean log-likelihood of the validation split; the test split is
then scored with it. Values are the scored split's mean *negative* log-likelihood, lower is better,
like every NLL of the harness (the GAN paper reports its negative).

**Bias** (Theis et al. 2016, "A note on the evaluation of generative models"): the estimate
converges to the model's log-likelihood only with impractically many samples once the data has
more than a few dimensions; even on 6 x 6 image patches, millions of samples leave it far from the
true log-likelihood of a model whose density is known. It can also order models against their
likelihood: on MNIST, k-means centroids used as "samples" score better than samples of the data
distribution itself. It is an ``estimate`` of nothing precise; never compare it with ``nll`` /
``bpd``, and read it on 2D data as a sanity check rather than on images as a score.

Data with ``L`` levels (the host's convention, DESIGN.md): the kernels live on the dequantised cube
``y = (k + u) / L``, where a continuous-density model was trained and samples; samples of a
discrete-density model (stored as ``k / (L - 1)``) are dequantised the same way, and so are the
validation and scored points, one ``u`` per point from a generator seeded with the cell's seed.
``-log p_h(y) + D log L`` is then an upper bound, in expectation over ``u``, on the ``-log P(k)``
of the estimate's induced mass (Jensen, as for the likelihood metrics), and is also reported in
bits/dim through the likelihood metrics' one conversion.

Computed in float64 in chunks of scored points, so memory stays at about
:data:`CHUNK_ELEMENTS` distances whatever the sizes; images are flattened.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from benchbench import EvalContext, MetricValue
from benchbench.nn import dequantize
from benchbench_plugins.metrics.likelihood.compute import bits_per_dim_value, dequantization_nats, nats_value
from benchbench_plugins.metrics.two_sample.compute import check_samples, subsample

CHUNK_ELEMENTS = 2**22  # (points × samples) distances held at once: 32 MiB in float64
View = Callable[[torch.Tensor], torch.Tensor]  # data points → the space the kernels live in


# ---- the estimator --------------------------------------------------------------------------------


def bandwidth_grid(low: float, high: float, count: int) -> np.ndarray:
    """``count`` bandwidths log-spaced from ``low`` to ``high`` (data units), ascending."""
    if not 0 < low <= high or count < 1 or (count == 1 and low != high):
        raise ValueError(f"bandwidth grid needs 0 < min <= max and count >= 1 (1 only when min == max), "
                         f"got min={low}, max={high}, count={count}")
    return np.geomspace(low, high, count)


def cross_squared_distances(x: torch.Tensor, centres: torch.Tensor) -> torch.Tensor:
    """``(N, S)`` squared Euclidean distances between the rows of ``x`` and of ``centres``."""
    return (x.pow(2).sum(1)[:, None] + centres.pow(2).sum(1)[None, :] - 2 * x @ centres.T).clamp_min_(0)


def kde_log_density(x: torch.Tensor, centres: torch.Tensor, bandwidths: np.ndarray) -> torch.Tensor:
    """``(H, N)``: ``log p_h(x)`` in nats for every bandwidth ``h``, the Gaussian-kernel mixture on
    ``centres`` ``(S, D)``, evaluated for ``x`` ``(N, D)`` chunk by chunk (log-sum-exp, stable)."""
    count, dim = len(centres), centres.shape[1]
    rows = max(1, CHUNK_ELEMENTS // count)
    out = torch.empty(len(bandwidths), len(x), dtype=x.dtype, device=x.device)
    for start in range(0, len(x), rows):
        d2 = cross_squared_distances(x[start:start + rows], centres)
        for i, h in enumerate(bandwidths):
            log_norm = math.log(count) + 0.5 * dim * math.log(2 * math.pi * h * h)
            out[i, start:start + rows] = torch.logsumexp(d2 / (-2 * h * h), dim=1) - log_norm
    return out


def best_bandwidth(val_log_density: torch.Tensor) -> int:
    """Index of the bandwidth with the highest mean validation log-likelihood (the smallest on a tie)."""
    return int(torch.argmax(val_log_density.mean(1)))


# ---- where the kernels live -----------------------------------------------------------------------


def float64_device(device: str) -> str:
    """The cell's device, unless it has no float64 (Apple's MPS): then the CPU."""
    return "cpu" if device.startswith("mps") else device


def cube_view(context: EvalContext, generator: torch.Generator) -> tuple[View, float, str | None]:
    """The map of data points to the space the kernels live in, the nats each scored point pays to
    become a mass (``D log L``), and how it dequantised (``None``: continuous data, nothing done)."""
    data = context.dataset
    if data.levels is None:
        return (lambda x: x), 0.0, None
    levels = data.levels
    how = f"uniform: y = (k + u) / {levels}, one u per point, seed {context.seed}"
    return (lambda x: dequantize(x, levels, generator)), dequantization_nats(data.dim, levels), how


def kernel_centres(context: EvalContext, n: int, view: View, generator: torch.Generator) -> torch.Tensor:
    """At most ``n`` of the cell's samples, flattened; on data with levels, a discrete-density model's
    samples are dequantised like the data (a continuous-density model samples the cube already)."""
    samples = subsample(check_samples(context.samples, context.dataset.shape), n, generator)
    return view(samples) if context.model.density == "discrete" else samples


# ---- the metric -----------------------------------------------------------------------------------


def evaluate_parzen(context: EvalContext, n_samples: int = 10_000, n_test: int = 10_000, n_val: int = 10_000,
                    bandwidth_min: float = 0.01, bandwidth_max: float = 1.0, bandwidths: int = 21,
                    split: str = "test") -> list[MetricValue]:
    """``parzen_nll`` (nats/example) of at most ``n_test`` points of ``split`` under a Gaussian KDE on
    at most ``n_samples`` samples, the bandwidth chosen on at most ``n_val`` validation points; on
    data with levels also ``parzen_bpd``."""
    if split == "val":
        raise ValueError("the bandwidth is chosen on val; score another split")
    grid = bandwidth_grid(bandwidth_min, bandwidth_max, bandwidths)
    generator = torch.Generator().manual_seed(context.seed)
    view, offset, dequantization = cube_view(context, generator)
    device = float64_device(context.device)
    centres = kernel_centres(context, n_samples, view, generator).to(device)
    val = view(subsample(context.split("val"), n_val, generator)).to(device)
    scored = view(subsample(context.split(split), n_test, generator)).to(device)
    val_log_density = kde_log_density(val, centres, grid)
    best = best_bandwidth(val_log_density)
    log_density = kde_log_density(scored, centres, grid[best:best + 1])[0]
    val_nll = offset - float(val_log_density[best].mean())
    counts = (len(centres), len(val), len(scored))
    protocol = parzen_protocol(context, split, grid, best, val_nll, counts, dequantization)
    nll = nats_value("parzen_nll", offset - log_density.cpu(), "estimate", protocol)
    data = context.dataset
    return [nll] if data.levels is None else [nll, bits_per_dim_value(nll, "parzen_bpd", data.dim)]


def parzen_protocol(context: EvalContext, split: str, grid: np.ndarray, best: int, val_nll: float,
                    counts: tuple[int, int, int], dequantization: str | None) -> dict[str, Any]:
    """What defines the number: the bandwidth and its grid, the point counts, how the data was seen.
    ``counts`` are the samples, validation points and scored points used. ``at_grid_edge`` warns
    that the best bandwidth may lie outside the grid: widen it."""
    n_samples, n_val, n_scored = counts
    return {
        "estimator": "Gaussian KDE (Parzen window), Breuleux et al. 2011 / Goodfellow et al. 2014",
        "bandwidth": float(grid[best]), "selected_on": "val",
        "grid": {"min": float(grid[0]), "max": float(grid[-1]), "count": len(grid), "spacing": "log"},
        "at_grid_edge": len(grid) > 1 and best in (0, len(grid) - 1),
        "val_nll": val_nll, "n_samples": n_samples, "n_val": n_val,
        "split": split, "n": n_scored, "dim": context.dataset.dim, "dequantization": dequantization,
        "bias": "strongly biased in high dimension (Theis et al. 2016); not comparable with nll",
    }
