"""The energy-based model plugin: its objectives and normaliser against closed forms, learning on
held-out 8 Gaussians through the host's loop, the contract, errors, divergence and checkpoints.

Numbers that the tests compare are printed (run with ``-s`` to see them). A quadratic energy
``E(x) = ½ xᵀ A Aᵀ x + bᵀ x`` (a Gaussian, log Z in closed form) is injected where a closed form
is needed; elsewhere the default network. Trained models are scored by the real ``nll`` and
``mode_coverage`` metrics, so the numbers are the ones a suite would report.
"""

from __future__ import annotations

import math
from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from benchbench import CapabilityError, Dataset, EvalContext, Model, ModelDiverged
from benchbench.engine.suite import Budget
from benchbench.engine.training import FitPlan, fit
from benchbench.errors import Diverged
from benchbench.nn import Critic
from benchbench.testing import check_model, tiny_datasets
from benchbench_plugins.datasets.toy2d import make_8gaussians
from benchbench_plugins.metrics.clustering.compute import evaluate_mode_coverage
from benchbench_plugins.metrics.likelihood.compute import evaluate_nll
from benchbench_plugins.models import ebm as ebm_plugin
from benchbench_plugins.models.ebm.config import Config
from benchbench_plugins.models.ebm.model import (ContrastiveDivergenceEBM, EnergyModel, NoiseContrastiveEBM,
                                                 ScoreMatchingEBM, build)
from benchbench_plugins.models.ebm.objectives import exact_score_matching, sliced_score_matching

SPEC = ebm_plugin.benchbench_models()[0]
SMALL = {"hidden": 64, "grid": 256}  # the trained 2-D models' size: seconds on one CPU core
TINY_NORMALISER = {"ais_steps": 10, "ais_chains": 8, "grid": 128, "sample_steps": 5, "buffer_size": 64}


# ---- helpers --------------------------------------------------------------------------------------


class Quadratic(nn.Module):
    """``E(x) = ½ xᵀ P x + bᵀ x``, ``P = A Aᵀ``: the Gaussian ``N(−P⁻¹b, P⁻¹)`` up to its normaliser."""

    def __init__(self, a: torch.Tensor, b: torch.Tensor):
        super().__init__()
        self.a, self.b = nn.Parameter(a.clone().float()), nn.Parameter(b.clone().float())

    @classmethod
    def standard(cls, dim: int) -> Quadratic:
        return cls(torch.eye(dim), torch.zeros(dim))

    @property
    def precision(self) -> torch.Tensor:
        return self.a @ self.a.T

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.flatten(1)
        return 0.5 * ((x @ self.precision) * x).sum(1) + x @ self.b

    def mean(self) -> torch.Tensor:
        return -torch.linalg.solve(self.precision, self.b)

    def log_z(self) -> float:
        """``(D/2) log 2π − ½ log det P + ½ bᵀ P⁻¹ b``, in float64."""
        p, b = self.precision.double(), self.b.double()
        return (0.5 * len(b) * math.log(2 * math.pi) - 0.5 * torch.logdet(p) + 0.5 * b @ torch.linalg.solve(p, b)).item()


def gaussian_data(cov: list[list[float]], mean: list[float], n: int = 5000, seed: int = 0) -> Dataset:
    x = np.random.default_rng(seed).multivariate_normal(mean, cov, size=n)
    return Dataset("gaussian", x, x[:100], x[:500], "continuous")


def spec_build(data: Dataset, variant: str, **params: object) -> EnergyModel:
    """Build as the host does: spec defaults, then the variant's parameters, then the suite's."""
    energy = params.pop("energy", None)
    return build(data, variant=variant, energy=energy, **{**SPEC.defaults(), **SPEC.variants[variant], **params})


def train(model: Model, data: Dataset, steps: int, batch_size: int = 128, seed: int = 0) -> Model:
    plan = FitPlan(Budget("steps", steps), batch_size=batch_size, progress=False)
    fit(model, torch.as_tensor(data.train), None, plan, seed=seed)
    return model.eval()


def relative_error(a: torch.Tensor, b: torch.Tensor) -> float:
    return (torch.linalg.norm(a.double() - b.double()) / torch.linalg.norm(b.double())).item()


def gaussian_fit_nll(data: Dataset) -> float:
    """Test NLL in nats of the full-covariance Gaussian fitted (by numpy) to the train split."""
    mean, cov = data.train.mean(0), np.cov(data.train.T)
    d = data.test - mean
    mahalanobis = np.einsum("ni,ij,nj->n", d, np.linalg.inv(cov), d)
    return float(np.mean(0.5 * mahalanobis + 0.5 * np.log(np.linalg.det(2 * np.pi * cov))))


def context(model: Model, data: Dataset, samples: torch.Tensor | None = None) -> EvalContext:
    return EvalContext(model, data, samples, "cpu", 0, Path("unused-cache"))


@pytest.fixture(scope="module")
def eight() -> Dataset:
    return make_8gaussians(n_train=5000, n_val=10, n_test=2000, data_seed=0, std=0.2, radius=2.0)


TRAINING = {  # variant → (parameters, steps, batch size): what the quick suite can afford
    "cd": ({**SMALL}, 400, 128),
    "score-matching": ({**SMALL}, 500, 128),
    "nce": ({**SMALL, "lr": 2e-3, "lr_half_life": 400}, 2000, 256),  # NCE's c settles only as the lr decays
}


@pytest.fixture(scope="module")
def trained(eight: Dataset) -> dict[str, EnergyModel]:
    """Each variant trained on 8 Gaussians, lazily: a test asking for one trains only that one."""

    class Lazy(dict):
        def __missing__(self, variant: str) -> EnergyModel:
            params, steps, batch_size = TRAINING[variant]
            torch.manual_seed(0)
            self[variant] = train(spec_build(eight, variant, **params), eight, steps, batch_size)
            return self[variant]

    return Lazy()


# ---- the objectives against closed forms ----------------------------------------------------------


@pytest.mark.parametrize("projection", ["rademacher", "gaussian"])
def test_sliced_score_matching_is_unbiased_for_the_exact_objective(projection):
    """Same network, same data: SSM-VR averaged over many projections equals Hyvärinen's exact
    objective within a few standard errors (only the trace term is random)."""
    torch.manual_seed(0)
    energy = Critic((4,), hidden=16, depth=2, activation=nn.SiLU)
    x = torch.randn(64, 4)
    exact = exact_score_matching(energy, x)[0].mean().item()
    draws = torch.stack([sliced_score_matching(energy, x, 1, projection)[0].mean().detach() for _ in range(400)])
    mean, sem = draws.mean().item(), (draws.std() / math.sqrt(len(draws))).item()
    print(f"\nscore matching ({projection}): exact {exact:.5f}, sliced {mean:.5f} ± {sem:.5f}")
    assert abs(mean - exact) < 4 * sem and sem > 0
    many = sliced_score_matching(energy, x, 400, projection)[0].mean().item()  # projections average inside too
    assert abs(many - exact) < 4 * sem


def test_exact_score_matching_equals_its_closed_form_on_a_quadratic():
    """E = ½ xᵀPx + bᵀx: J(x) = −tr P + ½ ‖P x + b‖²."""
    torch.manual_seed(0)
    energy = Quadratic(torch.randn(3, 3), torch.randn(3))
    x = torch.randn(10, 3)
    p = energy.precision.detach()
    expected = -p.trace() + 0.5 * ((x @ p + energy.b.detach()) ** 2).sum(1)
    torch.testing.assert_close(exact_score_matching(energy, x)[0].detach(), expected, rtol=1e-5, atol=1e-5)


def test_score_matching_with_a_quadratic_energy_recovers_the_data_precision():
    cov = [[1.0, 0.5, 0.0], [0.5, 2.0, 0.3], [0.0, 0.3, 0.5]]
    data = gaussian_data(cov, [1.0, -1.0, 0.5])
    torch.manual_seed(0)
    energy = Quadratic.standard(3)
    model = train(spec_build(data, "score-matching", energy=energy, lr=0.02, lr_half_life=300), data, 1500, 256)
    assert isinstance(model, ScoreMatchingEBM) and model.exact  # 3 dimensions: the exact trace
    truth = torch.linalg.inv(torch.tensor(cov))
    error = relative_error(energy.precision.detach(), truth)
    print(f"\nscore matching: precision {energy.precision.detach().numpy().round(3).tolist()}, true "
          f"{truth.numpy().round(3).tolist()}, relative error {error:.3f}; mean {energy.mean().detach().tolist()}")
    assert error < 0.1
    assert torch.allclose(energy.mean().detach(), torch.tensor([1.0, -1.0, 0.5]), atol=0.05)


def test_nce_with_a_quadratic_energy_recovers_the_parameters_and_log_z():
    cov, mean = [[1.0, 0.6], [0.6, 0.8]], [0.5, -1.0]
    data = gaussian_data(cov, mean)
    torch.manual_seed(0)
    energy = Quadratic.standard(2)
    model = train(spec_build(data, "nce", energy=energy, lr=0.05, lr_half_life=300), data, 1500, 256)
    truth = torch.linalg.inv(torch.tensor(cov))
    error, c = relative_error(energy.precision.detach(), truth), model.log_c.item()
    true_log_z = Quadratic(torch.linalg.cholesky(truth), -truth @ torch.tensor(mean)).log_z()
    print(f"\nnce: precision error {error:.3f}, mean {energy.mean().detach().tolist()}, c {c:.4f}, log Z of the "
          f"learned energy {energy.log_z():.4f}, of the true one {true_log_z:.4f}, by the grid {model.log_z().value:.4f}")
    assert error < 0.1
    assert torch.allclose(energy.mean().detach(), torch.tensor(mean), atol=0.05)
    assert abs(c - energy.log_z()) < 0.05 and abs(c - true_log_z) < 0.05


# ---- the normaliser -------------------------------------------------------------------------------


def test_grid_log_z_of_a_gaussian_energy_matches_the_closed_form():
    cov, mean = [[0.5, 0.2], [0.2, 0.3]], [1.0, -0.5]
    data = gaussian_data(cov, mean, n=2000)
    p = torch.linalg.inv(torch.tensor(cov))
    energy = Quadratic(torch.linalg.cholesky(p), -p @ torch.tensor(mean))
    model = spec_build(data, "cd", energy=energy)
    log_z, protocol = model.log_z().value, model.log_prob_protocol()
    print(f"\ngrid log Z {log_z:.6f}, closed form {energy.log_z():.6f}, mass outside the grid "
          f"{protocol['grid_mass_outside']:.2e}")
    assert abs(log_z - energy.log_z()) < 1e-4
    assert protocol["log_z_method"] == "grid" and protocol["grid"] == 512 and 0 <= protocol["grid_mass_outside"] < 1e-3
    x = torch.as_tensor(data.test[:5])
    expected = torch.distributions.MultivariateNormal(torch.tensor(mean), torch.tensor(cov)).log_prob(x)
    torch.testing.assert_close(model.log_prob(x).detach(), expected, rtol=1e-4, atol=1e-4)


def test_the_grid_reports_and_adds_the_mass_outside_it():
    """A grid with no margin over a Gaussian cuts its tails: the wider grid finds them."""
    data = gaussian_data([[1.0, 0.0], [0.0, 1.0]], [0.0, 0.0], n=200)
    energy = Quadratic.standard(2)
    model = spec_build(data, "cd", energy=energy, grid_margin=0.0)
    protocol = model.log_prob_protocol()
    print(f"\nno margin: mass outside {protocol['grid_mass_outside']:.4f}, log Z {protocol['log_z']:.5f} "
          f"(closed form {energy.log_z():.5f})")
    assert 1e-3 < protocol["grid_mass_outside"] < 0.2
    assert abs(protocol["log_z"] - energy.log_z()) < 1e-3


def test_log_z_is_cached_and_forgotten_after_a_training_step(eight):
    torch.manual_seed(0)
    model = spec_build(eight, "score-matching", hidden=16, grid=128)
    first = model.log_z()
    assert model.log_z() is first
    model.train_step(torch.as_tensor(eight.train[:64]))
    assert model.cached_log_z is None and model.log_z().value != first.value


# ---- learning on held-out 8 Gaussians -------------------------------------------------------------


def test_nce_on_8_gaussians_integrates_to_one(trained):
    """NCE's learned c is its own normaliser: exp(−E − c) integrates (on the grid) to about 1."""
    model = trained["nce"]
    mass = math.exp(model.log_z().value - model.log_c.item())
    print(f"\nnce on 8 Gaussians: ∫ exp(−E − c) = {mass:.4f} (c {model.log_c.item():.4f}, grid log Z {model.log_z().value:.4f})")
    assert abs(mass - 1) < 0.05


@pytest.mark.parametrize("variant", list(SPEC.variants))
def test_every_variant_beats_a_gaussian_and_its_samples_cover_the_modes(variant, trained, eight):
    model = trained[variant]
    (nll,) = evaluate_nll(context(model, eight))
    baseline = gaussian_fit_nll(eight)
    torch.manual_seed(1)
    samples = model.sample(2500)
    coverage = {v.name: v for v in evaluate_mode_coverage(context(model, eight, samples))}
    print(f"\n{variant} on 8 Gaussians: test NLL {nll.value:.3f} nats ({nll.exactness}, log Z by "
          f"{nll.protocol['log_z_method']}), fitted Gaussian {baseline:.3f}; modes covered "
          f"{coverage['modes_covered'].value} of 8, high quality {coverage['high_quality_fraction'].value:.3f}")
    assert nll.exactness == "estimate" and nll.protocol["log_z_method"] == "grid"
    assert nll.value < baseline - 0.5
    assert coverage["modes_covered"].value >= 6


def test_cd_reports_its_chains_diagnostics(eight):
    torch.manual_seed(0)
    model = spec_build(eight, "cd", hidden=16, grid=128)
    losses = model.train_step(torch.as_tensor(eight.train[:64]))
    assert set(losses) == {"loss", "energy_gap", "chain_grad_norm"} and losses["chain_grad_norm"] > 0


# ---- sampling -------------------------------------------------------------------------------------


def test_mala_sampling_reports_its_acceptance_rate_and_cost(eight):
    torch.manual_seed(0)
    energy = Quadratic(5 * torch.eye(2), torch.zeros(2))  # N(0, 0.2² I): steps of 0.02 get rejected at times
    model = spec_build(eight, "score-matching", energy=energy, grid=128, sampler="mala", sample_steps=20,
                       sample_step_size=0.02)
    assert model.sampling_values() == []
    model.sample(50)
    values = {v.name: v for v in model.sampling_values()}
    print(f"\nmala: acceptance {values['mala_acceptance_rate'].value:.3f}")
    assert values["energy_gradient_evals_per_sample"].value == 21 and 0 < values["mala_acceptance_rate"].value < 1
    assert all(v.exactness == "measured" for v in values.values())
    assert values["mala_acceptance_rate"].protocol == {"n": 50}
    assert model.sampling_protocol() == {"method": "mala", "steps": 20, "step_size": 0.02,
                                         "noise_scale": "sqrt(2 step_size)", "init": "noise"}
    assert values["energy_gradient_evals_per_sample"].direction == "lower" and values["energy_gradient_evals_per_sample"].unit == "evals/sample"


def test_cd_can_sample_from_its_replay_buffer(eight):
    model = spec_build(eight, "cd", hidden=16, grid=128, sample_init="buffer", sample_steps=1, sample_step_size=1e-8,
                       noise_scale=0.0, buffer_size=10)
    model.buffer.states.copy_(torch.tensor([3.0, -3.0]).expand(10, 2))
    torch.testing.assert_close(model.sample(4), torch.tensor([3.0, -3.0]).expand(4, 2))


def test_chains_can_start_from_the_gaussian_fitted_to_the_train_split(eight):
    """``sample_init = "base"``: with chains that do not move, the samples are that Gaussian's, so
    their mean and full covariance are the train split's (8 Gaussians: correlated only by chance)."""
    model = spec_build(eight, "score-matching", hidden=16, grid=128, sample_init="base", sample_steps=1,
                       sample_step_size=1e-8, noise_scale=0.0)
    torch.manual_seed(0)
    samples, train = model.sample(20_000), torch.as_tensor(eight.train)
    torch.testing.assert_close(samples.mean(0), train.mean(0), atol=0.05, rtol=0)
    torch.testing.assert_close(torch.cov(samples.T), torch.cov(train.T), atol=0.08, rtol=0)
    protocol = model.sampling_protocol()
    assert protocol["init"] == "base" and protocol["init_density"] == "full-covariance Gaussian fitted to the train split"


def test_samples_of_data_with_levels_are_stored_values():
    data = tiny_datasets()["discrete"]
    torch.manual_seed(0)
    samples = spec_build(data, "cd", **TINY_NORMALISER).sample(20)
    assert samples.shape == (20, 1, 8, 8) and samples.min() >= 0 and samples.max() <= 1
    assert torch.equal(samples * 16, (samples * 16).round())


# ---- the contract, the spec, errors ----------------------------------------------------------------


@pytest.mark.parametrize("variant", list(SPEC.variants))
@pytest.mark.parametrize("kind", ["continuous", "discrete", "binary"])
def test_contract(kind, variant):
    model = check_model(SPEC, tiny_datasets()[kind], variant, **TINY_NORMALISER)
    assert model.log_prob_exactness == "estimate" and model.capabilities == {"log_prob"}
    protocol = model.log_prob_protocol()
    assert protocol["log_z_method"] == ("grid" if kind == "continuous" else "ais") and math.isfinite(protocol["log_z"])
    assert ("learned_log_z" in protocol) == (variant == "nce")
    assert [v.name for v in model.sampling_values()] == ["energy_gradient_evals_per_sample"]


def test_score_matching_is_exact_in_few_dimensions_and_sliced_on_images():
    assert spec_build(tiny_datasets()["continuous"], "score-matching", **TINY_NORMALISER).exact
    assert not spec_build(tiny_datasets()["binary"], "score-matching", **TINY_NORMALISER).exact
    assert spec_build(tiny_datasets()["binary"], "score-matching", sm_method="exact", **TINY_NORMALISER).exact


def test_nce_with_flow_noise_fits_the_flow_first():
    data = tiny_datasets()["continuous"]
    torch.manual_seed(0)
    model = spec_build(data, "nce", noise="flow", noise_steps=2, **TINY_NORMALISER)
    x = torch.as_tensor(data.train[:32])
    assert [set(model.train_step(x)) for _ in range(3)] == [{"noise_nll"}, {"noise_nll"}, {"loss", "energy_gap", "log_c"}]
    assert model.noise_opt in model.optimizers() and int(model.steps_done) == 3


def test_nce_can_take_a_realnvp_as_its_noise_on_images():
    check_model(SPEC, tiny_datasets()["discrete"], "nce", steps=3, noise="flow", noise_flow="realnvp", noise_steps=2,
                **TINY_NORMALISER)


BAD = {
    "step_size": ("cd", {"step_size": 0}, "step_size must be positive, got 0"),
    "sample_step_size": ("nce", {"sample_step_size": -0.1}, "sample_step_size must be positive, got -0.1"),
    "langevin_steps": ("cd", {"langevin_steps": 0}, "langevin_steps must be at least 1, got 0"),
    "sample_steps": ("score-matching", {"sample_steps": 0}, "sample_steps must be at least 1, got 0"),
    "reinit": ("cd", {"reinit": 1.5}, r"reinit must be a probability in \[0, 1\], got 1.5"),
    "grid": ("cd", {"grid": 32}, "grid must be at least 64 cells per axis, got 32"),
    "grid too coarse": ("cd", {"grid": 64, "grid_margin": 2.0}, "grid of 64 cells is too coarse for '8gaussians'"),
    "ais_steps": ("cd", {"ais_steps": 0}, "ais_steps must be at least 1, got 0"),
    "sm_method": ("score-matching", {"sm_method": "approx"}, "sm_method must be one of auto, exact, sliced, got 'approx'"),
    "sampler": ("cd", {"sampler": "hmc"}, "sampler must be one of langevin, mala, got 'hmc'"),
    "noise": ("nce", {"noise": "uniform"}, "noise must be one of gaussian, flow, got 'uniform'"),
    "noise_flow": ("nce", {"noise_flow": "iaf"}, "noise_flow must be one of maf, realnvp, got 'iaf'"),
    "sample_init": ("nce", {"sample_init": "buffer"}, "sample_init 'buffer' needs the replay buffer of variant 'cd'"),
    "noise_scale": ("cd", {"noise_scale": -1.0}, "noise_scale must be None"),
    "unknown parameter": ("cd", {"stepsize": 0.1}, "unknown parameter stepsize; available: "),
}


@pytest.mark.parametrize("variant, params, message", BAD.values(), ids=BAD.keys())
def test_bad_parameters_are_a_capability_error_naming_model_variant_and_parameter(variant, params, message, eight):
    with pytest.raises(CapabilityError, match=rf"^model 'ebm', variant '{variant}': {message}"):
        spec_build(eight, variant, **params)


def test_an_unknown_variant_is_a_capability_error(eight):
    with pytest.raises(CapabilityError, match="model 'ebm', variant 'pcd': unknown variant; available: cd, score-matching, nce"):
        build(eight, variant="pcd")


def test_the_spec_lists_every_setting_with_the_configs_default():
    assert SPEC.defaults() == {f.name: f.default for f in fields(Config)}


def test_spec_defaults_build_every_variant(eight):
    for variant in SPEC.variants:
        model = spec_build(eight, variant)
        expected = {"cd": ContrastiveDivergenceEBM, "score-matching": ScoreMatchingEBM, "nce": NoiseContrastiveEBM}
        assert type(model) is expected[variant]


# ---- divergence and checkpoints ---------------------------------------------------------------------


@pytest.mark.parametrize("variant", list(SPEC.variants))
def test_exploding_energies_stop_the_fit_as_diverged(variant, eight):
    energy = Quadratic(1e3 * torch.eye(2), torch.zeros(2))  # E ≈ 5e5 ‖x‖² on data of radius 2
    model = spec_build(eight, variant, energy=energy, grid=128)
    with pytest.raises(ModelDiverged, match=rf"variant '{variant}': an energy reached .* beyond energy_limit = 10000"):
        model.train_step(torch.as_tensor(eight.train[:16]))
    with pytest.raises(Diverged, match="energy_limit") as caught:
        train(spec_build(eight, variant, energy=Quadratic(1e3 * torch.eye(2), torch.zeros(2)), grid=128), eight, 5)
    assert caught.value.step == 1


def test_a_checkpoint_round_trip_keeps_the_replay_buffer_and_the_chains_continue(tmp_path, eight):
    plan = FitPlan(Budget("steps", 4), 32, tmp_path / "ebm.pt", checkpoint_every=4, progress=False)
    torch.manual_seed(0)
    model = spec_build(eight, "cd", hidden=16, grid=128, buffer_size=64)
    initial = model.buffer.states.clone()
    fit(model, torch.as_tensor(eight.train), None, plan, seed=0)
    log_z = model.log_z().value
    torch.manual_seed(1)  # other weights and another buffer until the checkpoint is loaded
    restored = spec_build(eight, "cd", hidden=16, grid=128, buffer_size=64)
    restored.log_z()
    assert not torch.equal(restored.buffer.states, model.buffer.states)
    fit(restored, torch.as_tensor(eight.train), None, plan, seed=0)  # finds the finished checkpoint
    assert not torch.equal(model.buffer.states, initial)  # the chains moved
    assert torch.equal(restored.buffer.states, model.buffer.states)
    assert restored.cached_log_z is None and restored.log_z().value == pytest.approx(log_z, abs=1e-5)
