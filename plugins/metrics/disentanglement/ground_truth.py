"""What every disentanglement metric reads: a dataset's factors, the codes a model gives its
observations, and the plumbing of their numbers.

A representation is ``encode(x)``, for a VAE the mean of q(z | x) (disentanglement_lib's "mean"
representation, Locatello et al. 2019), as ``(N, Z)`` float64. The metrics get (code, factor) pairs
in one of two ways:

* **from a split** (:func:`split_points`): a seeded random subset of the split's stored examples
  with their factors, the first ``n_fit`` to fit a predictor, the next ``n_eval`` to score it, as
  disentanglement_lib's ``*_on_fixed_data`` functions do (MIG, DCI, SAP, modularity, explicitness);
* **generated** (:func:`representation`): factors chosen by the metric, drawn by the dataset's
  ``render`` and encoded (the BetaVAE and FactorVAE scores, which fix one factor and draw the rest).
  Factors are drawn as disentanglement_lib's ``sample_factors`` does: each uniform over its values,
  independently of the others.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch

from benchbench import Dataset, EvalContext, MetricValue, NotApplicable
from benchbench_plugins.metrics.clustering.compute import encodings

Represent = Callable[[np.ndarray], np.ndarray]  # factor indices (N, K) -> codes (N, Z)
Points = tuple[np.ndarray, np.ndarray]  # codes (N, Z), factor indices (N, K)
CHUNK_ROWS = 8192  # observations rendered and encoded at once


def require_factors(dataset: Dataset, split: str = "test") -> np.ndarray:
    """The split's ``(N, K)`` factors, or ``NotApplicable`` naming the dataset."""
    factors = dataset.factors(split)
    if factors is None:
        raise NotApplicable(f"dataset {dataset.name!r} has no factors of variation ({split}_factors)")
    return factors


def require_render(dataset: Dataset) -> Callable[[np.ndarray], np.ndarray]:
    require_factors(dataset)
    if dataset.render is None:
        raise NotApplicable(f"dataset {dataset.name!r} cannot draw observations of chosen factors (no render)")
    return dataset.render


def split_points(context: EvalContext, split: str, n_fit: int, n_eval: int, batch_size: int | None) -> tuple[Points, Points]:
    """Codes and factors of ``n_fit + n_eval`` examples of ``split`` in a seeded random order, cut
    into the fitting points and the evaluation points."""
    factors = require_factors(context.dataset, split)
    if len(factors) < n_fit + n_eval:
        raise ValueError(f"split {split!r} of dataset {context.dataset.name!r} has {len(factors):,} examples; "
                         f"{n_fit:,} + {n_eval:,} asked: lower them or enlarge the split")
    chosen = np.random.default_rng(context.seed).permutation(len(factors))[:n_fit + n_eval]
    x = context.split(split)[torch.as_tensor(chosen, device=context.device)]
    codes, factors = encodings(context, x, batch_size or context.batch_size), factors[chosen]
    return (codes[:n_fit], factors[:n_fit]), (codes[n_fit:], factors[n_fit:])


def representation(context: EvalContext, batch_size: int | None) -> Represent:
    """Factor indices ``(N, K)`` → codes ``(N, Z)``: rendered by the dataset, encoded by the model."""
    render = require_render(context.dataset)

    def represent(factors: np.ndarray) -> np.ndarray:
        x = torch.as_tensor(render(factors), dtype=torch.float32, device=context.device)
        return encodings(context, x, batch_size or context.batch_size)

    return represent


def per_group(represent: Represent, factors: np.ndarray, reduce: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """``reduce`` of the codes ``(P, B, Z)`` of factor groups ``(P, B, K)``, a chunk of groups at a
    time (about :data:`CHUNK_ROWS` observations rendered at once), stacked over the ``P`` groups."""
    chunk = max(1, CHUNK_ROWS // factors.shape[1])
    reduced = []
    for group in np.array_split(factors, range(chunk, len(factors), chunk)):
        codes = represent(group.reshape(-1, group.shape[-1]))
        reduced.append(reduce(codes.reshape(*group.shape[:2], -1)))
    return np.concatenate(reduced)


def draw_factors(rng: np.random.Generator, shape: tuple[int, ...], sizes: tuple[int, ...]) -> np.ndarray:
    """Factor indices ``(*shape, K)``, each factor uniform over its ``sizes[j]`` values."""
    return rng.integers(np.array(sizes), size=(*shape, len(sizes)))


@contextmanager
def one_thread() -> Iterator[None]:
    """scikit-learn's fits on one thread: small problems, and a busy machine's extra OpenMP threads
    beside torch's only slow them down (see the clustering metrics)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        yield


def points_protocol(n_fit: int, n_eval: int | None = None, group_size: int | None = None) -> str:
    """The ``n`` of a protocol: every count that defines the number, in one comparable field."""
    groups = f" groups of {group_size}" if group_size else ""
    return f"{n_fit}{groups}" if n_eval is None else f"{n_fit}{groups} fit + {n_eval}{groups} eval"


def score(name: str, value: float, protocol: dict[str, Any]) -> MetricValue:
    return MetricValue(name, float(value), "higher", "score", "estimate",
                       {"representation": "encode(x)", "reference": "disentanglement_lib", **protocol})
