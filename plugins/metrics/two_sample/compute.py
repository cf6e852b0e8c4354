"""Maximum mean discrepancy between a model's samples and held-out data.

Gretton et al., 2012, "A kernel two-sample test" (JMLR 13): the unbiased estimator of MMD² (their
Lemma 6) and a permutation test of ``p = q``.

* Kernel: a mixture of Gaussian kernels ``k(a, b) = mean_s exp(-|a - b|² / (2 (s σ)²))`` over
  ``s`` in :data:`SCALES`, with ``σ`` the median pairwise distance in the pooled sample (the median
  heuristic, Gretton et al. 2012, §8). A sum of characteristic kernels is characteristic, and the
  mixture is less at the mercy of one width than the median alone (cf. Li et al., 2015, "Generative
  moment matching networks").
* The bandwidth depends on the pooled sample only, so it is the same under every relabelling: the
  permutation test reuses one joint kernel matrix, and each permutation costs a matrix product.
* Space: the data space, flattened. For images this compares pixels, a weak test; a feature-space
  MMD (KID) comes with the feature extractors, under a name that carries the extractor's.
* Computed on the CPU in float64, so the same samples give the same number on any device.

Values: ``mmd2`` (lower is better; the unbiased estimate can be slightly negative when the two
distributions agree) and ``mmd_pvalue``. A p-value is not a quality score; it is recorded as
``higher`` meaning "more consistent with the data": a small p-value says the test tells the
samples from the data at that level. With a fixed sample size it saturates at ``1 / (P + 1)`` for
any visibly imperfect model, so rank models on ``mmd2``.
"""

from __future__ import annotations

import numpy as np
import torch

from benchbench import EvalContext, MetricValue, NotApplicable

SCALES = (0.25, 0.5, 1.0, 2.0, 4.0)


def check_samples(samples: torch.Tensor | None, shape: tuple[int, ...]) -> torch.Tensor:
    """The samples, if shaped like the data and finite; a clear error otherwise."""
    if samples is None:
        raise NotApplicable("the cell drew no samples")
    if tuple(samples.shape[1:]) != shape:
        raise ValueError(f"samples are shaped {tuple(samples.shape)}, but data examples are shaped {shape}")
    bad = int((~torch.isfinite(samples.flatten(1))).any(1).sum())
    if bad:
        raise ValueError(f"{bad} of {len(samples)} samples contain NaN or inf")
    return samples


def subsample(x: torch.Tensor, n: int, generator: torch.Generator) -> torch.Tensor:
    """At most ``n`` rows of ``x`` chosen at random, flattened to ``(n, D)`` float64 on the CPU."""
    x = x.detach().to("cpu", torch.float64).flatten(1)
    return x[torch.randperm(len(x), generator=generator)[:n]]


def squared_distances(z: torch.Tensor) -> torch.Tensor:
    """``(N, N)`` squared Euclidean distances between the rows of ``z``."""
    sq = z.pow(2).sum(1)
    return (sq[:, None] + sq[None, :] - 2 * z @ z.T).clamp_min_(0).fill_diagonal_(0)


def median_bandwidth(d2: torch.Tensor) -> float:
    """Median distance between distinct pooled points (Gretton et al. 2012, §8). Where most pairs
    coincide (binary data can repeat), the mean of the non-zero distances; 1 if all coincide."""
    i, j = torch.triu_indices(len(d2), len(d2), 1)
    distances = d2[i, j].sqrt().numpy()
    median = float(np.median(distances))
    positive = distances[distances > 0]
    return median if median > 0 else float(positive.mean()) if len(positive) else 1.0


def mixture_kernel(d2: torch.Tensor, bandwidth: float, scales: tuple[float, ...] = SCALES) -> torch.Tensor:
    """Gaussian kernels at ``bandwidth × scales``, averaged; ``(N, N)`` from squared distances."""
    return torch.stack([torch.exp(-d2 / (2 * (s * bandwidth) ** 2)) for s in scales]).mean(0)


def mmd2_unbiased(kernel: torch.Tensor, in_x: torch.Tensor) -> torch.Tensor:
    """Unbiased MMD² (Gretton et al. 2012, Lemma 6) for each labelling of the pooled points.

    ``kernel`` is ``(N, N)``; ``in_x`` is ``(P, N)``, 1 where a point counts as a sample of X and 0
    where of Y. Returns ``(P,)``: ``Σ_{i≠j} k(x_i, x_j) / m(m-1) + Σ_{i≠j} k(y_i, y_j) / n(n-1)
    - 2 Σ k(x_i, y_j) / mn``, as quadratic forms in the labels.
    """
    off_diagonal = kernel.clone().fill_diagonal_(0)
    in_y = 1 - in_x
    m, n = in_x.sum(1), in_y.sum(1)
    to_x = in_x @ off_diagonal                     # (P, N): each point's kernel sum over X
    to_y = off_diagonal.sum(0) - to_x              # (P, N): ... over Y
    xx, xy, yy = (to_x * in_x).sum(1), (to_x * in_y).sum(1), (to_y * in_y).sum(1)
    return xx / (m * (m - 1)) + yy / (n * (n - 1)) - 2 * xy / (m * n)


def random_labellings(m: int, n: int, permutations: int, generator: torch.Generator) -> torch.Tensor:
    """``(P, m + n)`` labellings, each a uniformly random choice of ``m`` points as X."""
    ranks = torch.rand(permutations, m + n, generator=generator, dtype=torch.float64).argsort(1)
    return (ranks < m).to(torch.float64)


def permutation_p_value(observed: float, null: torch.Tensor) -> float:
    """``(1 + #{null >= observed}) / (1 + P)``: a valid p-value from P permutations (Phipson &
    Smyth, 2010, "Permutation p-values should never be zero")."""
    return (1 + int((null >= observed).sum())) / (1 + len(null))


def evaluate_mmd(context: EvalContext, n: int = 1000, permutations: int = 500, split: str = "test",
                 max_dim: int = 4096) -> list[MetricValue]:
    """MMD² between at most ``n`` of the cell's samples and ``n`` points of ``split``, and the
    permutation p-value of the hypothesis that they come from one distribution."""
    data = context.dataset
    if data.dim > max_dim:
        raise NotApplicable(f"data-space MMD stops at max_dim={max_dim} dimensions; {data.name!r} has {data.dim}")
    samples = check_samples(context.samples, data.shape)
    generator = torch.Generator().manual_seed(context.seed)
    x, y = subsample(samples, n, generator), subsample(context.split(split), n, generator)
    if len(x) < 2 or len(y) < 2:
        raise ValueError(f"MMD needs at least 2 samples and 2 data points, got {len(x)} and {len(y)}")
    d2 = squared_distances(torch.cat([x, y]))
    bandwidth = median_bandwidth(d2)
    kernel = mixture_kernel(d2, bandwidth)
    as_drawn = torch.cat([torch.ones(len(x)), torch.zeros(len(y))]).to(torch.float64)[None]
    observed = float(mmd2_unbiased(kernel, as_drawn)[0])
    space = "pixels, flattened (feature space: the feature-mmd metric)" if data.is_image else "data"
    protocol = {"space": space, "split": split, "n_samples": len(x), "n_data": len(y),
                "kernel": "gaussian mixture", "bandwidth": bandwidth, "scales": list(SCALES),
                "estimator": "unbiased (Gretton et al. 2012, Lemma 6)", "seed": context.seed}
    values = [MetricValue("mmd2", observed, "lower", "kernel", "estimate", protocol)]
    if permutations > 0:
        null = mmd2_unbiased(kernel, random_labellings(len(x), len(y), permutations, generator))
        values.append(MetricValue("mmd_pvalue", permutation_p_value(observed, null), "higher", "p-value", "estimate",
                                  {**protocol, "permutations": permutations}))
    return values
