"""The score model plugin: its objectives, noise levels, SDEs, samplers and likelihood against closed
forms with exact scores (no training), learning on held-out 2-D mixtures through the host's loop,
the contract, bad input, divergence and checkpoints.

The samplers are driven by the exact scores of Gaussians and mixtures (``tests/models/mixtures.py``),
whose noised laws are known at every level. Numbers that the tests compare are printed (run with
``-s`` to see them).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import pytest
import torch
from benchbench_plugins.datasets.toy2d import make_8gaussians, make_25gaussians
from benchbench_plugins.metrics.clustering.compute import evaluate_mode_coverage
from benchbench_plugins.metrics.likelihood.compute import evaluate_nll
from benchbench_plugins.models.score import benchbench_models
from benchbench_plugins.models.score import noise_levels as rules
from benchbench_plugins.models.score.config import Config
from benchbench_plugins.models.score.likelihood import (
    exact_divergence,
    hutchinson_divergence,
    ode_log_likelihood,
)
from benchbench_plugins.models.score.model import (
    NoiseConditionalModel,
    ScoreModel,
    ScoreSDEModel,
    SlicedNoiseConditionalModel,
    build,
)
from benchbench_plugins.models.score.objectives import (
    denoising_score_matching,
    sliced_score_matching_at,
)
from benchbench_plugins.models.score.samplers import (
    annealed_langevin,
    probability_flow_sample,
    reverse_sde_sample,
)
from benchbench_plugins.models.score.sdes import SDE, VESDE, VPSDE
from mixtures import GaussianMixture, biased_mmd2
from scipy.spatial.distance import pdist
from scipy.stats import norm
from torch import nn

from benchbench import CapabilityError, Dataset, EvalContext, Model, ModelDiverged, mcmc
from benchbench.engine.suite import Budget
from benchbench.engine.training import FitPlan, fit
from benchbench.errors import Diverged
from benchbench.nn import EMA, dequantize
from benchbench.score_matching import sliced_score_matching
from benchbench.testing import check_model

SPEC = benchbench_models()[0]
TINY = {"hidden": 16, "depth": 1, "channels": 8, "levels": 2, "max_noise_levels": 3, "langevin_steps": 2,
        "sample_steps": 4}  # contract checks: a few network evaluations per sample


# ---- helpers ---------------------------------------------------------------------------------------


def spec_build(data: Dataset, variant: str, **params: object) -> ScoreModel:
    """Build as the host does: spec defaults, then the variant's parameters, then the suite's."""
    return build(data, variant=variant, **{**SPEC.defaults(), **SPEC.variants[variant], **params})


def train(model: Model, data: Dataset, steps: int, batch_size: int, checkpoint: Path | None = None) -> Model:
    """Fit through the host's loop, with its dequantisation of data with levels."""
    levels = data.levels
    transform = (lambda b, g: dequantize(b, levels, g)) if levels else None
    plan = FitPlan(Budget("steps", steps), batch_size=batch_size, progress=False, transform=transform,
                   checkpoint=checkpoint, checkpoint_every=10**9)
    fit(model, torch.as_tensor(data.train), None, plan, seed=0)
    return model.eval()


@dataclass(frozen=True)
class Gaussian:
    """``N(mean, cov)`` in float64 and its law under a linear SDE's kernel, for exact scores."""

    mean: torch.Tensor  # (D,)
    cov: torch.Tensor  # (D, D)

    @classmethod
    def of(cls, mean: list[float], cov: list[list[float]]) -> Gaussian:
        return cls(torch.tensor(mean, dtype=torch.float64), torch.tensor(cov, dtype=torch.float64))

    def noised(self, sde: SDE, t: torch.Tensor) -> Gaussian:
        """The law of ``scale(t) x + std(t) z``."""
        scale, std = sde.scale(t).double(), sde.std(t).double()
        identity = torch.eye(len(self.mean), dtype=torch.float64)
        return Gaussian(scale * self.mean, scale**2 * self.cov + std**2 * identity)

    def distribution(self) -> torch.distributions.MultivariateNormal:
        return torch.distributions.MultivariateNormal(self.mean, self.cov)

    def score(self, x: torch.Tensor) -> torch.Tensor:
        return (-(x.double() - self.mean) @ torch.linalg.inv(self.cov)).to(x.dtype)


def exact_sde_score(law: Gaussian, sde: SDE):
    """``∇ log p_t`` of Gaussian data under ``sde``: a score callable ``(x, t)`` for the samplers."""
    return lambda x, t: law.noised(sde, t).score(x)


def context(model: Model, data: Dataset, samples: torch.Tensor | None = None, batch_size: int = 128) -> EvalContext:
    return EvalContext(model, data, samples, "cpu", 0, Path("unused-cache"), batch_size=batch_size)


# ---- the objectives --------------------------------------------------------------------------------


class Linear(nn.Module):
    """``s(x) = A x + b``: the family that holds the score of a Gaussian."""

    def __init__(self, dim: int):
        super().__init__()
        self.a = nn.Parameter(torch.zeros(dim, dim, dtype=torch.float64))
        self.b = nn.Parameter(torch.zeros(dim, dtype=torch.float64))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x @ self.a.T + self.b


def test_the_denoising_score_matching_optimum_is_the_score_of_the_noised_gaussian():
    """Linear scores ``A x + b`` on ``N(μ, s² I)`` noised by σ: the least-squares regression of
    DSM's target ``−z/σ`` on ``(x̃, 1)`` is where the plugin's objective has zero gradient, and it is
    the analytic ``−(x − μ)/(s² + σ²)`` up to Monte Carlo error."""
    torch.manual_seed(0)
    n, mu, s, sigma = 200_000, torch.tensor([1.0, -2.0], dtype=torch.float64), 0.7, 0.5
    x0 = mu + s * torch.randn(n, 2, dtype=torch.float64)
    z = torch.randn(n, 2, dtype=torch.float64)
    design = torch.cat([x0 + sigma * z, torch.ones(n, 1, dtype=torch.float64)], 1)
    solution = torch.linalg.lstsq(design, -z / sigma).solution  # (3, 2): [Aᵀ; bᵀ]
    model = Linear(2)
    with torch.no_grad():
        model.a.copy_(solution[:2].T)
        model.b.copy_(solution[2])
    ones, std = torch.ones(n, dtype=torch.float64), torch.full((n,), sigma, dtype=torch.float64)
    loss = denoising_score_matching(model, x0, ones, std, z).mean()
    grads = torch.autograd.grad(loss, [model.a, model.b])
    print(f"\nDSM optimum: A {model.a.detach().numpy().round(4).tolist()}, "
          f"b {model.b.detach().numpy().round(4).tolist()}; "
          f"analytic A = -I/{s**2 + sigma**2:.2f}, b = {(mu / (s**2 + sigma**2)).numpy().round(4).tolist()}")
    assert max(g.abs().max().item() for g in grads) < 1e-8
    analytic = -torch.eye(2, dtype=torch.float64) / (s**2 + sigma**2)
    torch.testing.assert_close(model.a.detach(), analytic, atol=0.01, rtol=0)
    torch.testing.assert_close(model.b.detach(), mu / (s**2 + sigma**2), atol=0.02, rtol=0)


def test_sliced_score_matching_at_a_level_has_the_noised_score_as_its_optimum():
    """For a linear score the sliced objective ``σ² (vᵀ A v + ½ ‖A x̃ + b‖²)`` averaged over
    projections is ``σ² (tr A + ½ E‖A x̃ + b‖²)``, minimised at ``A = −Cov(x̃)⁻¹``, ``b = −A E[x̃]``
    (the empirical moments): its gradient there vanishes up to the projections' noise."""
    torch.manual_seed(0)
    n, sigma = 20_000, 0.3
    x0 = torch.tensor([0.5, 1.0], dtype=torch.float64) + 0.8 * torch.randn(n, 2, dtype=torch.float64)
    z = torch.randn(n, 2, dtype=torch.float64)
    noisy = x0 + sigma * z
    model = Linear(2)
    with torch.no_grad():
        model.a.copy_(-torch.linalg.inv(torch.cov(noisy.T, correction=0)))
        model.b.copy_(-model.a @ noisy.mean(0))
    ones, std = torch.ones(n, dtype=torch.float64), torch.full((n,), sigma, dtype=torch.float64)
    loss = sliced_score_matching_at(model, x0, ones, std, z, 8, "rademacher").mean()
    grads = torch.autograd.grad(loss, [model.a, model.b])
    moved = Linear(2)
    with torch.no_grad():
        moved.a.copy_(model.a * 1.2)
        moved.b.copy_(model.b)
    worse = sliced_score_matching_at(moved, x0, ones, std, z, 8, "rademacher").mean()
    print(f"\nSSM at the optimum: loss {loss.item():.5f}, gradient max {max(g.abs().max().item() for g in grads):.2e}; "
          f"A scaled by 1.2: {worse.item():.5f}")
    assert max(g.abs().max().item() for g in grads) < 0.01 * sigma**2
    assert worse.item() > loss.item() + 1e-3


@pytest.mark.parametrize("projection", ["rademacher", "gaussian"])
def test_shared_sliced_score_matching_is_unbiased_for_a_score_that_is_no_gradient(projection):
    """SSM-VR for a general vector field ``s: R³ → R³`` (an MLP, no energy behind it): the mean over
    many projections equals ``tr ∇s + ½ ‖s‖²``, the trace from the full Jacobian."""
    torch.manual_seed(0)
    field = nn.Sequential(nn.Linear(3, 16), nn.Tanh(), nn.Linear(16, 3)).double()
    x = torch.randn(32, 3, dtype=torch.float64, requires_grad=True)
    s = field(x)
    jacobians = torch.stack([torch.autograd.functional.jacobian(field, row) for row in x.detach()])
    exact = (torch.diagonal(jacobians, dim1=1, dim2=2).sum(1) + 0.5 * (s**2).sum(1)).mean().item()
    draws = torch.stack([sliced_score_matching(x, s, 1, projection).mean().detach() for _ in range(400)])
    mean, sem = draws.mean().item(), (draws.std() / math.sqrt(len(draws))).item()
    print(f"\nSSM-VR ({projection}) on a non-conservative field: exact {exact:.5f}, sliced {mean:.5f} ± {sem:.5f}")
    assert abs(mean - exact) < 4 * sem and sem > 0


# ---- NCSNv2's rules ---------------------------------------------------------------------------------


def test_technique_1_sigma_max_is_the_largest_pairwise_distance():
    x = torch.as_tensor(np.random.default_rng(0).normal(size=(300, 5)))
    assert rules.largest_distance(x, 1000) == pytest.approx(pdist(x.numpy()).max(), rel=1e-12)
    subset = rules.largest_distance(x, 100)  # a random 100 of the 300: at most the full maximum
    assert 0.5 * pdist(x.numpy()).max() < subset <= pdist(x.numpy()).max()


@pytest.mark.parametrize("dim", [16, 64, 784, 3072])
def test_technique_2_ratio_solves_its_equation(dim):
    gamma = rules.overlap_ratio(dim)
    a = math.sqrt(2 * dim)
    overlap = norm.cdf(a * (gamma - 1) + 3 * gamma) - norm.cdf(a * (gamma - 1) - 3 * gamma)
    print(f"\ntechnique 2, D = {dim}: gamma = {gamma:.5f}, overlap {overlap:.6f}")
    assert gamma > 1 and overlap == pytest.approx(0.5, abs=1e-9)
    sigmas = rules.geometric_sigmas(50.0, 0.01, rules.levels_for_ratio(50.0, 0.01, gamma, 10**6))
    ratios = sigmas[:-1] / sigmas[1:]
    assert torch.allclose(ratios, ratios[0]) and ratios[0] <= gamma  # geometric, overlapping enough
    assert (50.0 / 0.01) ** (1 / (len(sigmas) - 2)) > gamma  # one level fewer would not be
    assert sigmas[0].item() == pytest.approx(50.0) and sigmas[-1].item() == pytest.approx(0.01)


def test_technique_2_sets_no_number_in_two_dimensions_and_the_cap_does():
    """For D ≤ 4 the overlap never falls to one half: every ratio overlaps enough."""
    assert all(norm.cdf(2 * (g - 1) + 3 * g) - norm.cdf(2 * (g - 1) - 3 * g) > 0.99 for g in (1.01, 2, 10, 1000))
    assert rules.overlap_ratio(2) is None and rules.levels_for_ratio(5.0, 0.01, None, 30) == 30
    assert rules.levels_for_ratio(50.0, 0.01, rules.overlap_ratio(3072), 100) == 100


@pytest.mark.parametrize("sigma_max, levels, published", [(50.0, 232, 6.2e-6), (90.0, 500, 3.3e-6)],
                         ids=["cifar10", "celeba"])
def test_technique_4_gives_ncsnv2s_published_step_sizes(sigma_max, levels, published):
    """NCSNv2's configurations (σ_L = 0.01, T = 5): CIFAR-10 ε = 6.2e-6, CelebA 3.3e-6."""
    gamma = (sigma_max / 0.01) ** (1 / (levels - 1))
    step = rules.langevin_step_size(gamma, 5, 0.01)
    print(f"\ntechnique 4: eps {step:.4g}, published {published:g}")
    assert step == pytest.approx(published, rel=0.02)


def test_technique_4_variance_is_what_langevin_gives_and_its_step_is_the_minimiser():
    """Eq. 6 against a simulation: ``T`` Langevin steps of size ``ε σ_i²/σ_L²`` on ``N(0, σ_i²)``
    (one training point at the origin) from ``N(0, γ² σ_i²)``; and ε minimises the ratio."""
    torch.manual_seed(0)
    gamma, steps, sigma_min, sigma = 1.5, 5, 0.1, 0.7
    step = rules.langevin_step_size(gamma, steps, sigma_min)
    x = gamma * sigma * torch.randn(200_000, 1, dtype=torch.float64)
    x, _ = mcmc.langevin(lambda y: -y / sigma**2, x, steps, step * sigma**2 / sigma_min**2)
    simulated, closed = x.var().item() / sigma**2, rules.variance_ratio(step / sigma_min**2, gamma, steps)
    print(f"\ntechnique 4: eps {step:.4g}, s_T^2/sigma^2 closed form {closed:.4f}, simulated {simulated:.4f}")
    assert simulated == pytest.approx(closed, rel=0.01) and closed > 1
    for factor in (0.9, 1.1):
        assert rules.variance_ratio(factor * step / sigma_min**2, gamma, steps) > closed


# ---- the SDEs ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("sde", [VESDE(0.01, 5.0), VPSDE(0.1, 20.0)], ids=["ve", "vp"])
def test_the_kernels_are_the_laws_of_the_forward_sde(sde):
    """Euler-Maruyama with fine steps of ``dx = f dt + g dw`` from a point ``x_0`` at ``t = 0.3``
    to ``t = 0.8``: mean and variance match ``marginal_prob`` (for VE, the variance added is
    ``std(0.8)² − std(0.3)²``, the data being seen already perturbed by ``σ(0)``)."""
    torch.manual_seed(0)
    x0, start, end, steps = 1.5, 0.3, 0.8, 1000
    x = torch.full((10_000, 1), x0, dtype=torch.float64)
    dt = (end - start) / steps
    for i in range(steps):
        t = torch.tensor(start + i * dt, dtype=torch.float64)
        drift, diffusion = sde.sde(x, t)
        x = x + drift * dt + diffusion * math.sqrt(dt) * torch.randn_like(x)
    t0, t1 = torch.tensor(start, dtype=torch.float64), torch.tensor(end, dtype=torch.float64)
    scale = sde.scale(t1) / sde.scale(t0)
    variance = sde.std(t1) ** 2 - scale**2 * sde.std(t0) ** 2
    print(f"\n{type(sde).__name__}: mean {x.mean().item():.4f} vs {(scale * x0).item():.4f}, "
          f"variance {x.var().item():.4f} vs {variance.item():.4f}")
    assert x.mean().item() == pytest.approx((scale * x0).item(), abs=4 * variance.sqrt().item() / math.sqrt(len(x)))
    assert x.var().item() == pytest.approx(variance.item(), rel=0.05)


# ---- the samplers, with exact scores -------------------------------------------------------------------


def test_annealed_langevin_recovers_mode_weights_that_plain_langevin_misses():
    """Song & Ermon 2019, Figure 3: ``0.8 N((5, 5), I) + 0.2 N((−5, −5), I)``, chains from uniform
    noise on [−8, 8]², σ_1 by technique 1 down to σ_L = 1 in L = 10 levels, T = 100, ε by
    technique 4. Plain Langevin at σ_L with the same steps finds both modes but not their weights."""
    torch.manual_seed(0)
    mixture = GaussianMixture.of([0.8, 0.2], [[5.0, 5.0], [-5.0, -5.0]], 1.0)
    sigma_max = rules.largest_distance(mixture.sample(1000)[0], 2000)
    sigmas = rules.geometric_sigmas(sigma_max, 1.0, 10)
    step = rules.langevin_step_size(float(sigmas[0] / sigmas[1]), 100, 1.0)

    def score(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        return mixture.noised(1.0, float(sigma)).score(x)

    start = 16 * torch.rand(3000, 2, dtype=torch.float64) - 8
    annealed, evals = annealed_langevin(score, start, sigmas, 100, step, denoise=True)
    plain, _ = mcmc.langevin(lambda x: score(x, sigmas[-1]), start, 10 * 100, step)
    a, p = mixture.mode_weights(annealed), mixture.mode_weights(plain)
    print(f"\nmode weights (true 0.8 / 0.2): annealed {a.numpy().round(3).tolist()}, "
          f"plain {p.numpy().round(3).tolist()}")
    assert evals == 10 * 100 + 1
    assert abs(a[0].item() - 0.8) < 0.05
    assert abs(p[0].item() - 0.8) > 0.15
    assert mixture.high_quality_fraction(annealed) > 0.95


GAUSSIAN = Gaussian.of([0.5, -0.3], [[1.0, 0.6], [0.6, 0.8]])
SAMPLERS = {  # name → (predictor, corrector steps), or the ODE
    "reverse-diffusion": ("reverse-diffusion", 0),
    "euler-maruyama": ("euler-maruyama", 0),
    "pc": ("reverse-diffusion", 1),
    "ode": None,
}


@pytest.mark.parametrize("sampler", list(SAMPLERS))
@pytest.mark.parametrize("sde", [VESDE(0.01, 50.0), VPSDE(0.1, 20.0)], ids=["ve", "vp"])
def test_reverse_samplers_with_the_exact_score_reproduce_a_correlated_gaussian(sde, sampler):
    """``N(μ, Σ)``, correlated, from the prior by each sampler: mean and covariance within a few
    standard errors (0.01 and 0.014 with 10,000 samples) plus the discretisation's bias at N = 400
    (at most 0.02, VE's reverse diffusion, measured on 100,000 samples; a wrong factor in ``g²``
    moves the covariance by tenths). σ_max is five times technique 1's distance here: the
    deterministic ODE carries the prior's mismatch with ``p_T`` (its mean is 0, not μ) to the
    samples, a shift of about ``|μ| std_data / σ_max``."""
    torch.manual_seed(0)
    n, steps = 10_000, 400
    start = sde.prior_sampling((n, 2)).double()
    score = exact_sde_score(GAUSSIAN, sde)
    if SAMPLERS[sampler] is None:
        x, evals = probability_flow_sample(sde, score, start, 1e-5, 1e-5, 1e-5, denoise=True)
    else:
        predictor, correctors = SAMPLERS[sampler]
        x, evals = reverse_sde_sample(sde, score, start, steps, 1e-5, predictor, correctors, 0.16, denoise=True)
        assert evals == steps * (1 + correctors) + 1
    mean_error = (x.mean(0) - GAUSSIAN.mean).abs().max().item()
    cov_error = (torch.cov(x.T) - GAUSSIAN.cov).abs().max().item()
    print(f"\n{type(sde).__name__} {sampler}: {evals} evaluations, mean error {mean_error:.4f}, "
          f"covariance error {cov_error:.4f}")
    assert mean_error < 0.05 and cov_error < 0.08


# ---- the likelihood ---------------------------------------------------------------------------------


@pytest.mark.parametrize("sde", [VESDE(0.01, 100.0), VPSDE(0.1, 20.0)], ids=["ve", "vp"])
def test_probability_flow_likelihood_of_a_gaussian_is_its_closed_form(sde):
    """Zero-mean correlated Gaussian data with its exact score: ``log p_eps`` by the ODE equals the
    closed form of the data's law at ``eps`` within 1e-3 nats per dimension at every point. The
    mean is zero and σ_max large so that ``p_T`` is the prior to better than that: the method takes
    ``p_T`` for the prior, an error of its own of order ``|μ| scale(T) / std(T)`` per point."""
    torch.manual_seed(0)
    law = Gaussian.of([0.0, 0.0], [[1.0, 0.6], [0.6, 0.8]])
    x = law.distribution().sample((200,))
    log_p, nfev = ode_log_likelihood(sde, exact_sde_score(law, sde), x, 1e-5, 1e-5, 1e-5, None)
    truth = law.noised(sde, torch.tensor(1e-5, dtype=torch.float64)).distribution().log_prob(x)
    error = ((log_p - truth).abs() / 2).max().item()
    print(f"\n{type(sde).__name__}: ODE log-likelihood, {nfev} evaluations: worst error {error:.2e} nats/dim")
    assert error < 1e-3


def test_hutchinson_divergence_is_unbiased_and_exact_divergence_is_the_jacobian_trace():
    torch.manual_seed(0)
    field = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 4)).double()
    x = torch.randn(6, 4, dtype=torch.float64, requires_grad=True)
    f = field(x)
    truth = torch.stack([torch.autograd.functional.jacobian(field, row).trace() for row in x.detach()])
    torch.testing.assert_close(exact_divergence(f, x), truth)
    draws = torch.stack([hutchinson_divergence(f, x, torch.randint(0, 2, (1, *x.shape)).double() * 2 - 1)
                         for _ in range(4000)])  # (draws, B): one probe each
    mean, sem = draws.mean(0), draws.std(0) / math.sqrt(len(draws))
    print(f"\nHutchinson: exact {truth.numpy().round(4).tolist()}, "
          f"mean of 4000 probes {mean.numpy().round(4).tolist()}")
    assert ((mean - truth).abs() < 4 * sem).all() and (sem > 0).all()


# ---- learning on held-out 2-D mixtures -----------------------------------------------------------------

MIXTURES = {  # 8 Gaussians' validation split, held out as well, is the likelihood's: half the test split's cost
    "8gaussians": lambda seed, n_test: make_8gaussians(n_train=5000, n_val=1000, n_test=n_test, data_seed=seed,
                                                       std=0.2, radius=2.0),
    "25gaussians": lambda seed, n_test: make_25gaussians(n_train=5000, n_val=10, n_test=n_test, data_seed=seed,
                                                         std=0.1, spacing=1.0),
}
# Seconds on one core: a small MLP, Adam at 5e-3 (the spec's 1e-3 suits the U-Net) and large batches,
# since a step of 512 examples costs only 1.4 times one of 256 here; N = 200 reverse-SDE steps, not 1000.
TOY = {"hidden": 64, "depth": 2, "lr": 5e-3, "sample_steps": 200}
TRAINING = {  # (dataset, variant) → (parameters, steps, batch size)
    ("8gaussians", "ncsn"): ({}, 1000, 512),
    ("8gaussians", "ssm"): ({}, 1500, 512),  # a step costs 1.6 times DSM's (the double backward)
    # The default predictor-corrector's Langevin corrector (snr 0.16) spreads these models' samples:
    # hq 0.84 and MMD² 2.9 times the floor at N = 200, 0.78 and 13 times at N = 1000 (exact scores do
    # not suffer it); the reverse-diffusion predictor alone: hq 0.93, MMD² 0.7 times the floor.
    ("8gaussians", "sde-ve"): ({"sampler": "reverse-diffusion"}, 1000, 512),
    # VP spends few of its uniform t on the small noise that the likelihood needs (std(t) < 0.2 for
    # t < 0.06): the NLL takes more data per step (1000 steps of 512: 0.4 nats above the truth).
    ("8gaussians", "sde-vp"): ({}, 1000, 1024),
    # 25 Gaussians (std 0.1): the sharp modes take the MLP thousands of steps. Measured on data and
    # model seeds 0-2 (high-quality fraction; MMD² in times the floor): ncsn 6000 x 512 0.92-0.93
    # (4000 x 512: 0.84-0.91); ssm 4000 x 1024 0.92-0.93, 1.1-1.8 times (4000 x 512: 0.77 on seed 1,
    # whose sliced objective is the noisier); sde-ve by the default predictor-corrector hq 0.94, MMD²
    # 1.9 times the floor (reverse diffusion alone: hq 0.85).
    ("25gaussians", "ncsn"): ({}, 6000, 512),
    ("25gaussians", "ssm"): ({}, 4000, 1024),
    ("25gaussians", "sde-ve"): ({}, 2000, 512),
    # sde-vp at Song et al.'s beta_max = 20 reaches only hq 0.75 (3000 x 1024; 0.77 with 1000 sampler
    # steps, 0.75 by the ODE: the network, not the sampler): its uniform t then spends little of
    # training at the std(t) < 0.1 that separates these modes. beta_max = 7 still ends at
    # alpha(1) = 0.17, a prior N(0, I) within 3% of the marginal variance, and gives hq 0.88-0.94 and
    # MMD² 0.9-1.3 times the floor on seeds 0-2 at 4000 x 1024.
    ("25gaussians", "sde-vp"): ({"beta_max": 7.0}, 4000, 1024),
}


@pytest.fixture(scope="module")
def mixtures() -> dict[str, Dataset]:
    return {name: make(0, 2000) for name, make in MIXTURES.items()}


@pytest.fixture(scope="module")
def trained(mixtures) -> dict[tuple[str, str], ScoreModel]:
    """Each (dataset, variant) trained once, lazily: a test asking for one trains only that one."""

    class Lazy(dict):
        def __missing__(self, key: tuple[str, str]) -> ScoreModel:
            params, steps, batch_size = TRAINING[key]
            torch.manual_seed(0)
            model = spec_build(mixtures[key[0]], key[1], **TOY, **params)
            self[key] = train(model, mixtures[key[0]], steps, batch_size)
            return self[key]

    return Lazy()


@pytest.fixture(scope="module")
def floors(mixtures) -> dict[str, float]:
    """Per dataset, the MMD² between its test split and an independent draw of the data, averaged
    over four draws (data seeds 1-4): one draw is a noisy floor, on 25 Gaussians a draw of the data
    itself lands anywhere from 0.3 to 4.7 times another's. Lazily, once per dataset: an MMD² of
    2000 against 2000 points takes seconds."""

    class Lazy(dict):
        def __missing__(self, name: str) -> float:
            test = torch.as_tensor(mixtures[name].test)
            draws = [torch.as_tensor(MIXTURES[name](seed, 2000).test) for seed in range(1, 5)]
            self[name] = sum(biased_mmd2(draw, test) for draw in draws) / len(draws)
            return self[name]

    return Lazy()


@pytest.mark.parametrize("dataset, variant", list(TRAINING))
def test_every_variant_covers_the_modes_with_high_quality_samples_close_to_held_out_data(dataset, variant, trained,
                                                                                       mixtures, floors):
    """All modes covered (at least 20 samples within 3 std), at least 80% of the samples within 3
    std of a mode (98.9% for the data), and the MMD² to the test split within 3 times that of
    independent draws of the data (the finite-sample floor, :func:`biased_mmd2`, ``floors``)."""
    data, model = mixtures[dataset], trained[dataset, variant]
    torch.manual_seed(1)
    samples = model.sample(2000)
    coverage = {v.name: v.value for v in evaluate_mode_coverage(context(model, data, samples))}
    test = torch.as_tensor(data.test)
    mmd, floor = biased_mmd2(samples, test), floors[dataset]
    (cost,) = model.sampling_values()
    print(f"\n{variant} on {dataset}: modes covered {coverage['modes_covered']} of {len(data.modes)}, high quality "
          f"{coverage['high_quality_fraction']:.3f}; MMD² to test {mmd:.2e}, data to test {floor:.2e} "
          f"({mmd / floor:.2f}x); {cost.value:.0f} network evaluations per sample")
    assert coverage["modes_covered"] == len(data.modes)
    assert coverage["high_quality_fraction"] >= 0.8
    assert mmd <= 3 * floor


@pytest.mark.parametrize("variant", ["sde-ve", "sde-vp"])
def test_the_probability_flow_nll_on_held_out_data_is_close_to_the_true_densitys(variant, trained, mixtures):
    """The ODE's NLL on held-out points, by the nll metric, within 0.2 nats of the data's own (its
    exact density), the split drawn independently of the training data."""
    data, model = mixtures["8gaussians"], trained["8gaussians", variant]
    (nll,) = evaluate_nll(context(model, data, batch_size=len(data.val)), split="val")
    truth = float(-data.log_density(data.val).mean())
    print(f"\n{variant} on 8 Gaussians: held-out NLL {nll.value:.3f} nats ({nll.exactness}; "
          f"{nll.protocol['solver_evals_per_batch']:.0f} solver evaluations), true density {truth:.3f}")
    assert nll.exactness == "estimate" and nll.protocol["divergence"] == "exact trace"
    assert abs(nll.value - truth) < 0.2


# ---- the contract, the spec, errors ----------------------------------------------------------------


@pytest.mark.parametrize("variant", list(SPEC.variants))
@pytest.mark.parametrize("dataset", ["8gaussians", "digits"])
def test_contract(dataset, variant, mixtures, digits):
    data = mixtures["8gaussians"] if dataset == "8gaussians" else digits
    model = check_model(SPEC, data, variant, **TINY)
    sde = variant.startswith("sde")
    assert model.capabilities == ({"log_prob"} if sde else set())
    (cost,) = model.sampling_values()
    assert (cost.name, cost.direction, cost.unit, cost.exactness) == ("network_evals_per_sample", "lower",
                                                                      "evals/sample", "measured")
    expected = {"ncsn": 3 * 2, "ssm": 3 * 2, "sde-ve": 4 * (1 + 1), "sde-vp": 4}  # AL: L T; PC: N (1 + C); EM: N
    assert cost.value == expected[variant] + 1  # + the final denoising step
    assert cost.protocol == {"n": 5}
    assert model.sampling_protocol()["denoise"] == "tweedie" and model.sampling_protocol()["ema_decay"] == 0.999
    if sde:
        assert model.log_prob_exactness == "estimate"
        protocol = model.log_prob_protocol()
        assert protocol["divergence"] == ("exact trace" if data.dim <= 8 else "hutchinson (rademacher)")
        assert protocol["solver_evals_per_batch"] > 0 and protocol["rtol"] == protocol["atol"] == 1e-5
    if data.levels:
        samples = model.sample(6)
        assert torch.equal(samples * 16, (samples * 16).round()) and 0 <= samples.min() and samples.max() <= 1


def test_spec_defaults_build_every_variant_and_list_every_setting(mixtures, digits):
    assert SPEC.defaults() == {f.name: f.default for f in fields(Config)}
    expected = {"ncsn": NoiseConditionalModel, "ssm": SlicedNoiseConditionalModel, "sde-ve": ScoreSDEModel,
                "sde-vp": ScoreSDEModel}
    for variant, kind in expected.items():
        assert type(spec_build(mixtures["8gaussians"], variant)) is kind
    model = spec_build(digits, "ncsn")
    protocol = model.sampling_protocol()  # technique 2 on 8x8 digits in [-1, 1]: 24 levels, under the cap
    print(f"\nncsn on digits: {protocol}")
    technique_2 = rules.levels_for_ratio(protocol["sigma_max"], 0.01, rules.overlap_ratio(64), 10**6)
    assert protocol["noise_levels"] == technique_2
    assert protocol["noise_levels"] < 30 and protocol["step_size_rule"] == "NCSNv2 technique 4"
    assert protocol["sigma_max"] == pytest.approx(2 * pdist(digits.train.reshape(len(digits.train), -1)).max())
    assert isinstance(spec_build(mixtures["8gaussians"], "sde-ve").sde, VESDE)
    assert isinstance(spec_build(mixtures["8gaussians"], "sde-vp").sde, VPSDE)


BAD = {  # id → (variant, parameters, message)
    "sigma_min": ("ncsn", {"sigma_min": -0.1}, "sigma_min must be positive, got -0.1"),
    "unordered sigmas": ("ssm", {"sigma_max": 0.005}, r"sigma_max \(0.005\) must be above sigma_min \(0.01\)"),
    "ve sigmas": ("sde-ve", {"sigma_min": 2.0, "sigma_max": 1.0}, r"sigma_max \(1.0\) must be above sigma_min \(2.0\)"),
    "technique 1": ("sde-ve", {"sigma_min": 100.0}, r"sigma_min \(100.0\) must be below sigma_max, here technique 1's"),
    "betas": ("sde-vp", {"beta_min": 20.0, "beta_max": 0.1}, r"beta_max \(0.1\) must be above beta_min \(20.0\)"),
    "snr": ("sde-ve", {"snr": 0.0}, "snr must be positive, got 0.0"),
    "rtol": ("sde-ve", {"rtol": 0.0}, "rtol must be positive, got 0.0"),
    "atol": ("sde-vp", {"atol": -1e-5}, "atol must be positive, got -1e-05"),
    "unknown sampler": ("sde-vp", {"sampler": "ddim"}, ("sampler must be one of annealed-langevin, reverse-diffusion, "
                                                        "euler-maruyama, pc, ode, got 'ddim'")),
    "sampler of sdes": ("ncsn", {"sampler": "pc"}, "sampler 'pc' is for variants sde-ve, sde-vp; ncsn can use annealed"),
    "sampler of ncsn": ("sde-ve", {"sampler": "annealed-langevin"}, ("sampler 'annealed-langevin' is for variants "
                        "ncsn, ssm; sde-ve can use reverse-diffusion, euler-maruyama, pc, ode")),
    "predictor": ("sde-ve", {"predictor": "ancestral"}, "predictor must be one of reverse-diffusion, euler-maruyama"),
    "pc without corrector": ("sde-ve", {"corrector_steps": 0}, "sampler 'pc' needs corrector_steps of at least 1"),
    "langevin_steps": ("ncsn", {"langevin_steps": 0}, "langevin_steps must be at least 1, got 0"),
    "sample_steps": ("sde-vp", {"sample_steps": 0}, "sample_steps must be at least 1, got 0"),
    "max_noise_levels": ("ssm", {"max_noise_levels": 1}, "max_noise_levels must be at least 2, got 1"),
    "step_size": ("ncsn", {"step_size": -1.0}, "step_size must be None"),
    "eps": ("sde-ve", {"eps": 0.0}, r"eps must be in \(0, 1\)"),
    "ema_decay": ("ncsn", {"ema_decay": 1.0}, r"ema_decay must be in \[0, 1\)"),
    "projection": ("ssm", {"projection": "sphere"}, "projection must be one of rademacher, gaussian, got 'sphere'"),
    "divergence": ("sde-ve", {"divergence": "trace"}, "divergence must be one of auto, exact, hutchinson"),
    "unknown parameter": ("ncsn", {"noise_levels": 10}, "unknown parameter noise_levels; available: "),
}


@pytest.mark.parametrize("variant, params, message", BAD.values(), ids=BAD.keys())
def test_bad_parameters_are_a_capability_error_naming_model_variant_and_parameter(variant, params, message, mixtures):
    with pytest.raises(CapabilityError, match=rf"^model 'score', variant '{variant}': {message}"):
        spec_build(mixtures["8gaussians"], variant, **params)


@pytest.mark.parametrize("params, message", [
    ({"levels": 4}, "levels 4 halves 8x8 images below 2x2: at most 3 for this size"),
    ({"channels": 20}, "channels 20 is not a multiple of the 8 GroupNorm groups"),
])
def test_a_u_net_the_images_cannot_take_is_refused_before_training(params, message, digits):
    expected = rf"^model 'score', variant 'sde-vp': {message} \(parameters levels, channels\)"
    with pytest.raises(CapabilityError, match=expected):
        spec_build(digits, "sde-vp", **params)


def test_an_unknown_variant_is_a_capability_error(mixtures):
    with pytest.raises(CapabilityError, match="model 'score', variant 'ddpm': unknown variant; available: ncsn, ssm, "
                                              "sde-ve, sde-vp"):
        build(mixtures["8gaussians"], variant="ddpm")


@pytest.mark.parametrize("variant", list(SPEC.variants))
def test_a_non_finite_loss_raises_model_diverged_and_the_host_stops(variant, mixtures):
    data = mixtures["8gaussians"]
    model = spec_build(data, variant, **TINY)
    with torch.no_grad():
        for p in model.net.parameters():
            p.fill_(math.inf)
    before = [p.clone() for p in model.sampling_net.parameters()]
    with pytest.raises(ModelDiverged, match=rf"^model 'score', variant '{variant}': the loss is (nan|inf)"):
        model.train_step(torch.as_tensor(data.train[:16]))
    assert all(torch.equal(a, b) for a, b in zip(before, model.sampling_net.parameters()))  # no step, no average
    with pytest.raises(Diverged, match="the loss is") as caught:
        train(model, data, 5, 16)
    assert caught.value.step == 1


# ---- the moving average and checkpoints ---------------------------------------------------------------


def test_the_moving_average_warms_up_as_min_decay_and_one_plus_n_over_ten_plus_n():
    net = nn.Linear(1, 1, bias=False)
    ema = EMA(net, 0.5)
    expected = net.weight.item()
    for n, value in enumerate([1.0, 2.0, 3.0, 4.0]):
        with torch.no_grad():
            net.weight.fill_(value)
        decay = min(0.5, (1 + n) / (10 + n))
        assert ema.rate() == pytest.approx(decay)
        ema.update(net)
        expected = decay * expected + (1 - decay) * value
        assert ema.shadow.weight.item() == pytest.approx(expected)
    assert int(ema.updates) == 4 and not ema.shadow.weight.requires_grad


def test_the_average_samples_the_live_network_trains_and_zero_turns_it_off(mixtures):
    data = mixtures["8gaussians"]
    model = spec_build(data, "ncsn", **TINY)
    assert model.sampling_net is model.ema.shadow and [model.opt] == model.optimizers()
    optimised = {id(p) for group in model.opt.param_groups for p in group["params"]}
    assert optimised == {id(p) for p in model.net.parameters()}
    model.train_step(torch.as_tensor(data.train[:16]))
    assert int(model.ema.updates) == 1
    plain = spec_build(data, "ncsn", **TINY, ema_decay=0.0)
    assert plain.ema is None and plain.sampling_net is plain.net and plain.sampling_protocol()["ema_decay"] == 0.0


def test_a_checkpoint_round_trip_keeps_the_average_and_its_count(tmp_path, mixtures):
    data = mixtures["8gaussians"]
    torch.manual_seed(0)
    model = train(spec_build(data, "sde-ve", **TINY), data, 4, 32, checkpoint=tmp_path / "score.pt")
    torch.manual_seed(1)  # other weights until the checkpoint is loaded
    restored = spec_build(data, "sde-ve", **TINY)
    assert not torch.equal(restored.ema.shadow.head[-1].weight, model.ema.shadow.head[-1].weight)
    train(restored, data, 4, 32, checkpoint=tmp_path / "score.pt")  # finds the finished checkpoint
    assert int(restored.ema.updates) == 4
    for a, b in zip(restored.ema.shadow.parameters(), model.ema.shadow.parameters()):
        assert torch.equal(a, b)
    x = torch.as_tensor(data.test[:8])
    torch.testing.assert_close(restored.log_prob(x), model.log_prob(x))


# ---- sampling costs and the data space ---------------------------------------------------------------


@pytest.mark.parametrize("sampler, correctors, evals", [("reverse-diffusion", 1, 4 + 1), ("euler-maruyama", 3, 4 + 1),
                                                        ("pc", 3, 4 * (1 + 3) + 1)])
def test_reverse_sde_samplers_count_their_network_evaluations(sampler, correctors, evals, mixtures):
    model = spec_build(mixtures["8gaussians"], "sde-vp", **TINY, sampler=sampler, corrector_steps=correctors)
    model.sample(7)
    (cost,) = model.sampling_values()
    protocol = model.sampling_protocol()
    assert cost.value == evals and protocol["sampler"] == sampler and protocol["steps"] == 4
    assert ("snr" in protocol) == (sampler == "pc")


def test_the_ode_sampler_reports_the_solvers_evaluations(mixtures):
    model = spec_build(mixtures["8gaussians"], "sde-ve", **TINY, sampler="ode", denoise=False, rtol=1e-3, atol=1e-3)
    samples = model.sample(7)
    (cost,) = model.sampling_values()
    assert samples.shape == (7, 2) and cost.value >= 6 and cost.value == int(cost.value) and cost.protocol == {"n": 7}
    assert model.sampling_protocol() == {"sampler": "ode", "solver": "RK45 (scipy solve_ivp)", "rtol": 1e-3,
                                         "atol": 1e-3, "eps": 1e-5, "denoise": None, "ema_decay": 0.999}


def test_data_in_the_cube_is_modelled_on_minus_one_one_and_its_density_carries_the_jacobian():
    """The same network on points ``x`` of the cube (data with levels) and on ``2x − 1`` as plain
    continuous data: ``log p_x(x) = log p_y(2x − 1) + D log 2``; samples come back as stored levels."""
    rng = np.random.default_rng(0)
    cube = rng.integers(0, 17, (64, 2)) / 16
    on_cube = Dataset("cube", cube, cube[:8], cube[:8], "discrete", levels=17)
    centred = Dataset("centred", 2 * cube - 1, 2 * cube[:8] - 1, 2 * cube[:8] - 1, "continuous")
    torch.manual_seed(0)
    model = spec_build(on_cube, "sde-ve", **TINY, sigma_max=3.0)
    twin = spec_build(centred, "sde-ve", **TINY, sigma_max=3.0)
    model.train_step(dequantize(torch.as_tensor(on_cube.train), 17))
    twin.load_state_dict(model.state_dict())
    x = dequantize(torch.as_tensor(on_cube.test), 17, torch.Generator().manual_seed(0))
    torch.testing.assert_close(model.log_prob(x), twin.log_prob(2 * x - 1) + 2 * math.log(2), rtol=0, atol=1e-4)
    samples = model.sample(50)
    assert torch.equal(samples * 16, (samples * 16).round()) and samples.min() >= 0 and samples.max() <= 1
