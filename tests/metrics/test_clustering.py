"""Clustering scores against scikit-learn, mode coverage on the true toy data and on collapsed
samples, and reconstruction code lengths of autoencoders whose residuals are known in closed form."""

from __future__ import annotations

import inspect
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy import stats
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

import benchbench
from benchbench import Dataset, EvalContext, NotApplicable
from benchbench.engine.cell import unmet
from benchbench_plugins.datasets.toy2d import make_8gaussians, make_25gaussians
from benchbench_plugins.metrics import clustering
from benchbench_plugins.metrics.clustering import compute
from benchbench_plugins.metrics.clustering.compute import (
    evaluate_latent_clustering, evaluate_mode_coverage, partition_scores,
)
from benchbench_plugins.metrics.clustering.reconstruction import evaluate_reconstruction


def by_name(values: list[benchbench.MetricValue]) -> dict[str, benchbench.MetricValue]:
    return {v.name: v for v in values}


def context(model: benchbench.Model, data: Dataset, samples: np.ndarray | None = None, seed: int = 0,
            batch_size: int = 64) -> EvalContext:
    tensor = None if samples is None else torch.as_tensor(samples, dtype=torch.float32)
    return EvalContext(model, data, tensor, "cpu", seed, Path("unused-cache"), batch_size=batch_size)


# ---- NMI and ARI against scikit-learn -------------------------------------------------------------


def random_partitions(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    n, classes, clusters = rng.integers(2, 300), rng.integers(1, 8), rng.integers(1, 12)
    labels = rng.integers(0, classes, n)
    noisy = np.where(rng.random(n) < 0.6, labels, rng.integers(0, clusters, n))  # related, not equal
    return labels, noisy * 7 + 3  # cluster ids need not be 0..K-1


EDGE_CASES = {
    "identical": ([0, 0, 1, 1, 2], [0, 0, 1, 1, 2]),
    "permuted names": ([0, 0, 1, 1, 2], [5, 5, 9, 9, 1]),
    "both one block": ([3, 3, 3, 3], [1, 1, 1, 1]),
    "one block vs singletons": ([0, 0, 0, 0], [0, 1, 2, 3]),
    "both singletons": ([0, 1, 2, 3], [3, 2, 1, 0]),
    "independent": ([0, 0, 1, 1], [0, 1, 0, 1]),
    "one point": ([4], [2]),
}


@pytest.mark.parametrize("seed", range(25))
def test_nmi_and_ari_agree_with_sklearn_on_random_partitions(seed):
    labels, assignments = random_partitions(seed)
    scores = partition_scores(labels, assignments)
    assert scores["nmi"] == pytest.approx(normalized_mutual_info_score(labels, assignments), abs=1e-12)
    assert scores["ari"] == pytest.approx(adjusted_rand_score(labels, assignments), abs=1e-12)


@pytest.mark.parametrize("case", EDGE_CASES, ids=list(EDGE_CASES))
def test_nmi_and_ari_agree_with_sklearn_on_edge_cases(case):
    labels, assignments = (np.array(a) for a in EDGE_CASES[case])
    scores = partition_scores(labels, assignments)
    assert scores["nmi"] == pytest.approx(normalized_mutual_info_score(labels, assignments), abs=1e-12)
    assert scores["ari"] == pytest.approx(adjusted_rand_score(labels, assignments), abs=1e-12)


def test_partitions_of_different_lengths_are_refused():
    with pytest.raises(ValueError, match="alike"):
        partition_scores(np.zeros(4), np.zeros(5))


# ---- latent clustering ----------------------------------------------------------------------------


class Encoder(benchbench.Model):
    """encode(x) = the first ``keep`` coordinates of x (all when None); records what it was given."""

    capabilities = frozenset({"encode"})

    def __init__(self, keep: int | None = None, density: str = "continuous") -> None:
        super().__init__()
        self.keep, self.density, self.seen = keep, density, []

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        self.seen.append(x.clone())
        return x.flatten(1)[:, : self.keep]


class BrokenEncoder(benchbench.Model):
    capabilities = frozenset({"encode"})

    def __init__(self, output: str) -> None:
        super().__init__()
        self.output = output

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        z = x.flatten(1).clone()
        if self.output == "nan":
            z[1, 0] = math.nan
            return z
        return z[:-1]  # one row short


def labelled(x: np.ndarray, y: np.ndarray, num_classes: int | None = None, **extra) -> Dataset:
    return Dataset("labelled", x, x, x, "continuous", train_labels=y, val_labels=y, test_labels=y,
                   num_classes=num_classes, **extra)


def blobs(seed: int, n: int = 300, spread: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    centres = np.array([[0.0, 0.0], [3.0, 0.0], [0.0, 3.0]])
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    return centres[y] + spread * rng.standard_normal((n, 2)), y


def test_reported_scores_are_sklearns_on_the_injected_assignments(monkeypatch):
    x, y = blobs(1)
    rng = np.random.default_rng(2)
    injected = [rng.integers(0, 3, len(y)), rng.integers(0, 4, len(y))]  # latent, then the projection
    calls = []

    def fake_kmeans(features, k, n_init, seed):
        calls.append((features.shape, k, n_init, seed))
        return injected[len(calls) - 1]

    monkeypatch.setattr(compute, "kmeans_assignments", fake_kmeans)
    values = by_name(evaluate_latent_clustering(context(Encoder(), labelled(x, y)), n_init=3))
    assert calls == [((300, 2), 3, 3, 0), ((300, 2), 3, 3, 0)]
    for suffix, assignments in zip(("latent", "random_projection_d2"), injected):
        assert values[f"nmi[{suffix}]"].value == pytest.approx(normalized_mutual_info_score(y, assignments), abs=1e-12)
        assert values[f"ari[{suffix}]"].value == pytest.approx(adjusted_rand_score(y, assignments), abs=1e-12)
    assert {v.direction for v in values.values()} == {"higher"}


def test_separated_classes_are_recovered_on_a_random_subset():
    """A misaligned subset of labels would score near 0."""
    x, y = blobs(3, n=400)
    values = by_name(evaluate_latent_clustering(context(Encoder(), labelled(x, y, num_classes=3)), n=150))
    assert values["nmi[latent]"].value == pytest.approx(1.0) and values["ari[latent]"].value == pytest.approx(1.0)
    assert values["nmi[latent]"].protocol["n"] == 150 and values["nmi[latent]"].protocol["k"] == 3


def test_random_projection_row_shows_what_the_representation_adds():
    """Classes differ only in the first two of 30 coordinates; the rest is loud noise. An encoder
    keeping those two separates them; a random projection to 2 dimensions mostly sees the noise."""
    rng = np.random.default_rng(4)
    informative, y = blobs(5, n=400)
    x = np.concatenate([informative, 10 * rng.standard_normal((400, 28))], axis=1)
    values = by_name(evaluate_latent_clustering(context(Encoder(keep=2), labelled(x, y))))
    assert values["nmi[latent]"].value > 0.95
    assert values["nmi[random_projection_d2]"].value < 0.2
    assert values["nmi[random_projection_d2]"].protocol["latent_dim"] == 2


def test_encoder_of_a_continuous_density_sees_dequantised_levels():
    """As in training: on data with levels a continuous density is fed y = (k + u) / L."""
    rng = np.random.default_rng(6)
    y = rng.integers(0, 2, 60)
    x = (y[:, None] * 3 + rng.integers(0, 2, (60, 4))) / 4  # levels 0..4 stored as k / 4
    data = Dataset("levels", x, x, x, "discrete", levels=5, train_labels=y, val_labels=y, test_labels=y, num_classes=2)
    continuous, discrete = Encoder(), Encoder(density="discrete")
    for model in (continuous, discrete):
        evaluate_latent_clustering(context(model, data), n_init=1)
    k = np.round(x * 4)
    assert np.array_equal(np.floor(torch.cat(continuous.seen).numpy() * 5), k)  # inside k's cell [k/5, (k+1)/5)
    assert np.array_equal(torch.cat(discrete.seen).numpy(), x.astype(np.float32))


def test_missing_labels_are_not_applicable_and_the_spec_says_so():
    x, _ = blobs(7, n=20)
    data = Dataset("unlabelled", x, x, x, "continuous")
    with pytest.raises(NotApplicable, match="no test labels"):
        evaluate_latent_clustering(context(Encoder(), data))
    spec = next(s for s in clustering.benchbench_metrics() if s.name == "latent_clustering")
    assert unmet(spec.requires, context(Encoder(), data)) == "dataset 'unlabelled' has no labels"
    assert "does not provide encode" in unmet(spec.requires, context(benchbench.Model(), labelled(x, np.zeros(20))))


@pytest.mark.parametrize(("output", "message"),
                         [("nan", "1 of 30 rows non-finite"), ("short", r"\(batch, Z\) = \(30, Z\)")])
def test_bad_encodings_are_a_clear_error(output, message):
    x, y = blobs(8, n=30)
    with pytest.raises(ValueError, match=message):
        evaluate_latent_clustering(context(BrokenEncoder(output), labelled(x, y)))


def test_fewer_points_than_classes_is_a_clear_error():
    x, y = blobs(9, n=30)
    with pytest.raises(ValueError, match="k=3 clusters needs at least 3 points, got 2"):
        evaluate_latent_clustering(context(Encoder(), labelled(x, y, num_classes=3)), n=2)


# ---- mode coverage --------------------------------------------------------------------------------

GAUSSIAN_MASS_WITHIN_3_STD_2D = 1 - math.exp(-9 / 2)  # chi-square with 2 degrees of freedom at 9
SIZES = dict(n_train=5000, n_val=10, n_test=2500, data_seed=0)
TOY = {
    "8gaussians": lambda: make_8gaussians(**SIZES, std=0.2, radius=2.0),
    "25gaussians": lambda: make_25gaussians(**SIZES, std=0.1, spacing=1.0),
}
STD = {"8gaussians": 0.2, "25gaussians": 0.1}


@pytest.mark.parametrize("name", TOY)
def test_the_true_data_covers_every_mode(name):
    data = TOY[name]()
    values = by_name(evaluate_mode_coverage(context(benchbench.Model(), data, data.test)))
    modes = len(data.modes)
    assert values["modes_covered"].value == values["modes_reached"].value == modes
    # binomial standard error with 2,500 samples: 0.002
    assert values["high_quality_fraction"].value == pytest.approx(GAUSSIAN_MASS_WITHIN_3_STD_2D, abs=0.008)
    assert 0 <= values["mode_kl"].value < 0.02  # sampling noise only: about (K - 1) / 2N
    assert values["modes_covered"].protocol["mode_std"] == pytest.approx(STD[name], rel=0.03)
    assert values["modes_covered"].protocol["n_samples"] == 2500


@pytest.mark.parametrize("name", TOY)
def test_a_collapsed_sample_covers_exactly_one_mode(name):
    data = TOY[name]()
    samples = np.repeat(data.modes[3:4], 500, axis=0)
    values = by_name(evaluate_mode_coverage(context(benchbench.Model(), data, samples)))
    assert values["modes_covered"].value == 1 and values["modes_reached"].value == 1
    assert values["high_quality_fraction"].value == 1.0
    assert values["mode_kl"].value == pytest.approx(math.log(len(data.modes)), rel=1e-12)
    assert values["modes_covered"].direction == "higher" and values["mode_kl"].direction == "lower"


def test_counts_threshold_and_kl_follow_their_definitions():
    """Samples placed at known distances: mode 0 gets 30 good ones, mode 1 exactly min_count = 20,
    mode 2 only 19, mode 3 ten within 2.5 std and ten beyond 3.5 std, the rest nothing."""
    data = TOY["8gaussians"]()
    modes, std = data.modes.astype(np.float64), STD["8gaussians"]
    outward = lambda i, r, n: np.repeat(modes[i:i + 1] * (1 + r * std / 2.0), n, axis=0)  # noqa: E731  (radius 2)
    samples = np.concatenate([outward(0, 0.0, 30), outward(1, 1.0, 20), outward(2, -1.0, 19),
                              outward(3, 2.5, 10), outward(3, 3.5, 10)])
    values = by_name(evaluate_mode_coverage(context(benchbench.Model(), data, samples), min_count=20))
    assert values["modes_covered"].protocol["counts"] == [30, 20, 19, 10, 0, 0, 0, 0]
    assert values["modes_covered"].value == 2
    assert values["modes_reached"].value == 4  # one high-quality sample is enough (VEEGAN, PacGAN's code)
    assert values["modes_reached"].protocol["min_count"] == 1
    assert values["high_quality_fraction"].value == pytest.approx(79 / 89)
    histogram = np.array([30, 20, 19, 10, 0, 0, 0, 0]) / 79
    assert values["mode_kl"].value == pytest.approx(stats.entropy(histogram, np.full(8, 1 / 8)), rel=1e-12)


def test_no_high_quality_sample_leaves_the_kl_out():
    data = TOY["8gaussians"]()
    values = by_name(evaluate_mode_coverage(context(benchbench.Model(), data, np.zeros((100, 2)))))
    assert set(values) == {"modes_covered", "modes_reached", "high_quality_fraction"}
    assert values["modes_covered"].value == values["modes_reached"].value == 0 and values["high_quality_fraction"].value == 0.0


def test_mode_coverage_refuses_bad_input():
    data = TOY["8gaussians"]()
    samples = np.array(data.test[:50])
    samples[7, 1] = np.nan
    with pytest.raises(ValueError, match="1 of 50 samples contain NaN or inf"):
        evaluate_mode_coverage(context(benchbench.Model(), data, samples))
    with pytest.raises(ValueError, match=r"samples are shaped \(50, 3\)"):
        evaluate_mode_coverage(context(benchbench.Model(), data, np.zeros((50, 3))))
    with pytest.raises(ValueError, match="threshold must be positive"):
        evaluate_mode_coverage(context(benchbench.Model(), data, data.test), threshold=0.0)
    x, y = blobs(10, n=20)
    with pytest.raises(NotApplicable, match="has no known modes"):
        evaluate_mode_coverage(context(benchbench.Model(), labelled(x, y), x))


# ---- reconstruction -------------------------------------------------------------------------------


class GaussianPCA(benchbench.Model):
    """z = Uᵀ(x - μ) on the top ``k`` principal directions of ``fit_on``; p(x | z) = N(μ + U z, σ² I).
    ``k = None`` keeps every direction: the identity autoencoder."""

    capabilities = frozenset({"encode", "decode"})

    def __init__(self, fit_on: np.ndarray, k: int | None, sigma: float) -> None:
        super().__init__()
        x = torch.as_tensor(fit_on, dtype=torch.float64).flatten(1)
        self.mean = x.mean(0)
        self.basis = torch.linalg.svd(x - self.mean, full_matrices=False).Vh[:k].T  # (D, k)
        self.sigma = sigma

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return (x.double().flatten(1) - self.mean) @ self.basis

    def decode(self, z: torch.Tensor, x: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        mean = self.mean + z @ self.basis.T  # (B, D): the data here are vectors
        out = {"mean": mean}
        if x is not None:
            out["log_prob"] = torch.distributions.Normal(mean, self.sigma).log_prob(x.double()).sum(1)
        return out


class NoisyCopy(benchbench.Model):
    """Binary autoencoder z = x, p(x_d = 1 | z) = ε + (1 - 2ε) z_d: every bit right with mass 1 - ε."""

    capabilities = frozenset({"encode", "decode"})
    density = "discrete"

    def __init__(self, eps: float) -> None:
        super().__init__()
        self.eps = eps

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1).double()

    def decode(self, z: torch.Tensor, x: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        p = self.eps + (1 - 2 * self.eps) * z
        out = {"mean": p.view(x.shape if x is not None else (len(z), -1))}
        if x is not None:
            out["log_prob"] = torch.distributions.Bernoulli(probs=p).log_prob(x.double().flatten(1)).sum(1)
        return out


def correlated_gaussian(n: int = 400, dim: int = 5) -> np.ndarray:
    rng = np.random.default_rng(11)
    return rng.standard_normal((n, dim)) @ rng.standard_normal((dim, dim)) + rng.standard_normal(dim)


def test_identity_autoencoder_pays_only_the_decoder_noise():
    x, sigma = correlated_gaussian(), 0.3
    data = Dataset("gauss", x, x, x, "continuous")
    values = by_name(evaluate_reconstruction(context(GaussianPCA(x, None, sigma), data)))
    assert set(values) == {"reconstruction_mse", "reconstruction_nll"}
    assert values["reconstruction_mse"].value == pytest.approx(0.0, abs=1e-10)
    assert values["reconstruction_nll"].value == pytest.approx(0.5 * 5 * math.log(2 * math.pi * sigma**2), rel=1e-9)
    assert {v.exactness for v in values.values()} == {"exact"}


def test_pca_autoencoder_residual_is_the_discarded_variance():
    """On the data it was fitted to, PCA keeping k directions leaves the sum of the other
    eigenvalues of the (1/N) covariance as the mean squared residual per example."""
    x, sigma, keep = correlated_gaussian(), 0.5, 2
    data = Dataset("gauss", x, x, x, "continuous")
    stored = data.test.astype(np.float64)
    eigenvalues = np.linalg.eigvalsh(np.cov(stored, rowvar=False, bias=True))  # ascending
    discarded = eigenvalues[: 5 - keep].sum()
    values = by_name(evaluate_reconstruction(context(GaussianPCA(stored, keep, sigma), data), batch_size=33))
    assert values["reconstruction_mse"].value == pytest.approx(discarded / 5, rel=1e-9)
    expected_nll = discarded / (2 * sigma**2) + 0.5 * 5 * math.log(2 * math.pi * sigma**2)
    assert values["reconstruction_nll"].value == pytest.approx(expected_nll, rel=1e-9)
    assert values["reconstruction_nll"].unit == "nats/example" and values["reconstruction_nll"].direction == "lower"


def test_binary_code_length_of_a_noisy_copy_is_exact_in_bits_per_dim():
    bits = (np.random.default_rng(12).random((50, 1, 3, 4)) < 0.4).astype(float)
    data, eps = Dataset("bits", bits, bits, bits, "binary"), 0.1
    values = by_name(evaluate_reconstruction(context(NoisyCopy(eps), data)))
    assert values["reconstruction_bpd"].value == pytest.approx(-math.log2(1 - eps), rel=1e-9)
    assert values["reconstruction_nll"].value == pytest.approx(-12 * math.log(1 - eps), rel=1e-9)
    assert values["reconstruction_mse"].value == pytest.approx(eps**2, rel=1e-9)
    assert values["reconstruction_bpd"].exactness == "exact" and values["reconstruction_bpd"].unit == "bits/dim"


def test_continuous_decoder_on_levels_is_a_dequantised_bound():
    levels, sigma = 5, 0.05
    x = np.random.default_rng(13).integers(0, levels, (80, 3)) / (levels - 1)
    data = Dataset("levels", x, x, x, "discrete", levels=levels)
    model = GaussianPCA(x, None, sigma)  # identity: reconstructs the dequantised y it is given
    values = by_name(evaluate_reconstruction(context(model, data)))
    nats = 0.5 * 3 * math.log(2 * math.pi * sigma**2) + 3 * math.log(levels)
    assert values["reconstruction_nll"].value == pytest.approx(nats, rel=1e-6)
    assert values["reconstruction_bpd"].value == pytest.approx(nats / (3 * math.log(2)), rel=1e-6)
    assert values["reconstruction_nll"].exactness == "bound"
    assert "uniform" in values["reconstruction_nll"].protocol["dequantization"]


def test_reconstruction_needs_encode_and_decode():
    x = correlated_gaussian(20)
    data = Dataset("gauss", x, x, x, "continuous")
    with pytest.raises(NotApplicable, match="does not provide decode"):
        evaluate_reconstruction(context(Encoder(), data))
    spec = next(s for s in clustering.benchbench_metrics() if s.name == "reconstruction")
    assert unmet(spec.requires, context(Encoder(), data)) == "model Encoder does not provide decode"


def test_decoder_output_of_the_wrong_shape_is_a_clear_error():
    class Flat(GaussianPCA):
        def decode(self, z, x=None):
            out = super().decode(z, x)
            return {**out, "mean": out["mean"].flatten()}

    x = correlated_gaussian(20)
    with pytest.raises(ValueError, match=r"decode\(\)\['mean'\] is shaped \(100,\), the data \(20, 5\)"):
        evaluate_reconstruction(context(Flat(x, None, 1.0), Dataset("gauss", x, x, x, "continuous")))


# ---- the specs ------------------------------------------------------------------------------------


def test_specs_match_their_functions_defaults():
    specs = {s.name: s for s in clustering.benchbench_metrics()}
    assert set(specs) == {"latent_clustering", "mode_coverage", "reconstruction"}
    for spec in specs.values():
        signature = inspect.signature(spec.resolve())
        assert spec.defaults() == {name: p.default for name, p in list(signature.parameters.items())[1:]}, spec.name
    assert specs["mode_coverage"].requires.samples and specs["latent_clustering"].requires.labels


def test_specs_import_without_torch():
    code = ("import sys; import benchbench_plugins.metrics.clustering as m; "
            "m.benchbench_metrics(); print('torch' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
