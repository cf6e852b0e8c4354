"""The likelihood metrics against densities whose values are known in closed form."""

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

import benchbench
from benchbench import Dataset, EvalContext, NotApplicable
from benchbench.engine.cell import unmet
from benchbench_plugins.metrics import likelihood
from benchbench_plugins.metrics.likelihood.compute import evaluate_elbo, evaluate_nll

LEVELS, DIM = 4, 6


# ---- data and models with known densities ---------------------------------------------------------


def dataset(test: np.ndarray, kind: str, levels: int | None = None) -> Dataset:
    return Dataset("test-data", test[:2], test[:2], test, kind, levels=levels)


def discrete_data(n: int = 500, dim: int = DIM, levels: int = LEVELS) -> tuple[Dataset, np.ndarray]:
    """Data stored as k / (L - 1), and its integer levels k."""
    k = np.random.default_rng(1).integers(0, levels, size=(n, dim))
    return dataset(k / (levels - 1), "discrete", levels), k


def binary_images() -> Dataset:
    return dataset((np.random.default_rng(2).random((300, 1, 3, 4)) < 0.3).astype(float), "binary")


def gaussian_data() -> Dataset:
    return dataset(np.random.default_rng(3).normal(size=(400, 2)), "continuous")


def context(model: benchbench.Model, data: Dataset, seed: int = 0) -> EvalContext:
    return EvalContext(model, data, None, "cpu", seed, Path("unused-cache"), batch_size=64)


def standard_normal_log_pdf(x: torch.Tensor) -> torch.Tensor:
    return -0.5 * (x**2 + math.log(2 * math.pi)).sum(1)


class UniformCube(benchbench.Model):
    """Density 1 on [0, 1)^D; keeps what it was given."""

    capabilities = frozenset({"log_prob"})

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[torch.Tensor] = []

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        self.seen.append(x.clone())
        inside = ((x >= 0) & (x < 1)).flatten(1).all(1)
        return torch.where(inside, 0.0, -math.inf)


class Triangle(benchbench.Model):
    """Density prod_d 2 y_d on [0, 1)^D (Beta(2, 1) in each dimension)."""

    capabilities = frozenset({"log_prob"})

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        return torch.log(2 * x).flatten(1).sum(1)


class Bernoulli(benchbench.Model):
    """Independent Bernoulli(p_d) pixels: an exact mass."""

    capabilities = frozenset({"log_prob"})
    density = "discrete"

    def __init__(self, p: torch.Tensor) -> None:
        super().__init__()
        self.p = p

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        x = x.flatten(1)
        return (x * self.p.log() + (1 - x) * (1 - self.p).log()).sum(1)


class StandardNormal(benchbench.Model):
    capabilities = frozenset({"log_prob"})

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        return standard_normal_log_pdf(x)


class BoundOnly(benchbench.Model):
    """A 'bound' that sits 1/K nats below the standard normal log-density."""

    capabilities = frozenset({"log_prob_bound"})

    def log_prob_bound(self, x: torch.Tensor, k: int) -> torch.Tensor:
        return standard_normal_log_pdf(x) - 1 / k


class ElboOnly(benchbench.Model):
    """ELBO = log p - 0.5 with reconstruction log p + 0.25 and KL 0.75."""

    capabilities = frozenset({"elbo"})

    def elbo(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        log_p = standard_normal_log_pdf(x)
        return {"elbo": log_p - 0.5, "reconstruction": log_p + 0.25, "kl": torch.full_like(log_p, 0.75)}


class Nothing(benchbench.Model):
    pass


def by_name(values: list[benchbench.MetricValue]) -> dict[str, benchbench.MetricValue]:
    return {v.name: v for v in values}


def scipy_nll(data: Dataset) -> float:
    return -stats.multivariate_normal(np.zeros(2), np.eye(2)).logpdf(data.test.astype(np.float64)).mean()


# ---- exact scores ---------------------------------------------------------------------------------


def test_bernoulli_mass_on_binary_data_is_exact_and_analytic():
    data = binary_images()
    p = torch.linspace(0.1, 0.8, data.dim, dtype=torch.float64)
    values = by_name(evaluate_nll(context(Bernoulli(p), data)))
    x, q = data.test.reshape(len(data.test), -1), p.numpy()
    expected = -(x * np.log(q) + (1 - x) * np.log(1 - q)).sum(1).mean()
    assert values["nll"].value == pytest.approx(expected, rel=1e-9)
    assert values["bpd"].value == pytest.approx(expected / (data.dim * math.log(2)), rel=1e-9)
    assert {v.exactness for v in values.values()} == {"exact"}
    assert (values["nll"].unit, values["bpd"].unit) == ("nats/example", "bits/dim")
    assert values["nll"].protocol["dequantization"] is None and values["nll"].protocol["n"] == len(data.test)


def test_standard_normal_on_2d_data_matches_scipy_and_has_no_bits_per_dim():
    data = gaussian_data()
    values = by_name(evaluate_nll(context(StandardNormal(), data)))
    assert set(values) == {"nll"}
    assert values["nll"].value == pytest.approx(scipy_nll(data), rel=1e-6)
    assert values["nll"].exactness == "exact" and values["nll"].direction == "lower"


class EstimatedNormal(StandardNormal):
    """A standard normal whose normaliser the model says it estimated, as an EBM's."""

    log_prob_exactness = "estimate"

    def log_prob_protocol(self) -> dict:
        return {"log_z": 1.8379, "log_z_method": "grid", "grid": 512}


def test_a_log_prob_with_an_estimated_normaliser_is_an_estimate_and_says_how():
    values = by_name(evaluate_nll(context(EstimatedNormal(), gaussian_data())))
    assert values["nll"].value == pytest.approx(scipy_nll(gaussian_data()), rel=1e-6)
    assert values["nll"].exactness == "estimate"
    assert values["nll"].protocol["log_z_method"] == "grid" and values["nll"].protocol["grid"] == 512
    data, _ = discrete_data()
    assert {v.exactness for v in evaluate_nll(context(EstimatedNormal(), data))} == {"estimate"}


def test_result_does_not_depend_on_batch_size():
    data = binary_images()
    model = Bernoulli(torch.full((data.dim,), 0.3, dtype=torch.float64))
    one = evaluate_nll(context(model, data), batch_size=7)[0].value
    assert one == pytest.approx(evaluate_nll(context(model, data), batch_size=1000)[0].value, rel=1e-12)


# ---- continuous densities on discrete data: dequantised bounds ----------------------------------


def test_uniform_density_on_levels_gives_log2_levels_bits_per_dim():
    data, k = discrete_data()
    model = UniformCube()
    values = by_name(evaluate_nll(context(model, data)))
    assert values["bpd"].value == pytest.approx(math.log2(LEVELS), rel=1e-12)
    assert values["nll"].value == pytest.approx(DIM * math.log(LEVELS), rel=1e-12)
    assert {v.exactness for v in values.values()} == {"bound"}
    assert "uniform" in values["bpd"].protocol["dequantization"]
    seen = torch.cat(model.seen).numpy()
    assert np.array_equal(np.floor(seen * LEVELS), k)  # y = (k + u) / L lies in k's cell


def test_dequantisation_noise_is_fixed_by_the_seed():
    data, _ = discrete_data(n=50)
    first, again, other = UniformCube(), UniformCube(), UniformCube()
    for model, seed in ((first, 3), (again, 3), (other, 4)):
        evaluate_nll(context(model, data, seed=seed))
    assert torch.equal(torch.cat(first.seen), torch.cat(again.seen))
    assert not torch.equal(torch.cat(first.seen), torch.cat(other.seen))


def test_dequantised_score_is_the_jensen_bound_above_the_exact_mass():
    """Under density prod 2y on the cube, level k has mass (2k + 1) / L² per dimension, and
    E_u[-log 2(k + u)/L] + log L = 2 log L - log 2 - ((k + 1) log(k + 1) - k log k - 1)."""
    data, k = discrete_data(n=4000, dim=3)
    nll = by_name(evaluate_nll(context(Triangle(), data)))["nll"]
    log_l = math.log(LEVELS)
    xlogx = np.where(k > 0, k * np.log(np.maximum(k, 1)), 0.0)
    expected_log_k_plus_u = (k + 1) * np.log(k + 1) - xlogx - 1
    bound = (2 * log_l - math.log(2) - expected_log_k_plus_u).sum(1).mean()
    exact = (2 * log_l - np.log(2 * k + 1)).sum(1).mean()
    assert nll.value == pytest.approx(bound, abs=4 * nll.protocol["sem"])
    assert nll.value > exact + 4 * nll.protocol["sem"]


def test_mass_model_on_continuous_data_is_not_applicable():
    model = Bernoulli(torch.full((2,), 0.5))
    with pytest.raises(NotApplicable, match="continuous"):
        evaluate_nll(context(model, gaussian_data()))


# ---- bounds ---------------------------------------------------------------------------------------


def test_bound_only_model_reports_a_bound_named_by_k():
    data = gaussian_data()
    values = by_name(evaluate_nll(context(BoundOnly(), data), k=8))
    assert set(values) == {"nll_bound_k8"}
    value = values["nll_bound_k8"]
    assert value.value == pytest.approx(scipy_nll(data) + 1 / 8, rel=1e-6)
    assert value.exactness == "bound" and value.protocol["k"] == 8 and value.protocol["score"] == "log_prob_bound"


def test_bound_on_discrete_data_names_bits_per_dim_with_k():
    data, _ = discrete_data()

    class UniformBound(benchbench.Model):
        capabilities = frozenset({"log_prob_bound"})

        def log_prob_bound(self, x: torch.Tensor, k: int) -> torch.Tensor:
            return torch.zeros(len(x))

    values = by_name(evaluate_nll(context(UniformBound(), data)))
    assert set(values) == {"nll_bound_k100", "bpd_bound_k100"}
    assert values["bpd_bound_k100"].value == pytest.approx(math.log2(LEVELS))


def test_elbo_only_model_is_scored_as_the_k1_bound():
    data = gaussian_data()
    values = by_name(evaluate_nll(context(ElboOnly(), data), k=50))
    assert set(values) == {"nll_bound_k1"}
    assert values["nll_bound_k1"].value == pytest.approx(scipy_nll(data) + 0.5, rel=1e-6)
    assert values["nll_bound_k1"].protocol["score"] == "elbo"


def test_model_without_any_likelihood_is_not_applicable():
    with pytest.raises(NotApplicable, match="none of log_prob, log_prob_bound, elbo"):
        evaluate_nll(context(Nothing(), gaussian_data()))


def test_k_must_be_positive():
    with pytest.raises(ValueError, match="k must be at least 1"):
        evaluate_nll(context(BoundOnly(), gaussian_data()), k=0)


# ---- the elbo metric ------------------------------------------------------------------------------


def test_elbo_metric_reports_negative_elbo_and_its_parts():
    data = gaussian_data()
    values = by_name(evaluate_elbo(context(ElboOnly(), data)))
    assert set(values) == {"neg_elbo", "elbo_reconstruction_nll", "elbo_kl"}
    assert values["neg_elbo"].value == pytest.approx(scipy_nll(data) + 0.5, rel=1e-6)
    assert values["elbo_reconstruction_nll"].value == pytest.approx(scipy_nll(data) - 0.25, rel=1e-6)
    assert values["elbo_kl"].value == pytest.approx(0.75)
    assert values["neg_elbo"].exactness == "bound"
    assert {v.direction for v in values.values()} == {"lower"}


def test_elbo_of_a_continuous_density_on_levels_carries_the_dequantisation_offset():
    class FlatElbo(benchbench.Model):
        capabilities = frozenset({"elbo"})

        def elbo(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
            return {"elbo": torch.zeros(len(x)), "reconstruction": torch.zeros(len(x)), "kl": torch.zeros(len(x))}

    values = by_name(evaluate_elbo(context(FlatElbo(), discrete_data()[0])))
    assert values["neg_elbo"].value == pytest.approx(DIM * math.log(LEVELS))
    assert values["elbo_reconstruction_nll"].value == pytest.approx(DIM * math.log(LEVELS))
    assert values["elbo_kl"].value == 0


def test_elbo_metric_requires_the_elbo_capability():
    spec = by_name(likelihood.benchbench_metrics())["elbo"]
    assert "elbo" in unmet(spec.requires, context(StandardNormal(), gaussian_data()))
    assert unmet(spec.requires, context(ElboOnly(), gaussian_data())) == ""


# ---- the plugin's specs ---------------------------------------------------------------------------


@pytest.mark.parametrize("spec", likelihood.benchbench_metrics(), ids=lambda s: s.name)
def test_spec_defaults_are_the_functions_defaults(spec):
    signature = inspect.signature(spec.resolve())
    assert spec.defaults() == {name: p.default for name, p in list(signature.parameters.items())[1:]}


def test_specs_import_without_torch():
    code = ("import sys; import benchbench_plugins.metrics.likelihood as m; "
            "m.benchbench_metrics(); print('torch' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
