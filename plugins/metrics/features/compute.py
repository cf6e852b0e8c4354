"""Feature-space metrics of image samples: features → statistics → value, each a small function.

Every metric starts from :func:`extract.compare` (one feature pass per image set, the reference
side cached) and ends in torch-fidelity's own code where it has it:

* **FID** (Heusel et al., 2017): Fréchet distance of Gaussians fitted to the features
  (:mod:`.frechet`; statistics by torch-fidelity). Lower is better. With fewer samples than
  feature dimensions (below 2048 with Inception) the covariances are rank-deficient and FID is
  biased upwards (Chong & Forsyth, 2020, "Effectively unbiased FID and Inception Score"): the
  protocol says so under ``biased``; compare only FIDs with equal N.
* **KID** (Bińkowski et al., 2018, "Demystifying MMD GANs"): the unbiased MMD² with the cubic
  polynomial kernel ``(x·y / d + 1)³``, mean and std over random subsets (torch-fidelity's
  ``kid_features_to_metric``). Unbiased at any subset size, so the size adapts to the samples when
  not given; one given larger than either set is an error.
* **Inception Score** (Salimans et al., 2016): ``exp E_x KL(p(y|x) || p(y))`` over splits of the
  samples, mean and std (torch-fidelity's ``isc_features_to_metric``). Higher is better. Splits
  shrink so each holds at least :data:`MIN_SPLIT` samples. Refused for weights without a head.
* **Precision and recall** (Kynkäänniemi et al., 2019, "Improved precision and recall metric"):
  the share of samples inside the k-NN balls of the reference features, and vice versa
  (torch-fidelity's ``prc_features_to_metric``). Higher is better.
* **Feature-space MMD**: the two-sample metric's unbiased MMD² with Gaussian kernels (median
  heuristic, multi-bandwidth mix) and its permutation p-value, on features instead of pixels.
* **Class histogram KL**: ``KL(h || uniform) = log K - H(h)`` in nats for ``h`` the histogram of the
  domain classifier's predicted classes over the samples: 0 when every class is generated
  equally often, ``log K`` when one class only (mode collapse). The reference split's own value
  is in the protocol: real data is not exactly balanced either.
* **Conditional accuracy**: the share of samples that the domain classifier assigns to the class
  they were drawn for (``EvalContext.sample_labels``), as in the classification accuracy scores of
  conditional GANs (e.g. Odena et al., 2017, "Conditional image synthesis with auxiliary classifier
  GANs"). Higher is better; chance is 1/K, and the classifier's own accuracy on the real test
  split (``reference_accuracy``) is the ceiling a model matching the data reaches.

Every value's protocol carries the extractor (and the classifier's test accuracy), N generated, N
reference, the reference split and the image conversion.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch_fidelity.metric_isc import isc_features_to_metric
from torch_fidelity.metric_kid import kid_features_to_metric
from torch_fidelity.metric_prc import prc_features_to_metric

from benchbench import EvalContext, MetricValue, NotApplicable
from benchbench_plugins.metrics.two_sample.compute import SCALES, median_bandwidth, mixture_kernel, mmd2_unbiased, \
    permutation_p_value, random_labellings, squared_distances, subsample

from .extract import Comparison, compare
from .frechet import feature_statistics, frechet_distance

KID_SUBSET_SIZE = 1000  # torch-fidelity's default, Bińkowski et al.'s choice
MIN_SPLIT = 50          # samples per Inception Score split, at least


def _value(name: str, comparison: Comparison, value: float, direction: str, protocol: dict[str, Any],
           unit: str = "") -> MetricValue:
    return MetricValue(f"{name}[{comparison.extractor.name}]", value, direction, unit, "estimate",
                       {**comparison.protocol, **protocol})


def _require(n_generated: int, n_reference: int, at_least: int, what: str) -> None:
    if min(n_generated, n_reference) < at_least:
        raise ValueError(f"{what} needs at least {at_least} generated and {at_least} reference images, got "
                         f"{n_generated} and {n_reference}")


# ---- FID -----------------------------------------------------------------------------------------


def bias_note(n: int, dim: int) -> dict[str, str]:
    if n >= dim:
        return {}
    return {"biased": f"{n} samples for {dim} feature dimensions: rank-deficient covariances bias FID upwards; "
                      "compare only FIDs with the same numbers of samples"}


def fid(comparison: Comparison) -> float:
    generated, reference = comparison.layer(comparison.extractor.feature_layer)
    _require(len(generated), len(reference), 2, "FID")
    statistics = feature_statistics(generated)
    ref = comparison.reference.statistics
    return frechet_distance(statistics["mu"], statistics["sigma"], ref["mu"], ref["sigma"])


def evaluate_fid(context: EvalContext, **options: Any) -> list[MetricValue]:
    comparison = compare(context, **options)
    n = min(comparison.protocol["n_generated"], comparison.protocol["n_reference"])
    note = bias_note(n, comparison.protocol["feature_dim"])
    return [_value("fid", comparison, fid(comparison), "lower", {"statistics": "mean, covariance", **note},
                   unit="features²")]


# ---- KID -----------------------------------------------------------------------------------------


def kid_subset_size(requested: int, n_generated: int, n_reference: int) -> int:
    """``requested`` when both sets hold it (an error otherwise); 0 means min(1000, both sizes)."""
    if requested:
        _require(n_generated, n_reference, requested, f"KID with subset_size={requested} (0: adapt to the data)")
        return requested
    _require(n_generated, n_reference, 2, "KID")
    return min(KID_SUBSET_SIZE, n_generated, n_reference)


def evaluate_kid(context: EvalContext, subsets: int = 100, subset_size: int = 0, **options: Any) -> list[MetricValue]:
    comparison = compare(context, **options)
    generated, reference = comparison.layer(comparison.extractor.feature_layer)
    size = kid_subset_size(subset_size, len(generated), len(reference))
    kid = kid_features_to_metric(generated, reference, kid_subsets=subsets, kid_subset_size=size,
                                 rng_seed=context.seed, verbose=False)
    protocol = {"subsets": subsets, "subset_size": size, "kernel": "polynomial (x·y/d + 1)^3", "seed": context.seed,
                "std_over_subsets": kid["kernel_inception_distance_std"]}
    return [_value("kid", comparison, kid["kernel_inception_distance_mean"], "lower", protocol, unit="kernel"),
            _value("kid_std", comparison, kid["kernel_inception_distance_std"], "lower", protocol, unit="kernel")]


# ---- Inception Score -----------------------------------------------------------------------------


def score_splits(requested: int, n: int) -> int:
    """``requested`` splits, fewer when a split would hold under :data:`MIN_SPLIT` samples."""
    splits = min(requested, n // MIN_SPLIT)
    if splits < 1:
        raise ValueError(f"the Inception Score needs at least {MIN_SPLIT} samples, got {n}")
    return splits


def inception_score(logits: torch.Tensor, requested_splits: int, seed: int) -> tuple[float, float, int]:
    splits = score_splits(requested_splits, len(logits))
    score = isc_features_to_metric(logits, splits, shuffle=True, rng_seed=seed)
    return score["inception_score_mean"], score["inception_score_std"], splits


def evaluate_inception_score(context: EvalContext, splits: int = 10, **options: Any) -> list[MetricValue]:
    comparison = compare(context, needs_logits=True, **options)
    generated, reference = comparison.layer(comparison.extractor.logits_layer)
    mean, std, used = inception_score(generated, splits, context.seed)
    reference_score = inception_score(reference, splits, context.seed)[0] if len(reference) >= MIN_SPLIT else None
    protocol = {"splits": used, "std_over_splits": std, "seed": context.seed, "reference_score": reference_score}
    return [_value("inception_score", comparison, mean, "higher", protocol, unit="classes"),
            _value("inception_score_std", comparison, std, "lower", protocol, unit="classes")]


# ---- precision and recall ------------------------------------------------------------------------


def evaluate_precision_recall(context: EvalContext, k: int = 3, **options: Any) -> list[MetricValue]:
    comparison = compare(context, **options)
    generated, reference = comparison.layer(comparison.extractor.feature_layer)
    _require(len(generated), len(reference), k + 1, f"precision/recall with k={k}")
    # save_cpu_ram: distances in blocks of 10,000 rows, the same values as the full matrices, faster
    pr = prc_features_to_metric(generated, reference, prc_neighborhood=k, prc_batch_size=10000, save_cpu_ram=True,
                                verbose=False)
    protocol = {"k": k, "method": "improved precision and recall (Kynkäänniemi et al. 2019)"}
    return [_value("precision", comparison, pr["precision"], "higher", protocol, unit="fraction"),
            _value("recall", comparison, pr["recall"], "higher", protocol, unit="fraction")]


# ---- MMD in feature space ------------------------------------------------------------------------


def feature_mmd(x: torch.Tensor, y: torch.Tensor, permutations: int, generator: torch.Generator) -> tuple[float, float | None, float]:
    """Unbiased MMD², its permutation p-value (None without permutations) and the bandwidth."""
    d2 = squared_distances(torch.cat([x, y]))
    bandwidth = median_bandwidth(d2)
    kernel = mixture_kernel(d2, bandwidth)
    as_drawn = torch.cat([torch.ones(len(x)), torch.zeros(len(y))]).to(torch.float64)[None]
    observed = float(mmd2_unbiased(kernel, as_drawn)[0])
    if permutations <= 0:
        return observed, None, bandwidth
    null = mmd2_unbiased(kernel, random_labellings(len(x), len(y), permutations, generator))
    return observed, permutation_p_value(observed, null), bandwidth


def evaluate_feature_mmd(context: EvalContext, n: int = 1000, permutations: int = 200, **options: Any) -> list[MetricValue]:
    comparison = compare(context, **options)
    generator = torch.Generator().manual_seed(context.seed)
    generated, reference = comparison.layer(comparison.extractor.feature_layer)
    x, y = subsample(generated, n, generator), subsample(reference, n, generator)
    _require(len(x), len(y), 2, "MMD")
    observed, p_value, bandwidth = feature_mmd(x, y, permutations, generator)
    protocol = {"space": f"{comparison.extractor.name} features", "n_samples": len(x), "n_data": len(y),
                "kernel": "gaussian mixture", "bandwidth": bandwidth, "scales": list(SCALES),
                "estimator": "unbiased (Gretton et al. 2012, Lemma 6)", "seed": context.seed}
    values = [_value("mmd2", comparison, observed, "lower", protocol, unit="kernel")]
    if p_value is not None:
        values.append(_value("mmd_pvalue", comparison, p_value, "higher", {**protocol, "permutations": permutations},
                             unit="p-value"))
    return values


# ---- class histogram under the domain classifier -------------------------------------------------


def class_histogram(logits: torch.Tensor) -> torch.Tensor:
    """Share of the examples the classifier assigns to each of the ``K`` classes, ``(K,)``."""
    return torch.bincount(logits.argmax(1), minlength=logits.shape[1]).double() / len(logits)


def kl_to_uniform(histogram: torch.Tensor) -> float:
    """``KL(h || uniform) = Σ h log(h K)`` in nats, with ``0 log 0 = 0``."""
    present = histogram[histogram > 0]
    return float((present * torch.log(present * len(histogram))).sum())


def evaluate_class_kl(context: EvalContext, **options: Any) -> list[MetricValue]:
    comparison = compare(context, extractor="classifier", **options)
    generated, reference = comparison.layer("logits")
    histogram = class_histogram(generated)
    protocol = {"histogram": [round(float(h), 6) for h in histogram], "max": math.log(len(histogram)),
                "reference_kl": kl_to_uniform(class_histogram(reference))}
    return [_value("class_kl", comparison, kl_to_uniform(histogram), "lower", protocol, unit="nats")]


# ---- conditional accuracy under the domain classifier --------------------------------------------


def label_accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """Share of the examples whose most probable class under ``logits`` ``(N, K)`` is their label ``(N,)``."""
    if len(logits) != len(labels):
        raise ValueError(f"{len(labels)} sample labels for {len(logits)} samples")
    return float((logits.argmax(1) == labels.cpu()).double().mean())


def evaluate_conditional_accuracy(context: EvalContext, **options: Any) -> list[MetricValue]:
    if context.sample_labels is None:
        raise NotApplicable("the samples were drawn without labels: the model is not conditional, "
                            "or the data has no labels")
    comparison = compare(context, extractor="classifier", **options)
    accuracy = label_accuracy(comparison.generated.features["logits"], context.sample_labels)
    protocol = {"reference_accuracy": comparison.extractor.protocol["classifier_test_accuracy"],
                "chance": 1 / context.dataset.num_classes}
    return [_value("conditional_accuracy", comparison, accuracy, "higher", protocol, unit="fraction")]
