"""Clusters and modes: how well a representation separates the classes, and how many of the data's
modes a model's samples reach.

**latent_clustering** (representation quality; the "clustering" view of features in the lecture's
evaluation chapter): k-means with ``k`` = the number of classes on ``encode(x)`` of a split, its
clusters scored against the labels by

* NMI, normalised mutual information ``I(C; Y) / ((H(C) + H(Y)) / 2)`` (Strehl & Ghosh 2002; the
  arithmetic normalisation is scikit-learn's default), in [0, 1];
* ARI, the adjusted Rand index of Hubert & Arabie (1985): pair agreement corrected for chance, 0 for
  a random partition, 1 for the labels' own.

Both higher is better, computed here from the contingency table (and checked against scikit-learn).
The same k-means on a Gaussian random projection of the raw (flattened) data to the same dimension
is reported beside them, ``nmi[random_projection_d{Z}]``, so that what the representation adds over a
projection that keeps distances (Johnson & Lindenstrauss) is visible. k-means sees the features as
they are, unstandardised. Its result is a local optimum of a seeded search (``n_init`` restarts),
hence ``estimate``.

**mode_coverage** (mode collapse; Metz et al. 2017 "Unrolled GANs", Srivastava et al. 2017
"VEEGAN", Lin et al. 2018 "PacGAN"): each sample is assigned to its nearest known mode; it is of
*high quality* when within ``threshold`` (3) standard deviations of it. Two counts of modes, named
apart because the literature uses both: ``modes_reached``, the modes with at least one high-quality
sample (the rule of VEEGAN's tables and of PacGAN's code, so the number to set beside theirs), and
``modes_covered``, the modes with at least ``min_count`` (20) of them, a stricter rule that a few
stray samples near a dropped mode cannot satisfy. Both higher is better.
Other values: ``high_quality_fraction`` (higher; the data itself gives the
Gaussian mass within 3 std, ``1 - exp(-9/2) ≈ 0.989`` in 2D) and ``mode_kl``, the KL divergence in
nats from the histogram of high-quality samples over modes to the uniform one (lower; 0 when every
mode gets the same share, ``log K`` when all fall on one). ``mode_kl`` is left out when no sample
is of high quality, where the histogram is undefined.

The components' standard deviation is not part of the dataset's metadata; it is measured on the
train split as the root-mean-square residual of each point to its nearest mode, per dimension
(the isotropic maximum-likelihood estimate; exact up to the negligible tails that cross to
another mode when modes are many std apart).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from benchbench import EvalContext, MetricValue, Model, NotApplicable
from benchbench_plugins.metrics.likelihood.compute import data_view
from benchbench_plugins.metrics.two_sample.compute import check_samples, subsample

# ---- partitions compared: contingency tables ------------------------------------------------------


def contingency_table(labels: np.ndarray, assignments: np.ndarray) -> np.ndarray:
    """``(C, K)`` counts of points with label ``c`` put in cluster ``k`` (only values that occur)."""
    _, label_index = np.unique(labels, return_inverse=True)
    _, cluster_index = np.unique(assignments, return_inverse=True)
    table = np.zeros((label_index.max(initial=-1) + 1, cluster_index.max(initial=-1) + 1), dtype=np.int64)
    np.add.at(table, (label_index.ravel(), cluster_index.ravel()), 1)
    return table


def entropy(counts: np.ndarray) -> float:
    """Shannon entropy in nats of the distribution proportional to ``counts`` (``0 log 0 = 0``)."""
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log(p)).sum())


def normalized_mutual_information(table: np.ndarray) -> float:
    """``I(C; Y) / mean(H(C), H(Y))``; 1 when both partitions are one block, 0 when independent."""
    h_labels, h_clusters = entropy(table.sum(1)), entropy(table.sum(0))
    if h_labels == 0 and h_clusters == 0:
        return 1.0
    mutual = max(h_labels + h_clusters - entropy(table.ravel()), 0.0)
    return 0.0 if mutual < 1e-15 else mutual / ((h_labels + h_clusters) / 2)


def adjusted_rand_index(table: np.ndarray) -> float:
    """Hubert & Arabie (1985): ``(index - expected) / (max - expected)`` over pairs of points;
    1 when the partitions agree exactly (including both trivial), about 0 by chance."""
    pairs = lambda n: int((n * (n - 1) // 2).sum())  # noqa: E731  (exact integers: no overflow)
    index, rows, columns, total = pairs(table), pairs(table.sum(1)), pairs(table.sum(0)), pairs(table.sum())
    expected = rows * columns / total if total else 0.0
    maximum = (rows + columns) / 2
    return 1.0 if maximum == expected else (index - expected) / (maximum - expected)


def partition_scores(labels: np.ndarray, assignments: np.ndarray) -> dict[str, float]:
    """NMI and ARI of cluster ``assignments`` against class ``labels``."""
    if labels.shape != assignments.shape or labels.ndim != 1:
        raise ValueError(f"labels and assignments must be (N,) alike, got {labels.shape} and {assignments.shape}")
    table = contingency_table(labels, assignments)
    return {"nmi": normalized_mutual_information(table), "ari": adjusted_rand_index(table)}


# ---- latent clustering ----------------------------------------------------------------------------


def kmeans_assignments(features: np.ndarray, k: int, n_init: int, seed: int) -> np.ndarray:
    """Cluster index of each row of ``features`` ``(N, Z)`` by scikit-learn's k-means (k-means++).

    On one thread: these problems are small (10,000 × 16 takes about a second), and scikit-learn's
    OpenMP threads beside torch's on a busy machine made the same fit 40 times slower."""
    from sklearn.cluster import KMeans
    from threadpoolctl import threadpool_limits

    if len(features) < k:
        raise ValueError(f"k-means with k={k} clusters needs at least {k} points, got {len(features)}")
    with threadpool_limits(limits=1):
        return KMeans(n_clusters=k, n_init=n_init, random_state=seed).fit_predict(features)


def random_projection(x: np.ndarray, dim: int, seed: int) -> np.ndarray:
    """``(N, D) → (N, dim)`` through a matrix of N(0, 1/dim) entries, which keeps distances in
    expectation (a Johnson–Lindenstrauss projection, as scikit-learn's GaussianRandomProjection)."""
    matrix = np.random.default_rng(seed).normal(0.0, 1.0 / math.sqrt(dim), size=(x.shape[1], dim))
    return x @ matrix


def encode_batch(model: Model, batch: torch.Tensor) -> torch.Tensor:
    """``model.encode(batch)`` as ``(B, Z)`` float64 on the CPU, its shape checked."""
    z = model.encode(batch)
    if z.ndim < 2 or len(z) != len(batch):
        raise ValueError(f"{type(model).__name__}.encode() must return (batch, Z) = ({len(batch)}, Z), "
                         f"got {tuple(z.shape)}")
    return z.detach().flatten(1).double().cpu()


@torch.no_grad()
def encodings(context: EvalContext, x: torch.Tensor, batch_size: int) -> np.ndarray:
    """``encode`` of ``x`` as the model saw data in training (dequantised for a continuous density
    on data with levels), ``(N, Z)`` float64, checked to be one finite row per point."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    view, _, _ = data_view(context)
    model, batches = context.model, x.split(batch_size)
    z = torch.cat([encode_batch(model, view(b)) for b in batches]).numpy()
    bad = int((~np.isfinite(z)).any(1).sum())
    if z.shape[1] == 0 or bad:
        raise ValueError(f"{type(model).__name__}.encode() gave {z.shape[1]} dimensions, "
                         f"{bad} of {len(z)} rows non-finite")
    return z


def split_with_labels(context: EvalContext, split: str, n: int) -> tuple[torch.Tensor, np.ndarray]:
    """At most ``n`` points of ``split`` (a seeded random subset) and their labels."""
    labels = context.dataset.labels(split)
    if labels is None:
        raise NotApplicable(f"dataset {context.dataset.name!r} has no {split} labels")
    chosen = np.sort(np.random.default_rng(context.seed).permutation(len(labels))[:n])
    return context.split(split)[torch.as_tensor(chosen, device=context.device)], labels[chosen]


def number_of_classes(context: EvalContext, labels: np.ndarray) -> int:
    """The dataset's class count, else the number of distinct labels seen."""
    return int(context.dataset.num_classes or len(np.unique(labels)))


def clustering_values(scores: dict[str, float], suffix: str, protocol: dict[str, Any]) -> list[MetricValue]:
    return [MetricValue(f"{key}[{suffix}]", value, "higher", "score", "estimate", protocol) for key, value in scores.items()]


def evaluate_latent_clustering(context: EvalContext, n: int = 10_000, n_init: int = 10, batch_size: int | None = None,
                               split: str = "test") -> list[MetricValue]:
    """``nmi[latent]`` / ``ari[latent]`` of k-means on ``encode(x)``, and ``nmi[random_projection_d{Z}]``
    / ``ari[random_projection_d{Z}]`` of k-means on a random projection of ``x`` to the same ``Z``."""
    x, labels = split_with_labels(context, split, n)
    k = number_of_classes(context, labels)
    z = encodings(context, x, batch_size or context.batch_size)
    raw = x.detach().to("cpu", torch.float64).flatten(1).numpy()
    projected = random_projection(raw, z.shape[1], context.seed)
    protocol = {"split": split, "n": len(labels), "k": k, "n_init": n_init, "seed": context.seed,
                "latent_dim": z.shape[1], "clusterer": "k-means++ (scikit-learn), unstandardised features",
                "nmi_normalisation": "arithmetic"}
    latent = partition_scores(labels, kmeans_assignments(z, k, n_init, context.seed))
    reference = partition_scores(labels, kmeans_assignments(projected, k, n_init, context.seed))
    reference_protocol = {**protocol, "space": f"Gaussian random projection of the data to {z.shape[1]} dims"}
    return (clustering_values(latent, "latent", {**protocol, "space": "encode(x)"})
            + clustering_values(reference, f"random_projection_d{z.shape[1]}", reference_protocol))


# ---- mode coverage --------------------------------------------------------------------------------


def nearest_mode(points: np.ndarray, modes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index ``(N,)`` of each point's nearest mode and the Euclidean distance ``(N,)`` to it."""
    distances = np.sqrt(((points[:, None, :] - modes[None, :, :]) ** 2).sum(-1))  # (N, K)
    index = distances.argmin(1)
    return index, distances[np.arange(len(points)), index]


def mode_std(train: np.ndarray, modes: np.ndarray) -> float:
    """Per-dimension standard deviation of the components, from the train split: the root mean
    square of each point's residual to its nearest mode."""
    _, distance = nearest_mode(train, modes)
    return float(np.sqrt((distance**2).mean() / modes.shape[1]))


def mode_counts(index: np.ndarray, high_quality: np.ndarray, n_modes: int) -> np.ndarray:
    """``(K,)`` number of high-quality samples at each mode."""
    return np.bincount(index[high_quality], minlength=n_modes)


def kl_to_uniform(counts: np.ndarray) -> float:
    """``KL(p || uniform)`` in nats of the histogram ``p`` proportional to ``counts``: ``log K - H(p)``."""
    return max(math.log(len(counts)) - entropy(counts), 0.0)


def known_modes(context: EvalContext) -> np.ndarray:
    """The dataset's modes as ``(K, D)`` float64, or n/a."""
    data = context.dataset
    if data.modes is None:
        raise NotApplicable(f"dataset {data.name!r} has no known modes")
    modes = np.asarray(data.modes, dtype=np.float64).reshape(len(data.modes), -1)
    if modes.shape[1] != data.dim:
        raise ValueError(f"dataset {data.name!r}: modes have {modes.shape[1]} dimensions, its data {data.dim}")
    return modes


def evaluate_mode_coverage(context: EvalContext, n: int = 2500, threshold: float = 3.0,
                           min_count: int = 20) -> list[MetricValue]:
    """``modes_covered``, ``modes_reached``, ``high_quality_fraction`` and ``mode_kl`` of at most ``n`` samples."""
    if threshold <= 0 or min_count < 1:
        raise ValueError(f"threshold must be positive and min_count at least 1, got {threshold} and {min_count}")
    modes = known_modes(context)
    samples = check_samples(context.samples, context.dataset.shape)
    points = subsample(samples, n, torch.Generator().manual_seed(context.seed)).numpy()
    std = mode_std(context.dataset.train.reshape(len(context.dataset.train), -1).astype(np.float64), modes)
    index, distance = nearest_mode(points, modes)
    high_quality = distance <= threshold * std
    counts = mode_counts(index, high_quality, len(modes))
    protocol = {"n_samples": len(points), "seed": context.seed, "n_modes": len(modes), "threshold_std": threshold,
                "mode_std": std, "std_from": "train split, RMS residual to the nearest mode", "min_count": min_count,
                "counts": counts.tolist()}
    values = [
        MetricValue("modes_covered", int((counts >= min_count).sum()), "higher", "modes", "estimate", protocol),
        MetricValue("modes_reached", int((counts >= 1).sum()), "higher", "modes", "estimate",
                    {**protocol, "min_count": 1}),
        MetricValue("high_quality_fraction", float(high_quality.mean()), "higher", "fraction", "estimate", protocol),
    ]
    if counts.sum() > 0:
        values.append(MetricValue("mode_kl", kl_to_uniform(counts), "lower", "nats", "estimate", protocol))
    return values

