"""Feature-space metrics of image samples through torch-fidelity: FID, KID, Inception Score,
precision/recall, feature-space MMD, and the class histogram and conditional accuracy of the samples
under a domain classifier.

Each value names its feature extractor in brackets (``fid[classifier]``, ``fid[inception]``):

* ``classifier``: a small CNN the harness trains on the dataset's train split and caches
  (:mod:`.classifier`); needs labels; fast on a CPU.
* ``inception``: torch-fidelity's Inception-v3 (``inception-v3-compat``) with the weights
  ``make inception`` set up offline (:mod:`.inception_setup`) or a file given as ``weights``.

All metrics of a cell share one feature pass per image set; reference features are cached by
content (:mod:`.extract`). Only the specs live here, so listing plugins never imports torch.
"""

from __future__ import annotations

import benchbench
from benchbench import MetricSpec, Param, Requirements, ValueSpec

_COMPUTE = "benchbench_plugins.metrics.features.compute"
_PASS = (
    Param("batch_size", 64, "images per batch of the feature pass"),
    Param("classifier_epochs", 15, "training epochs of the domain classifier (part of its cache key)"),
    Param("classifier_seed", 0, "seed of the domain classifier's initialisation and batches (part of its cache key)"),
)
_SOURCE = (Param("split", "test", "the reference split", choices=("train", "val", "test")), *_PASS)
_EXTRACTOR = (
    Param("extractor", "classifier", "feature extractor: the harness's domain classifier or Inception-v3",
          choices=("classifier", "inception")),
    Param("weights", "", "Inception weights file; empty: the one `make inception` set up"),
    *_SOURCE,
)
_IMAGES = Requirements(samples=True, min_samples=2)
_CONDITIONAL = Requirements(frozenset({"conditional"}), samples=True, labels=True, min_samples=1)


def _spec(name: str, summary: str, factory: str, *params: Param, values: tuple[ValueSpec, ...],
          extractor: bool = True) -> MetricSpec:
    return MetricSpec(name=name, summary=summary, factory=f"{_COMPUTE}:{factory}",
                      params=(*params, *(_EXTRACTOR if extractor else _SOURCE)), requires=_IMAGES, values=values)


def _values(*declared: tuple[str, str, str, bool], extractor: str = "{extractor}") -> tuple[ValueSpec, ...]:
    """``(quantity, direction, unit, headline)`` → values named ``quantity[extractor]``."""
    return tuple(ValueSpec(f"{quantity}[{extractor}]", direction, unit, headline)
                 for quantity, direction, unit, headline in declared)


@benchbench.hookimpl
def benchbench_metrics() -> list[MetricSpec]:
    return [
        _spec("fid", "Fréchet distance between Gaussians fitted to generated and reference features (FID)",
              "evaluate_fid", values=_values(("fid", "lower", "features²", True))),
        _spec("kid", "Kernel distance: unbiased polynomial-kernel MMD² of features, mean and std over subsets (KID)",
              "evaluate_kid",
              Param("subsets", 100, "random subsets the KID is averaged over"),
              Param("subset_size", 0, "samples per subset; 0: min(1000, generated, reference)"),
              values=_values(("kid", "lower", "kernel", True), ("kid_std", "lower", "kernel", False))),
        _spec("inception_score", "Inception Score of the samples under the extractor's classifier head, over splits",
              "evaluate_inception_score", Param("splits", 10, "splits the score is averaged over (at most N/50)"),
              values=_values(("inception_score", "higher", "classes", False), ("inception_score_std", "lower", "classes", False))),
        _spec("precision_recall", "Improved precision and recall: k-NN manifolds of generated and reference features",
              "evaluate_precision_recall", Param("k", 3, "the k-th nearest neighbour sets each ball's radius"),
              values=_values(("precision", "higher", "fraction", True), ("recall", "higher", "fraction", True))),
        _spec("feature_mmd", "Unbiased MMD² with Gaussian kernels in feature space, and its permutation p-value",
              "evaluate_feature_mmd",
              Param("n", 1000, "at most this many samples and as many reference images"),
              Param("permutations", 200, "permutations for the p-value; 0 skips it"),
              values=_values(("mmd2", "lower", "kernel", False), ("mmd_pvalue", "higher", "p-value", False))),
        _spec("class_kl", "KL divergence from uniform of the domain classifier's class histogram of the samples",
              "evaluate_class_kl", extractor=False, values=_values(("class_kl", "lower", "nats", False), extractor="classifier")),
        MetricSpec("conditional_accuracy", "Domain classifier's accuracy at predicting the labels the samples were "
                   "drawn for", f"{_COMPUTE}:evaluate_conditional_accuracy", params=_PASS, requires=_CONDITIONAL,
                   values=_values(("conditional_accuracy", "higher", "fraction", True), extractor="classifier")),
    ]
