"""Feature metrics (FID, KID, IS, precision/recall, feature MMD, class KL, conditional accuracy) against independent
computations on the same inputs: closed forms, 40-digit arithmetic, scipy's sqrtm formula, direct
numpy estimators, and torch-fidelity called directly with the same extractor.

The domain classifier is trained once for the module (5 epochs on the digits, a few seconds) in a
temporary cache; the Inception parts are in ``test_features_inception.py``.
"""

from __future__ import annotations

import hashlib
import inspect
import math
import shutil
import subprocess
import sys
from pathlib import Path

import mpmath
import numpy as np
import pytest
import scipy.linalg
import scipy.spatial
import scipy.special
import torch
import torch_fidelity
from scipy import stats
from sklearn.metrics import accuracy_score
from torch_fidelity.metric_fid import fid_statistics_to_metric

import benchbench
from benchbench import Dataset, EvalContext, NotApplicable
from benchbench.engine.cell import unmet
from benchbench.testing import eval_context
from benchbench_plugins.datasets.digits import make_digits, make_digits_binary
from benchbench_plugins.metrics import features
from benchbench_plugins.metrics.features import classifier, compute, extract
from benchbench_plugins.metrics.features.frechet import frechet_distance
from benchbench_plugins.metrics.features.images import UInt8Images, to_uint8

EPOCHS = 5
OPTIONS = {"classifier_epochs": EPOCHS}


# ---- data, contexts, independent references ------------------------------------------------------


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory, digits: Dataset) -> Path:
    """A cache holding the module's domain classifier, trained once."""
    path = tmp_path_factory.mktemp("cache")
    classifier.trained_classifier(digits, path, classifier.TrainingPlan(epochs=EPOCHS), "cpu")
    return path


@pytest.fixture(autouse=True)
def fresh_memory():
    """Each test starts without feature sets held in memory from another test."""
    extract.forget()
    yield
    extract.forget()


def noisy(data: Dataset, n: int, sigma: float, seed: int = 0) -> np.ndarray:
    """``n`` training images with Gaussian noise, clipped to [0, 1]: a stand-in for samples."""
    rng = np.random.default_rng(seed)
    images = data.train[rng.integers(0, len(data.train), n)]
    return np.clip(images + rng.normal(0, sigma, images.shape), 0, 1).astype(np.float32)


def context(data: Dataset, samples: np.ndarray | None, cache: Path, seed: int = 0) -> EvalContext:
    tensor = None if samples is None else torch.as_tensor(samples, dtype=torch.float32)
    return EvalContext(benchbench.Model(), data, tensor, "cpu", seed, cache)


def by_name(values: list[benchbench.MetricValue]) -> dict[str, benchbench.MetricValue]:
    return {v.name: v for v in values}


def scipy_sqrtm_fid(x: np.ndarray, y: np.ndarray) -> float:
    """TTUR / pytorch-fid's formula, in float64 numpy and scipy, from the feature arrays."""
    x, y = x.astype(np.float64), y.astype(np.float64)
    mu1, mu2, s1, s2 = x.mean(0), y.mean(0), np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def exact_fid(mu1: np.ndarray, s1: np.ndarray, mu2: np.ndarray, s2: np.ndarray) -> float:
    """The definition in 40-digit arithmetic: symmetric square root of Σ₁, then of Σ₁^½ Σ₂ Σ₁^½."""
    with mpmath.workdps(40):
        a, b = mpmath.matrix(s1.tolist()), mpmath.matrix(s2.tolist())
        values, vectors = mpmath.eigsy(a)
        root = vectors * mpmath.diag([mpmath.sqrt(max(v, 0)) for v in values]) * vectors.T
        inner = mpmath.eigsy(root * b * root, eigvals_only=True)
        trace = sum(mpmath.sqrt(max(v, 0)) for v in inner)
        diff = sum(mpmath.mpf(float(d)) ** 2 for d in mu1 - mu2)
        return float(diff + sum(a[i, i] + b[i, i] for i in range(len(mu1))) - 2 * trace)


# ---- the Fréchet distance itself -----------------------------------------------------------------


def test_frechet_distance_is_the_closed_form_for_gaussians_sharing_eigenvectors():
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.normal(size=(30, 30)))
    a, b = rng.uniform(0.1, 3, 30), rng.uniform(0.1, 3, 30)
    a[:4] = 0  # singular: Cholesky fails, the eigendecomposition route is taken
    mu1, mu2 = rng.normal(size=30), rng.normal(size=30)
    expected = ((mu1 - mu2) ** 2).sum() + ((np.sqrt(a) - np.sqrt(b)) ** 2).sum()
    assert frechet_distance(mu1, q @ np.diag(a) @ q.T, mu2, q @ np.diag(b) @ q.T) == pytest.approx(expected, rel=1e-9)


def test_frechet_distance_is_the_closed_form_for_non_commuting_2d_gaussians():
    # For 2x2 PSD M, tr sqrt(M) = sqrt(tr M + 2 sqrt(det M)); here M ~ Σ₁Σ₂.
    s1, s2 = np.array([[2.0, 0.9], [0.9, 1.0]]), np.array([[0.5, -0.3], [-0.3, 1.5]])
    trace_root = math.sqrt(np.trace(s1 @ s2) + 2 * math.sqrt(np.linalg.det(s1) * np.linalg.det(s2)))
    mu1, mu2 = np.array([1.0, -2.0]), np.array([0.5, 0.5])
    expected = ((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * trace_root
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("n1, n2", [(200, 300), (8, 300), (8, 10)], ids=["full-rank", "one-deficient", "both-deficient"])
def test_frechet_distance_agrees_with_40_digit_arithmetic(n1, n2):
    rng = np.random.default_rng(n1 + n2)
    mixing = rng.normal(size=(12, 12)) / np.sqrt(12)
    x, y = rng.normal(size=(n1, 12)) @ mixing, rng.normal(size=(n2, 12)) @ mixing + 0.1
    statistics = [(f.mean(0), np.cov(f, rowvar=False)) for f in (x, y)]
    expected = exact_fid(*statistics[0], *statistics[1])
    assert frechet_distance(*statistics[0], *statistics[1]) == pytest.approx(expected, rel=1e-8)


def test_frechet_distance_of_identical_statistics_is_zero():
    features = np.random.default_rng(1).normal(size=(500, 40)) @ np.random.default_rng(2).normal(size=(40, 40))
    mu, sigma = features.mean(0), np.cov(features, rowvar=False)
    assert abs(frechet_distance(mu, sigma, mu, sigma)) < 1e-10 * np.trace(sigma)


def test_frechet_distance_rejects_mismatched_or_non_finite_statistics():
    with pytest.raises(ValueError, match="statistics do not match"):
        frechet_distance(np.zeros(3), np.eye(3), np.zeros(4), np.eye(4))
    with pytest.raises(ValueError, match="not finite"):
        frechet_distance(np.zeros(2), np.eye(2), np.array([0.0, np.nan]), np.eye(2))


# ---- the pipeline against torch-fidelity and numpy -----------------------------------------------


def test_fid_equals_torch_fidelity_and_the_scipy_formula_on_the_same_features(digits, cache):
    samples = np.concatenate([noisy(digits, 300, 0.2), 1 - digits.train[:300]])  # half of them inverted
    ctx = context(digits, samples, cache)
    ours = by_name(compute.evaluate_fid(ctx, **OPTIONS))["fid[classifier]"]
    comparison = extract.compare(ctx, **OPTIONS)
    generated, reference = (f.numpy() for f in comparison.layer("features"))
    assert ours.value == pytest.approx(scipy_sqrtm_fid(generated, reference), rel=1e-6)
    # torch-fidelity end to end on the same uint8 images with the same extractor. Its means are
    # float32 (about 1e-7 absolute), so the comparison is made on a FID well above 1.
    direct = torch_fidelity.calculate_metrics(
        input1=UInt8Images(to_uint8(torch.as_tensor(samples))), input2=UInt8Images(to_uint8(torch.as_tensor(digits.test))),
        fid=True, feature_extractor=classifier.FIDELITY_NAME, feature_extractor_weights_path=str(comparison.extractor.weights),
        cuda=False, cache=False, verbose=False, save_cpu_ram=True)
    assert ours.value > 1
    assert ours.value == pytest.approx(direct["frechet_inception_distance"], rel=1e-6)


def test_fid_is_torch_fidelitys_formula_on_the_same_statistics(digits, cache):
    comparison = extract.compare(context(digits, noisy(digits, 400, 0.05), cache), **OPTIONS)
    generated = compute.feature_statistics(comparison.generated.features["features"])
    expected = fid_statistics_to_metric(generated, comparison.reference.statistics, False)["frechet_inception_distance"]
    assert compute.fid(comparison) == pytest.approx(expected, rel=1e-6)


def test_fid_of_the_reference_images_against_themselves_is_zero(digits, cache):
    fid = by_name(compute.evaluate_fid(context(digits, digits.test, cache), **OPTIONS))["fid[classifier]"]
    trace = np.trace(extract.compare(context(digits, digits.test, cache), **OPTIONS).reference.statistics["sigma"])
    assert abs(fid.value) < 1e-9 * trace


def test_features_and_fid_do_not_depend_on_the_batch_size(digits, tmp_path, cache):
    samples, runs = noisy(digits, 150, 0.1), {}
    for batch_size in (1, 64):
        extract.forget()
        fresh = tmp_path / f"batch{batch_size}"
        fresh.mkdir()
        (fresh / "classifiers").symlink_to(cache / "classifiers")  # the same classifier, fresh reference cache
        comparison = extract.compare(context(digits, samples, fresh), batch_size=batch_size, split="val", **OPTIONS)
        assert comparison.reference.source == "computed"
        runs[batch_size] = (comparison.layer("features"), compute.fid(comparison))
    for one, many in zip(runs[1][0], runs[64][0]):
        # float32 kernels chosen per batch size round differently, by about 1e-6 of a feature
        torch.testing.assert_close(one, many, rtol=0, atol=1e-5)
    assert runs[1][1] == pytest.approx(runs[64][1], rel=1e-6)


def direct_kid(x: np.ndarray, y: np.ndarray, subsets: int, size: int, seed: int) -> tuple[float, float]:
    """Bińkowski et al.'s unbiased MMD² with k(a, b) = (a·b / d + 1)³, written out in float64 on
    the subsets torch-fidelity draws (RandomState(seed), generated then reference, each subset)."""
    rng, d, values = np.random.RandomState(seed), x.shape[1], []
    x, y = x.astype(np.float64), y.astype(np.float64)
    for _ in range(subsets):
        a, b = x[rng.choice(len(x), size, replace=False)], y[rng.choice(len(y), size, replace=False)]
        kxx, kyy, kxy = ((p @ q.T / d + 1) ** 3 for p, q in ((a, a), (b, b), (a, b)))
        off = ~np.eye(size, dtype=bool)
        values.append(kxx[off].mean() + kyy[off].mean() - 2 * kxy.mean())
    return float(np.mean(values)), float(np.std(values))


def test_kid_matches_a_direct_unbiased_polynomial_mmd_on_the_same_subsets(digits, cache):
    ctx = context(digits, noisy(digits, 500, 0.1), cache, seed=7)
    values = by_name(compute.evaluate_kid(ctx, subsets=20, **OPTIONS))
    generated, reference = (f.numpy() for f in extract.compare(ctx, **OPTIONS).layer("features"))
    size = values["kid[classifier]"].protocol["subset_size"]
    assert size == len(digits.test)  # adapted: min(1000, 500, 359)
    mean, std = direct_kid(generated, reference, 20, size, seed=7)
    # torch-fidelity sums float32 kernel values of order 10: about 1e-6 absolute
    assert values["kid[classifier]"].value == pytest.approx(mean, abs=1e-5)
    assert values["kid_std[classifier]"].value == pytest.approx(std, abs=1e-5)


def test_inception_score_matches_the_direct_formula(digits, cache):
    ctx = context(digits, noisy(digits, 400, 0.1), cache, seed=3)
    values = by_name(compute.evaluate_inception_score(ctx, splits=4, **OPTIONS))
    logits = extract.compare(ctx, **OPTIONS).generated.features["logits"].double().numpy()
    logits = logits[np.random.RandomState(3).permutation(len(logits))]  # torch-fidelity's shuffle
    scores = []
    for part in np.array_split(logits, 4):
        p = np.exp(part - scipy.special.logsumexp(part, axis=1, keepdims=True))
        scores.append(math.exp(np.mean([stats.entropy(row, p.mean(0)) for row in p])))
    assert values["inception_score[classifier]"].value == pytest.approx(np.mean(scores), rel=1e-9)
    assert values["inception_score_std[classifier]"].value == pytest.approx(np.std(scores), rel=1e-6)
    assert 1 < values["inception_score[classifier]"].value <= 10


def test_precision_and_recall_match_a_direct_k_nearest_neighbour_count(digits, cache):
    ctx = context(digits, noisy(digits, 300, 0.3), cache)
    values = by_name(compute.evaluate_precision_recall(ctx, k=3, **OPTIONS))
    generated, reference = (f.double().numpy() for f in extract.compare(ctx, **OPTIONS).layer("features"))

    def covered(points: np.ndarray, manifold: np.ndarray) -> float:
        radius = np.sort(scipy.spatial.distance.cdist(manifold, manifold), axis=1)[:, 3]  # 3rd neighbour, self at 0
        return float((scipy.spatial.distance.cdist(points, manifold) <= radius[None]).any(1).mean())

    # torch-fidelity returns float32 shares
    assert values["precision[classifier]"].value == pytest.approx(covered(generated, reference), abs=1e-6)
    assert values["recall[classifier]"].value == pytest.approx(covered(reference, generated), abs=1e-6)
    same = by_name(compute.evaluate_precision_recall(context(digits, digits.test, cache), **OPTIONS))
    assert same["precision[classifier]"].value == same["recall[classifier]"].value == 1.0


def test_feature_mmd_tells_noise_from_held_out_digits(digits, cache):
    held_out = by_name(compute.evaluate_feature_mmd(context(digits, digits.val, cache), permutations=100, **OPTIONS))
    noise = by_name(compute.evaluate_feature_mmd(context(digits, noisy(digits, 180, 0.4), cache), permutations=100,
                                                 **OPTIONS))
    assert noise["mmd_pvalue[classifier]"].value == pytest.approx(1 / 101)
    assert noise["mmd2[classifier]"].value > 10 * abs(held_out["mmd2[classifier]"].value)
    assert held_out["mmd_pvalue[classifier]"].value > 0.01
    assert held_out["mmd2[classifier]"].protocol["space"] == "classifier features"


def test_class_kl_is_the_kl_divergence_of_the_predicted_histogram_from_uniform(digits, cache):
    threes = digits.train[digits.train_labels == 3]
    value = by_name(compute.evaluate_class_kl(context(digits, threes, cache), **OPTIONS))["class_kl[classifier]"]
    histogram = np.array(value.protocol["histogram"])
    assert value.value == pytest.approx(stats.entropy(histogram, np.full(10, 0.1)), abs=1e-5)
    assert histogram[3] > 0.8 and value.value > 0.5 * math.log(10)
    balanced = by_name(compute.evaluate_class_kl(context(digits, digits.test, cache), **OPTIONS))["class_kl[classifier]"]
    assert balanced.value == pytest.approx(balanced.protocol["reference_kl"]) and balanced.value < 0.05
    assert compute.kl_to_uniform(torch.full((4,), 0.25, dtype=torch.float64)) == 0


# ---- protocol, conversion, caches ----------------------------------------------------------------


def test_every_value_names_its_extractor_and_carries_the_protocol(digits, cache):
    ctx = context(digits, noisy(digits, 300, 0.1), cache)
    factories = [compute.evaluate_fid, compute.evaluate_kid, compute.evaluate_inception_score,
                 compute.evaluate_precision_recall, compute.evaluate_feature_mmd, compute.evaluate_class_kl]
    values = [v for factory in factories for v in factory(ctx, **OPTIONS)]
    assert {v.name for v in values} == {
        "fid[classifier]", "kid[classifier]", "kid_std[classifier]", "inception_score[classifier]", "inception_score_std[classifier]",
        "precision[classifier]", "recall[classifier]", "mmd2[classifier]", "mmd_pvalue[classifier]", "class_kl[classifier]"}
    for v in values:
        assert v.protocol["extractor"].startswith("classifier[local:") and v.protocol["n_generated"] == 300
        assert v.protocol["n_reference"] == len(digits.test) and v.protocol["reference_split"] == "test"
        assert v.protocol["image_conversion"].startswith("clamp to [0, 1], ×255, round")
        assert 0.85 < v.protocol["classifier_test_accuracy"] <= 1
        assert v.direction in ("lower", "higher") and math.isfinite(v.value)
    assert by_name(values)["inception_score[classifier]"].direction == "higher" and by_name(values)["fid[classifier]"].direction == "lower"


def test_uint8_conversion_clamps_and_rounds_never_truncates():
    x = torch.tensor([-0.2, 0.0, 0.4 / 255, 0.6 / 255, 0.5, 0.999, 1.0, 1.3])
    assert to_uint8(x).tolist() == [0, 0, 0, 1, 128, 255, 255, 255]  # truncation: 0.999 → 254, 0.5 → 127
    k = torch.arange(17) / 16  # the digits' levels
    assert to_uint8(k).tolist() == [round(i * 255 / 16) for i in range(17)]


def test_reference_features_are_cached_by_content_not_by_name(digits, cache, tmp_path):
    fresh = tmp_path / "cache"
    fresh.mkdir()
    (fresh / "classifiers").symlink_to(cache / "classifiers")
    samples, options = noisy(digits, 200, 0.1), {**OPTIONS, "split": "val"}
    first = extract.compare(context(digits, samples, fresh), **options)
    extract.forget()
    second = extract.compare(context(digits, samples, fresh), **options)
    assert (first.reference.source, second.reference.source) == ("computed", "disk cache")
    assert compute.fid(first) == compute.fid(second)
    changed = Dataset(digits.name, digits.train, digits.val.copy(), digits.test, digits.kind, levels=digits.levels,
                      train_labels=digits.train_labels, val_labels=digits.val_labels, test_labels=digits.test_labels,
                      num_classes=10)
    changed.val[0, 0, 0, 0] = 1 - changed.val[0, 0, 0, 0]  # same name, same split, one pixel differs
    extract.forget()
    third = extract.compare(context(changed, samples, fresh), **options)
    assert third.reference.source == "computed" and third.reference.sha256 != first.reference.sha256
    assert not (fresh / "fidelity_cache").exists()


def test_the_domain_classifier_is_trained_once_and_keyed_by_what_defines_it(digits, cache, monkeypatch):
    plan = classifier.TrainingPlan(epochs=EPOCHS)
    trained = classifier.trained_classifier(digits, cache, plan, "cpu")
    monkeypatch.setattr(classifier, "train", lambda *a, **k: pytest.fail("retrained a cached classifier"))
    assert classifier.trained_classifier(digits, cache, plan, "cpu") == trained
    keys = {classifier.data_key(digits, p) for p in
            (plan, classifier.TrainingPlan(epochs=EPOCHS + 1), classifier.TrainingPlan(epochs=EPOCHS, seed=1))}
    keys.add(classifier.data_key(make_digits(split_seed=1, val_fraction=0.1, test_fraction=0.2), plan))
    relabelled = Dataset(digits.name, digits.train, digits.val, digits.test, digits.kind, levels=digits.levels,
                         train_labels=(digits.train_labels + 1) % 10, test_labels=digits.test_labels, num_classes=10)
    keys.add(classifier.data_key(relabelled, plan))
    assert len(keys) == 5 and trained.data_key in keys
    assert trained.source == "local" and trained.protocol()["extractor"] == f"classifier[local:{trained.weights_sha256[:16]}]"
    assert 0.85 < trained.test_accuracy <= 1


def test_a_damaged_classifier_file_is_a_clear_error(digits, cache, tmp_path):
    trained = classifier.trained_classifier(digits, cache, classifier.TrainingPlan(epochs=EPOCHS), "cpu")
    broken = tmp_path / "classifiers" / trained.path.name
    broken.parent.mkdir()
    broken.write_bytes(trained.path.read_bytes()[:1000])
    with pytest.raises(ValueError, match="cannot read the domain classifier .* delete it to retrain"):
        extract.compare(context(digits, noisy(digits, 50, 0.1), tmp_path), **OPTIONS)


# ---- bad input -----------------------------------------------------------------------------------


def test_non_finite_samples_are_a_clear_error(digits, cache):
    samples = noisy(digits, 100, 0.1)
    samples[5, 0, 2, 2], samples[9, 0, 0, 0] = np.nan, np.inf
    with pytest.raises(ValueError, match="2 of 100 samples contain NaN or inf"):
        compute.evaluate_fid(context(digits, samples, cache), **OPTIONS)


def test_wrong_shapes_and_ranges_are_clear_errors(digits, cache):
    with pytest.raises(ValueError, match=r"samples are shaped \(100, 1, 8, 9\)"):
        compute.evaluate_kid(context(digits, np.zeros((100, 1, 8, 9)), cache), **OPTIONS)
    with pytest.raises(ValueError, match=r"not \[-1, 1\] or \[0, 255\]"):
        compute.evaluate_fid(context(digits, noisy(digits, 100, 0.1) * 255, cache), **OPTIONS)
    with pytest.raises(ValueError, match=r"not \[-1, 1\] or \[0, 255\]"):
        compute.evaluate_fid(context(digits, noisy(digits, 100, 0.1) * 2 - 1, cache), **OPTIONS)


def test_slight_overshoot_is_clamped_and_recorded(digits, cache):
    samples = noisy(digits, 100, 0.1)
    samples[:, 0, 0, 0] = 1.05
    fid = by_name(compute.evaluate_fid(context(digits, samples, cache), **OPTIONS))["fid[classifier]"]
    assert fid.protocol["clamped_fraction"] == pytest.approx(1 / 64)


def test_not_applicable_without_images_samples_or_labels(digits, cache):
    points = Dataset("points", np.zeros((20, 2)), np.zeros((5, 2)), np.zeros((10, 2)), "continuous")
    with pytest.raises(NotApplicable, match="need images"):
        compute.evaluate_fid(context(points, np.zeros((10, 2)), cache))
    with pytest.raises(NotApplicable, match="no samples"):
        compute.evaluate_fid(context(digits, None, cache))
    unlabelled = Dataset("unlabelled", digits.train, digits.val, digits.test, "discrete", levels=17)
    for factory in (compute.evaluate_fid, compute.evaluate_class_kl):
        with pytest.raises(NotApplicable, match="trains on labels; dataset 'unlabelled' has none"):
            factory(context(unlabelled, noisy(digits, 50, 0.1), cache))


def test_too_few_samples_fail_clearly_or_adapt(digits, cache):
    few = context(digits, noisy(digits, 40, 0.1), cache)
    with pytest.raises(ValueError, match="KID with subset_size=100 .* needs at least 100 generated"):
        compute.evaluate_kid(few, subset_size=100, **OPTIONS)
    assert compute.evaluate_kid(few, **OPTIONS)[0].protocol["subset_size"] == 40
    with pytest.raises(ValueError, match="Inception Score needs at least 50 samples, got 40"):
        compute.evaluate_inception_score(few, **OPTIONS)
    assert compute.evaluate_inception_score(context(digits, noisy(digits, 120, 0.1), cache), **OPTIONS)[0].protocol["splits"] == 2
    with pytest.raises(ValueError, match="precision/recall with k=3 needs at least 4"):
        compute.evaluate_precision_recall(context(digits, noisy(digits, 3, 0.1), cache), **OPTIONS)


def test_fid_with_fewer_samples_than_feature_dimensions_is_flagged_biased(digits, cache):
    few = by_name(compute.evaluate_fid(context(digits, noisy(digits, 40, 0.1), cache), **OPTIONS))["fid[classifier]"]
    assert "40 samples for 64 feature dimensions" in few.protocol["biased"]
    enough = by_name(compute.evaluate_fid(context(digits, noisy(digits, 300, 0.1), cache), **OPTIONS))["fid[classifier]"]
    assert "biased" not in enough.protocol


# ---- specs ---------------------------------------------------------------------------------------


def test_specs_match_the_functions_and_need_samples():
    specs = {spec.name: spec for spec in features.benchbench_metrics()}
    assert set(specs) == {"fid", "kid", "inception_score", "precision_recall", "feature_mmd", "class_kl",
                          "conditional_accuracy"}
    shared = {name: p.default for name, p in inspect.signature(extract.compare).parameters.items()
              if name not in ("context", "needs_logits")}
    fixed = {"class_kl": ("extractor", "weights"), "conditional_accuracy": ("extractor", "weights", "split")}
    for spec in specs.values():
        assert spec.requires.samples and spec.requires.min_samples == (1 if spec.name == "conditional_accuracy" else 2)
        own = {name: p.default for name, p in list(inspect.signature(spec.resolve()).parameters.items())[1:]
               if p.kind is p.POSITIONAL_OR_KEYWORD}
        expected = {k: v for k, v in {**own, **shared}.items() if k not in fixed.get(spec.name, ())}
        assert spec.defaults() == expected, spec.name


def test_a_metric_on_data_it_does_not_fit_is_recorded_not_applicable(digits, cache):
    from benchbench.engine.cell import _evaluate
    from benchbench.engine.suite import MetricEntry
    from benchbench.plugin.registry import Provided

    (spec,) = [s for s in features.benchbench_metrics() if s.name == "fid"]
    points = Dataset("points", np.zeros((20, 2)), np.zeros((5, 2)), np.zeros((10, 2)), "continuous")
    assert unmet(spec.requires, context(points, np.zeros((1, 2)), cache)) == "needs at least 2 samples, the suite draws 1"
    (record,) = _evaluate(MetricEntry("fid", spec.defaults()), Provided(spec, "features", "benchbench"), context(points, np.zeros((10, 2)), cache))
    assert record["status"] == "n/a" and "need images" in record["error"]


def test_specs_import_without_torch():
    code = ("import sys; import benchbench_plugins.metrics.features as m; "
            "m.benchbench_metrics(); print('torch' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


# ---- pinned classifiers: fixed artifacts, never retrained -----------------------------------------


def test_the_pinned_digits_classifier_is_loaded_and_never_trained(digits, tmp_path, monkeypatch):
    monkeypatch.setattr(classifier, "train", lambda *a, **k: pytest.fail("trained a dataset that has pinned weights"))
    trained = classifier.trained_classifier(digits, tmp_path, classifier.TrainingPlan(), "cpu")
    entry = classifier.pinned_manifest()[trained.data_key]
    assert (trained.source, trained.path) == ("pinned", classifier.PINNED_DIR / "digits.pt")
    assert trained.weights_sha256 == entry["sha256"] == hashlib.sha256(trained.path.read_bytes()).hexdigest()
    assert trained.protocol()["extractor"] == f"classifier[pinned:{entry['sha256'][:16]}]"
    assert not (tmp_path / "classifiers").exists()
    # The weights are what the manifest says: they classify the test split with the recorded accuracy.
    checkpoint = classifier.load_checkpoint(trained.path)
    net = classifier.DomainCNN(checkpoint["channels"], checkpoint["num_classes"])
    net.load_state_dict(checkpoint["state_dict"])
    splits = classifier.labelled_splits(digits)
    assert classifier.accuracy(net.eval(), splits[2], splits[3]) == pytest.approx(entry["test_accuracy"], abs=1 / len(splits[3]))


def test_every_built_in_labelled_dataset_at_hand_has_pinned_weights():
    from benchbench.testing import plugin_registry

    defaults = {"split_seed": 0, "val_fraction": 0.1, "test_fraction": 0.2}
    for data in (make_digits(**defaults), make_digits_binary(**defaults)):
        assert classifier.data_key(data, classifier.TrainingPlan()) in classifier.pinned_manifest(), data.name
    spec = plugin_registry(installed=True).dataset("mnist")
    try:
        mnist = spec.resolve()(**spec.defaults())
    except benchbench.UsageError as missing:  # `make test` prepares MNIST first, so CI always checks it
        pytest.skip(f"real MNIST not prepared ({missing}); run `make mnist`")
    assert classifier.data_key(mnist, classifier.TrainingPlan()) in classifier.pinned_manifest()


def test_damaged_pinned_weights_are_a_clear_error_naming_file_and_hash(digits, tmp_path, monkeypatch):
    folder = tmp_path / "pinned"
    shutil.copytree(classifier.PINNED_DIR, folder)
    damaged = bytearray((folder / "digits.pt").read_bytes())
    damaged[len(damaged) // 2] ^= 0xFF
    (folder / "digits.pt").write_bytes(bytes(damaged))
    monkeypatch.setattr(classifier, "PINNED_DIR", folder)
    monkeypatch.setattr(classifier, "PINNED_MANIFEST", folder / "manifest.json")
    expected = next(e["sha256"] for e in classifier.pinned_manifest().values() if e["dataset"] == "digits")
    with pytest.raises(ValueError) as caught:
        classifier.trained_classifier(digits, tmp_path, classifier.TrainingPlan(), "cpu")
    message = str(caught.value)
    assert f"pinned domain classifier {folder / 'digits.pt'} has SHA-256 " in message
    assert f"expected {expected}" in message and "never retrained" in message


def test_data_without_pinned_weights_gets_a_local_classifier_labelled_as_such(tmp_path):
    other = make_digits(split_seed=7, val_fraction=0.1, test_fraction=0.2)  # another split: other data
    trained = classifier.trained_classifier(other, tmp_path, classifier.TrainingPlan(epochs=1), "cpu")
    assert trained.source == "local"
    assert trained.protocol()["extractor"] == f"classifier[local:{trained.weights_sha256[:16]}]"


# ---- conditional accuracy ------------------------------------------------------------------------


class ImagesOfTheClass(benchbench.Model):
    """A stand-in conditional model: each sample is a real test image of the class it is asked for,
    or, with ``ignore_labels``, of any class."""

    capabilities = frozenset({"conditional"})

    def __init__(self, data: Dataset, ignore_labels: bool = False):
        super().__init__()
        self.images, self.labels = torch.as_tensor(data.test), torch.as_tensor(data.test_labels)
        self.ignore_labels = ignore_labels

    def sample(self, n: int, labels: torch.Tensor | None = None) -> torch.Tensor:
        if self.ignore_labels:
            return self.images[torch.randint(len(self.images), (n,))]
        pools = [torch.nonzero(self.labels == k).flatten() for k in labels.tolist()]
        return self.images[torch.stack([pool[torch.randint(len(pool), ())] for pool in pools])]


def conditional_accuracy(ctx: EvalContext) -> benchbench.MetricValue:
    (value,) = compute.evaluate_conditional_accuracy(ctx, **OPTIONS)
    return value


def test_conditional_accuracy_is_sklearns_accuracy_and_reaches_the_classifiers_own(digits, cache):
    ctx = eval_context(ImagesOfTheClass(digits), digits, 500, cache_dir=cache)
    counts = torch.bincount(ctx.sample_labels, minlength=10)
    assert ctx.sample_labels.dtype == torch.int64 and counts.max() - counts.min() <= 1  # the host's balanced labels
    value = conditional_accuracy(ctx)
    predictions = extract.compare(ctx, **OPTIONS).generated.features["logits"].argmax(1)
    assert value.value == pytest.approx(accuracy_score(ctx.sample_labels.numpy(), predictions.numpy()), abs=1e-12)
    trained = classifier.trained_classifier(digits, cache, classifier.TrainingPlan(epochs=EPOCHS), "cpu")
    print(f"\nconditional accuracy {value.value:.3f}, classifier's test accuracy {trained.test_accuracy:.3f}")
    assert (value.name, value.direction, value.exactness) == ("conditional_accuracy[classifier]", "higher", "estimate")
    assert value.protocol["reference_accuracy"] == trained.test_accuracy and value.protocol["chance"] == 0.1
    assert value.protocol["extractor"] == trained.protocol()["extractor"] and value.protocol["n_generated"] == 500
    assert abs(value.value - trained.test_accuracy) < 0.04


def test_samples_that_ignore_their_labels_score_chance(digits, cache):
    value = conditional_accuracy(eval_context(ImagesOfTheClass(digits, ignore_labels=True), digits, 500,
                                              cache_dir=cache))
    assert abs(value.value - 0.1) < 0.05


def test_conditional_accuracy_needs_a_conditional_model_and_labelled_samples(digits, cache):
    from benchbench.engine.cell import _evaluate
    from benchbench.engine.suite import MetricEntry
    from benchbench.plugin.registry import Provided

    (spec,) = [s for s in features.benchbench_metrics() if s.name == "conditional_accuracy"]
    (record,) = _evaluate(MetricEntry(spec.name, spec.defaults()), Provided(spec, "features", "benchbench"),
                          context(digits, digits.test, cache))
    assert record["status"] == "n/a" and "does not provide conditional" in record["error"]
    unlabelled = eval_context(ImagesOfTheClass(digits), digits, torch.as_tensor(digits.test), cache_dir=cache)
    with pytest.raises(NotApplicable, match="drawn without labels"):
        compute.evaluate_conditional_accuracy(unlabelled, **OPTIONS)
    labelled = eval_context(ImagesOfTheClass(digits), digits, 30, cache_dir=cache)
    labelled.sample_labels = labelled.sample_labels[:20]
    with pytest.raises(ValueError, match="20 sample labels for 30 samples"):
        compute.evaluate_conditional_accuracy(labelled, **OPTIONS)
