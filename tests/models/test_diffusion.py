"""The diffusion plugin: the schedules, the forward process, the posterior and both samplers against
closed forms and diffusers; both samplers driven by the exact noise prediction of a Gaussian
mixture; the variational bound against the true likelihood; learning on held-out toy data; the
contract, errors, divergence, the EMA and checkpoints.

Conventions beside diffusers (``DDPMScheduler``, ``DDIMScheduler``), checked in float64 with
diffusers' own arrays recomputed in float64 (diffusers keeps them in float32, which at ``t`` near
``T`` amplifies to more than 1e-6 through ``1 / √ᾱ_T ≈ 160``):

* Step indices: both count ``0 … T − 1`` for the paper's ``1 … T``.
* ``variance_type="fixed_small"`` is our ``small`` (β̃_t), ``"fixed_large"`` our ``large`` (β_t);
  at the first step neither adds noise. Ho et al.'s code also takes ``log β̃_2`` as the first step's
  log-variance under fixed large; it matters only for the bound's decoder, which uses ``β̃_2``.
* ``clip_sample`` is our clipping of ``x̂_0`` to ``[−1, 1]`` (off for data on ``R^D``); diffusers'
  DDIM clips ``x̂_0`` but keeps the network's ``ε`` unless ``use_clipped_model_output=True``, which
  is what we do (improved-diffusion's convention).
* DDIM's ``set_alpha_to_one=True`` is our ``ᾱ = 1`` after the last step; our ``uniform`` spacing is
  diffusers' ``"leading"`` with ``steps_offset=0``.

Numbers that the tests compare are printed (run with ``-s`` to see them).
"""

from __future__ import annotations

import math
import time
from dataclasses import fields, replace
from pathlib import Path

import mpmath
import numpy as np
import pytest
import torch
from benchbench_plugins.datasets.toy2d import make_8gaussians, make_25gaussians
from benchbench_plugins.metrics.clustering.compute import evaluate_mode_coverage
from benchbench_plugins.metrics.likelihood.compute import evaluate_elbo
from benchbench_plugins.models import diffusion as diffusion_plugin
from benchbench_plugins.models.diffusion.bound import (
    discretised_gaussian_log_likelihood,
    log_normal_mass,
    variational_bound,
)
from benchbench_plugins.models.diffusion.config import Config
from benchbench_plugins.models.diffusion.model import (
    DiffusionModel,
    build,
)
from benchbench_plugins.models.diffusion.process import (
    NoisePrediction,
    ancestral_step,
    ddim_sample,
    ddim_step,
    ddim_timesteps,
    posterior_mean,
    q_sample,
)
from benchbench_plugins.models.diffusion.sampling import Sampling
from benchbench_plugins.models.diffusion.schedules import (
    Schedule,
    cosine_betas,
    linear_betas,
)
from benchbench_plugins.models.diffusion.space import DataSpace
from diffusers import DDIMScheduler, DDPMScheduler
from mixtures import GaussianMixture, biased_mmd2, within_three_stds
from scipy import stats

from benchbench import CapabilityError, Dataset, EvalContext, Model, ModelDiverged
from benchbench.engine.cell import balanced_labels
from benchbench.engine.suite import Budget
from benchbench.engine.training import FitPlan, fit
from benchbench.errors import Diverged
from benchbench.testing import check_model, tiny_datasets

SPEC = diffusion_plugin.benchbench_models()[0]
T = 1000
LINEAR = Schedule(linear_betas(T, 1e-4, 0.02), "linear")
COSINE = Schedule(cosine_betas(T, 0.008, 0.999), "cosine")
SCHEDULES = {"linear": LINEAR, "cosine": COSINE}


# ---- helpers --------------------------------------------------------------------------------------


def exact_noise_prediction(mixture: GaussianMixture, s: Schedule) -> NoisePrediction:
    """``ε*(x_t, t) = −√(1 − ᾱ_t) ∇ log p_t(x_t)`` with ``p_t`` the mixture noised to step ``t``
    (each example at its own step)."""

    def predict(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        eps = torch.empty_like(x)
        for step in t.unique().tolist():
            rows = t == step
            abar = s.alphas_cumprod[step].item()
            noised = mixture.noised(math.sqrt(abar), math.sqrt(1 - abar))
            eps[rows] = -math.sqrt(1 - abar) * noised.score(x[rows])
        return eps
    return predict


UNEQUAL = GaussianMixture.of([0.5, 0.3, 0.2], [[-2.0, 0.0], [2.0, 0.0], [0.0, 2.5]], 0.25)


def diffusers_in_float64(scheduler: DDPMScheduler | DDIMScheduler) -> DDPMScheduler | DDIMScheduler:
    """The scheduler with its arrays recomputed in float64 from its own betas."""
    scheduler.betas = scheduler.betas.double()
    scheduler.alphas = 1 - scheduler.betas
    scheduler.alphas_cumprod = torch.cumprod(scheduler.alphas, 0)
    scheduler.one = torch.tensor(1.0, dtype=torch.float64)
    if isinstance(scheduler, DDIMScheduler):
        scheduler.final_alpha_cumprod = torch.tensor(1.0, dtype=torch.float64)
    return scheduler


def indices(value: int, n: int) -> torch.Tensor:
    """``n`` copies of the step index ``value``, ``(n,)`` long."""
    return torch.full((n,), value, dtype=torch.long)


TINY = {"hidden": 16, "depth": 1, "channels": 8, "levels": 2, "timesteps": 20, "sample_steps": 5}


def spec_build(data: Dataset, variant: str, **params: object) -> DiffusionModel:
    """Build as the host does: spec defaults, then the variant's parameters, then the suite's."""
    return build(data, variant=variant, **{**SPEC.defaults(), **SPEC.variants[variant], **params})


def train(model: Model, data: Dataset, steps: int, batch_size: int = 256, seed: int = 0, labels: bool = False,
          checkpoint: Path | None = None) -> float:
    """Fit through the host's loop; returns seconds."""
    plan = FitPlan(Budget("steps", steps), batch_size=batch_size, progress=False, checkpoint=checkpoint,
                   checkpoint_every=10**9)
    y = torch.as_tensor(data.train_labels) if labels else None
    return fit(model, torch.as_tensor(data.train), y, plan, seed=seed).seconds


def context(model: Model, data: Dataset, samples: torch.Tensor | None = None) -> EvalContext:
    return EvalContext(model, data, samples, "cpu", 0, Path("unused-cache"), batch_size=500)


@pytest.fixture(scope="module")
def eight() -> Dataset:
    return make_8gaussians(n_train=5000, n_val=10, n_test=2000, data_seed=0, std=0.2, radius=2.0)


# ---- schedules, the forward process and the posterior ---------------------------------------------


@pytest.mark.parametrize("name, diffusers_name", [("linear", "linear"), ("cosine", "squaredcos_cap_v2")])
def test_schedules_match_diffusers(name, diffusers_name):
    ours = SCHEDULES[name]
    theirs = DDPMScheduler(num_train_timesteps=T, beta_schedule=diffusers_name)
    gap = (ours.betas - theirs.betas.double()).abs().max().item()
    cumprod_gap = (ours.alphas_cumprod - theirs.alphas_cumprod.double()).abs().max().item()
    print(f"\n{name}: max |beta - diffusers| {gap:.2e}, max |alphabar - diffusers| {cumprod_gap:.2e}; "
          f"beta_1 {ours.betas[0]:.3e}, beta_T {ours.betas[-1]:.4f}, alphabar_T {ours.alphas_cumprod[-1]:.3e}")
    assert ours.betas.dtype == torch.float64 and len(ours) == T
    assert gap < 1e-6 and cumprod_gap < 1e-6
    assert ours.betas.max() <= 0.999 and ours.betas.min() > 0


def test_the_closed_form_of_q_xt_given_x0_matches_iterating_the_forward_steps():
    """Moments of q(x_t | x_0) by the recursion m ← √(1 − β) m, v ← (1 − β) v + β, against
    √ᾱ_t x_0 and 1 − ᾱ_t; then 100 000 chains of actual forward draws against q_sample's draws."""
    for s in SCHEDULES.values():
        mean, var, x0 = 1.3, 0.0, 1.3
        for t in range(T):
            beta = s.betas[t].item()
            mean, var = math.sqrt(1 - beta) * mean, (1 - beta) * var + beta
            abar = s.alphas_cumprod[t].item()
            assert abs(mean - math.sqrt(abar) * x0) < 1e-12 and abs(var - (1 - abar)) < 1e-12
    generator = torch.Generator().manual_seed(0)
    x0 = torch.full((100_000, 1), 1.3, dtype=torch.float64)
    x = x0.clone()
    for t in range(300):  # q(x_t | x_{t-1}) = N(√(1 − β_t) x_{t−1}, β_t)
        beta = LINEAR.betas[t]
        x = (1 - beta).sqrt() * x + beta.sqrt() * torch.randn(x.shape, generator=generator, dtype=torch.float64)
    direct = q_sample(LINEAR, x0, indices(299, len(x0)), torch.randn(x0.shape, generator=generator, dtype=torch.float64))
    abar = LINEAR.alphas_cumprod[299].item()
    print(f"\nt = 300: iterated mean {x.mean():.4f} var {x.var():.4f}; q_sample mean {direct.mean():.4f} "
          f"var {direct.var():.4f}; closed form {math.sqrt(abar) * 1.3:.4f}, {1 - abar:.4f}")
    for sample in (x, direct):
        assert abs(sample.mean().item() - math.sqrt(abar) * 1.3) < 4 * math.sqrt((1 - abar) / len(x))
        assert abs(sample.var().item() - (1 - abar)) < 4 * (1 - abar) * math.sqrt(2 / len(x))


@pytest.mark.parametrize("t", [1, 10, 500, 999])
def test_the_posterior_is_bayes_rule_on_a_grid(t):
    """q(x_{t−1} | x_t, x_0) ∝ q(x_t | x_{t−1}) q(x_{t−1} | x_0), normalised on a fine 1-D grid,
    against N(μ̃_t, β̃_t): its mean, its variance and the density itself."""
    x0, xt = torch.tensor([[0.7]], dtype=torch.float64), torch.tensor([[-0.4]], dtype=torch.float64)
    beta, abar_prev = LINEAR.betas[t].item(), LINEAR.alphas_cumprod_prev[t].item()
    mean = posterior_mean(LINEAR, x0, xt, indices(t, 1)).item()
    var = LINEAR.posterior_variance[t].item()
    grid = torch.linspace(mean - 12 * math.sqrt(var), mean + 12 * math.sqrt(var), 200_001, dtype=torch.float64)
    log_joint = (stats.norm.logpdf(xt.item(), math.sqrt(1 - beta) * grid, math.sqrt(beta))
                 + stats.norm.logpdf(grid, math.sqrt(abar_prev) * x0.item(), math.sqrt(1 - abar_prev)))
    weights = torch.as_tensor(np.exp(log_joint - log_joint.max()))
    weights /= weights.sum()
    grid_mean = (weights * grid).sum().item()
    grid_var = (weights * (grid - grid_mean) ** 2).sum().item()
    density = weights / (grid[1] - grid[0])
    closed = torch.as_tensor(stats.norm.pdf(grid.numpy(), mean, math.sqrt(var)))
    print(f"\nt index {t}: grid mean {grid_mean:.8f} var {grid_var:.4e}; closed form {mean:.8f} {var:.4e}")
    assert abs(grid_mean - mean) < 1e-6 * max(1.0, abs(mean)) and abs(grid_var / var - 1) < 1e-5
    assert (density - closed).abs().max().item() < 1e-5 * closed.max().item()


def test_the_first_posterior_variance_is_zero():
    assert LINEAR.posterior_variance[0] == 0 and LINEAR.alphas_cumprod_prev[0] == 1


# ---- one step against diffusers ---------------------------------------------------------------------


@pytest.mark.parametrize("variance, diffusers_variance", [("small", "fixed_small"), ("large", "fixed_large")])
@pytest.mark.parametrize("clip", [False, True])
def test_an_ancestral_step_matches_diffusers(variance, diffusers_variance, clip):
    theirs = diffusers_in_float64(DDPMScheduler(num_train_timesteps=T, variance_type=diffusers_variance,
                                                clip_sample=clip))
    x = torch.randn(6, 2, 4, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) * 1.5
    eps = torch.randn(6, 2, 4, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    worst = 0.0
    for t in (0, 1, 2, 57, 500, 998, 999):
        noise = torch.randn(x.shape, generator=torch.Generator().manual_seed(t), dtype=torch.float64)
        expected = theirs.step(eps, t, x, generator=torch.Generator().manual_seed(t)).prev_sample
        ours = ancestral_step(LINEAR, x, indices(t, len(x)), eps, noise, variance, (-1.0, 1.0) if clip else None)
        worst = max(worst, (ours - expected).abs().max().item())
    print(f"\nancestral {variance}, clip {clip}: max |ours - diffusers| {worst:.2e}")
    assert worst < 1e-6


@pytest.mark.parametrize("eta", [0.0, 0.5, 1.0])
@pytest.mark.parametrize("clip", [False, True])
def test_a_ddim_step_matches_diffusers(eta, clip):
    theirs = diffusers_in_float64(DDIMScheduler(num_train_timesteps=T, clip_sample=clip, set_alpha_to_one=True,
                                                timestep_spacing="leading", steps_offset=0))
    theirs.set_timesteps(50)
    ours_timesteps = ddim_timesteps(T, 50, "uniform")
    assert torch.equal(ours_timesteps, theirs.timesteps)
    x = torch.randn(6, 2, 4, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) * 1.5
    eps = torch.randn(6, 2, 4, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    noise = torch.randn(6, 2, 4, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    previous = torch.cat([ours_timesteps[1:], torch.tensor([-1])])
    worst = 0.0
    for t, t_prev in zip(ours_timesteps.tolist(), previous.tolist()):
        expected = theirs.step(eps, t, x, eta=eta, use_clipped_model_output=clip, variance_noise=noise).prev_sample
        ours = ddim_step(LINEAR, x, indices(t, 6), indices(t_prev, 6), eps, eta, noise, (-1.0, 1.0) if clip else None)
        worst = max(worst, (ours - expected).abs().max().item())
    print(f"\nddim eta {eta}, clip {clip}: max |ours - diffusers| over 50 steps {worst:.2e}")
    assert worst < 1e-6


# ---- DDIM's relations to ancestral sampling ---------------------------------------------------------


@pytest.mark.parametrize("clip", [None, (-1.0, 1.0)])
def test_ddim_over_every_step_with_eta_one_is_ancestral_sampling_with_the_posterior_variance(clip):
    """σ(t, t − 1) at η = 1 is √β̃_t, and √ᾱ_{t−1} x̂_0 + √(1 − ᾱ_{t−1} − β̃_t) ε = μ̃_t(x̂_0, x_t):
    the same step, given the same noise, at every t (also with x̂_0 clipped, ε re-derived)."""
    generator = torch.Generator().manual_seed(0)
    x, eps, noise = (torch.randn(16, 3, dtype=torch.float64, generator=generator) * 1.5 for _ in range(3))
    worst = 0.0
    for t in range(T):
        ddim = ddim_step(LINEAR, x, indices(t, 16), indices(t - 1, 16), eps, 1.0, noise, clip)
        ancestral = ancestral_step(LINEAR, x, indices(t, 16), eps, noise, "small", clip)
        worst = max(worst, (ddim - ancestral).abs().max().item())
    print(f"\nclip {clip}: max |ddim(eta = 1) - ancestral(small)| over all {T} steps {worst:.2e}")
    assert worst < 1e-9


def test_ddim_with_eta_zero_is_deterministic_given_its_starting_noise():
    predict = exact_noise_prediction(UNEQUAL, LINEAR)
    x_T = torch.randn(200, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    timesteps = ddim_timesteps(T, 20, "uniform")
    torch.manual_seed(1)
    first = ddim_sample(predict, LINEAR, x_T, timesteps, 0.0, None)
    torch.manual_seed(2)
    second = ddim_sample(predict, LINEAR, x_T, timesteps, 0.0, None)
    third = ddim_sample(predict, LINEAR, x_T, timesteps, 1.0, None)
    assert torch.equal(first, second)
    assert (first - third).abs().max() > 0.1  # eta = 1 draws noise


def test_ddim_subsequences():
    uniform, quadratic = ddim_timesteps(T, 10, "uniform"), ddim_timesteps(T, 10, "quadratic")
    assert uniform.tolist() == list(range(900, -1, -100))
    expected = sorted({int((i * math.sqrt(0.8 * T) / 9) ** 2) for i in range(10)}, reverse=True)
    assert quadratic.tolist() == expected and quadratic[0] == 800
    assert len(ddim_timesteps(T, 50, "quadratic")) < 50  # the paper's rounding repeats t = 0: dropped
    assert ddim_timesteps(T, T, "uniform").tolist() == list(range(T - 1, -1, -1))


# ---- samplers driven by the exact noise prediction of a mixture ---------------------------------------

SAMPLERS = {
    "ancestral large": Sampling("ancestral", variance="large"),
    "ancestral small": Sampling("ancestral", variance="small"),
    "ddim 50 uniform": Sampling("ddim", 50, "uniform"),
    "ddim 50 quadratic": Sampling("ddim", 50, "quadratic"),
    "ddim 200 eta 0.5": Sampling("ddim", 200, "uniform", eta=0.5),
}


@pytest.mark.parametrize("name", list(SAMPLERS))
def test_samplers_driven_by_the_exact_noise_prediction_reproduce_a_mixture(name):
    """Unequal weights 0.5 / 0.3 / 0.2: the mode weights within 0.03 and the fraction within 3
    standard deviations of a mode about 1 − exp(−9/2) = 98.9%. DDIM's few steps are cheap: more samples."""
    torch.manual_seed(0)
    x_T = torch.randn(4000 if SAMPLERS[name].sampler == "ancestral" else 10_000, 2, dtype=torch.float64)
    x0 = SAMPLERS[name].run(exact_noise_prediction(UNEQUAL, LINEAR), LINEAR, x_T, None)
    weights, quality = UNEQUAL.mode_weights(x0), UNEQUAL.high_quality_fraction(x0)
    print(f"\n{name}: mode weights {weights.numpy().round(3).tolist()} (true {UNEQUAL.weights.tolist()}), "
          f"within 3 std {quality:.4f} (true {within_three_stds(2):.4f}), sample std "
          f"{(x0 - UNEQUAL.means[UNEQUAL.nearest_mode(x0)[0]]).std().item():.4f} (true {UNEQUAL.std})")
    assert (weights - UNEQUAL.weights).abs().max() < 0.03
    assert abs(quality - within_three_stds(2)) < 0.01


# ---- the variational bound --------------------------------------------------------------------------


def test_the_discretised_decoder_matches_scipy_and_its_masses_sum_to_one():
    levels, std = 17, 0.05
    values = torch.linspace(-1, 1, levels, dtype=torch.float64)  # the levels in [-1, 1]
    for mean in (-0.93, 0.0, 0.41, 1.2):
        means = torch.full((levels, 1), mean, dtype=torch.float64)
        ours = discretised_gaussian_log_likelihood(values[:, None], means, std, levels)
        edges = np.concatenate([[-np.inf], (values[:-1] + values[1:]).numpy() / 2, [np.inf]])
        low, high = edges[:-1], edges[1:]
        right = low > mean  # subtract on the side of the tail, where scipy's cdf does not round to 1
        mass = np.where(right, stats.norm.sf(low, mean, std) - stats.norm.sf(high, mean, std),
                        stats.norm.cdf(high, mean, std) - stats.norm.cdf(low, mean, std))
        with np.errstate(divide="ignore"):
            expected = np.log(mass)
        seen = mass > 0  # scipy's masses underflow below 1e-308; the tails are checked against mpmath below
        print(f"\nmean {mean}: max |ours - scipy| {np.abs(ours.numpy()[seen] - expected[seen]).max():.2e} over "
              f"{seen.sum()} bins, total mass {ours.exp().sum():.12f}")
        assert np.allclose(ours.numpy()[seen], expected[seen], rtol=1e-9, atol=1e-12) and seen.sum() >= 12
        assert torch.isfinite(ours).all()
        assert abs(ours.exp().sum().item() - 1) < 1e-12


def test_bin_masses_far_in_the_tails_are_exact_not_floored():
    """The bin at 0 of 17 levels under N(1, 0.01²): log mass ≈ −4400, which mpmath gives to 50
    digits; Ho et al.'s ``log(max(mass, 1e-12))`` would report −27.6 and raise the bound."""
    mpmath.mp.dps = 50
    for x, mean, std in ((0.0, 1.0, 0.01), (-1.0, 1.0, 0.01), (1.0, -0.5, 0.02), (0.5, 0.5 + 1 / 16, 0.3)):
        low = -mpmath.inf if x == -1 else mpmath.mpf(x - 1 / 16 - mean) / std
        high = mpmath.inf if x == 1 else mpmath.mpf(x + 1 / 16 - mean) / std
        expected = float(mpmath.log(mpmath.ncdf(-low) - mpmath.ncdf(-high) if low > 0 else
                                    mpmath.ncdf(high) - mpmath.ncdf(low)))
        ours = discretised_gaussian_log_likelihood(torch.tensor([[x]]), torch.tensor([[mean]]), std, 17).item()
        print(f"\nx {x}, mean {mean}, std {std}: log mass {ours:.10g}, mpmath {expected:.10g}")
        assert ours == pytest.approx(expected, rel=1e-10)
    assert log_normal_mass(torch.tensor([-math.inf]), torch.tensor([math.inf])).item() == 0.0


def point_mass_bound(x0: torch.Tensor, s: Schedule, variance: str) -> torch.Tensor:
    """The bound of x_0 under the exact noise prediction of the point mass at x_0, by hand: x̂_0 =
    x_0 at every step, so each KL term is only the variance mismatch ½(log σ²/β̃ + β̃/σ² − 1) per
    dimension, the prior term ½(ᾱ_T x_0² + (1 − ᾱ_T) − 1 − log(1 − ᾱ_T)) and the decoder
    log N(x_0; x_0, β̃_2) = −½ log(2π β̃_2) per dimension. ``(B,)`` elbo."""
    d = x0.shape[1]
    posterior, sigma2 = s.posterior_variance[1:], (s.betas if variance == "large" else s.posterior_variance)[1:]
    kl_steps = (0.5 * (sigma2.log() - posterior.log() + posterior / sigma2 - 1)).sum().item() * d
    abar = s.alphas_cumprod[-1].item()
    prior = 0.5 * (abar * x0**2 + (1 - abar) - 1 - math.log(1 - abar)).sum(1)
    decoder = -0.5 * d * math.log(2 * math.pi * s.posterior_variance[1].item())
    return decoder - prior - kl_steps


@pytest.mark.parametrize("variance", ["large", "small"])
def test_the_bound_of_a_point_mass_and_its_sampled_estimate_match_the_closed_form(variance):
    x0 = torch.tensor([[0.8, -1.5]], dtype=torch.float64)
    predict = lambda x, t: (x - LINEAR.alphas_cumprod[t].sqrt()[:, None] * x0) / (
        1 - LINEAR.alphas_cumprod[t])[:, None].sqrt()
    decoder = DataSpace(False, None).decoder
    full = variational_bound(predict, LINEAR, x0, variance, None, decoder, 0)
    expected = point_mass_bound(x0, LINEAR, variance)
    torch.manual_seed(0)
    many = x0.expand(4000, 2)
    sampled = variational_bound(predict, LINEAR, many, variance, None, decoder, 10)["elbo"]
    sem = (sampled.std() / math.sqrt(len(sampled))).item()
    print(f"\n{variance}: bound {full['elbo'].item():.8f}, closed form {expected.item():.8f}; 10 sampled KL terms: "
          f"{sampled.mean():.4f} ± {sem:.4f}")
    assert full["elbo"].item() == pytest.approx(expected.item(), abs=1e-8)
    assert torch.allclose(full["elbo"], full["reconstruction"] - full["kl"])
    assert abs(sampled.mean().item() - expected.item()) < 4 * sem + 1e-9
    if variance == "large":
        assert sem > 0  # the terms differ between steps: the estimate is random, its mean is not


@pytest.mark.parametrize("variance", ["large", "small"])
def test_the_bound_with_the_exact_noise_prediction_of_a_mixture_lies_above_its_true_nll(variance):
    torch.manual_seed(0)
    x0, _ = UNEQUAL.sample(1000)
    bound = variational_bound(exact_noise_prediction(UNEQUAL, LINEAR), LINEAR, x0, variance, None,
                              DataSpace(False, None).decoder, 0)
    gap = -bound["elbo"] + UNEQUAL.log_prob(x0)
    mean, sem = gap.mean().item(), (gap.std() / math.sqrt(len(gap))).item()
    print(f"\n{variance}: -elbo {-bound['elbo'].mean():.4f} nats, true NLL {-UNEQUAL.log_prob(x0).mean():.4f}, "
          f"gap {mean:.4f} ± {sem:.4f}")
    assert mean > -3 * sem
    assert mean < (0.5 if variance == "large" else 2.0)  # the exact means: only the fixed variances cost


# ---- the contract, the spec, errors -------------------------------------------------------------------

@pytest.mark.parametrize("variant", list(SPEC.variants))
@pytest.mark.parametrize("data", ["8gaussians", "digits"])
def test_contract(variant, data, eight, digits):
    dataset = {"8gaussians": eight, "digits": digits}[data]
    model = check_model(SPEC, dataset, variant, **TINY)
    assert model.density == ("discrete" if data == "digits" else "continuous")
    assert model.capabilities == ({"elbo", "conditional"} if variant == "cfg" else {"elbo"})
    (cost,) = model.sampling_values()
    assert cost.name == "network_evals_per_sample" and cost.exactness == "measured" and cost.direction == "lower"
    expected = {"ddpm": 20, "ddim": 5, "cfg": 2 * 20}[variant]  # cfg: guidance 0.3 by default, two passes a step
    assert cost.value == expected and cost.protocol["n"] == 5
    protocol = model.sampling_protocol()
    assert protocol["sampler"] == ("ddim" if variant == "ddim" else "ancestral") and protocol["ema"] is True
    assert protocol["clipping"] == ("x0 clipped to [-1, 1]" if data == "digits" else "none (data on R^D)")
    assert model.log_prob_protocol()["terms"] == "all 20: prior, 19 KL, decoder"


def test_the_bound_on_digits_is_a_mass_over_their_levels_and_its_parts_add_up(digits):
    torch.manual_seed(0)
    model = spec_build(digits, "ddpm", **{**TINY, "bound_timesteps": 5})
    subset = Dataset("digits", digits.train, digits.val, digits.test[:64], "discrete", levels=17)
    values = {v.name: v for v in evaluate_elbo(context(model.eval(), subset))}
    bound, decoder, kl = (values[k] for k in ("neg_elbo", "elbo_reconstruction_nll", "elbo_kl"))
    print(f"\nuntrained, T = 20, 5 sampled KL terms: -elbo {bound.value:.1f} nats = decoder {decoder.value:.1f} + KL "
          f"{kl.value:.1f}; protocol {model.log_prob_protocol()['terms']!r}")
    assert bound.protocol["density"] == "discrete" and bound.protocol["dequantization"] is None
    assert bound.value == pytest.approx(decoder.value + kl.value) and decoder.value >= 0 and kl.value > 0
    assert model.log_prob_protocol()["terms"].startswith("prior, decoder and an unbiased estimate of the 19 KL")


def test_samples_of_data_with_levels_are_stored_values(digits):
    torch.manual_seed(0)
    model = spec_build(digits, "ddim", **TINY).eval()
    samples = model.sample(20)
    assert samples.shape == (20, 1, 8, 8) and samples.min() >= 0 and samples.max() <= 1
    assert torch.equal(samples * 16, (samples * 16).round())


def test_the_spec_lists_every_setting_with_the_configs_default():
    assert SPEC.defaults() == {f.name: f.default for f in fields(Config)}
    assert all(p.help for p in SPEC.params)


BAD = {
    "beta_start": ("ddpm", {"beta_start": -0.1}, r"beta_start must lie in \(0, 1\): a variance of a forward step"),
    "beta_end": ("ddpm", {"beta_end": 1.5}, r"beta_end must lie in \(0, 1\)"),
    "beta order": ("ddpm", {"beta_start": 0.03}, r"beta_end \(0.02\) must not be below beta_start \(0.03\)"),
    "max_beta": ("ddpm", {"max_beta": 1.0}, r"max_beta must lie in \(0, 1\)"),
    "timesteps": ("ddpm", {"timesteps": 1}, "timesteps must be at least 2, got 1"),
    "schedule": ("ddpm", {"schedule": "sigmoid"}, "schedule must be one of linear, cosine, got 'sigmoid'"),
    "sampler": ("ddpm", {"sampler": "euler"}, "sampler must be one of ancestral, ddim, got 'euler'"),
    "spacing": ("ddim", {"spacing": "log"}, "spacing must be one of uniform, quadratic, got 'log'"),
    "variance": ("ddpm", {"variance": "learned"}, "variance must be one of large, small, got 'learned'"),
    "too many steps": ("ddim", {"sample_steps": 1001}, r"sample_steps must lie in \[1, timesteps = 1000\]"),
    "no steps": ("ddim", {"sample_steps": 0}, r"sample_steps must lie in \[1, timesteps = 1000\]"),
    "eta": ("ddim", {"eta": 1.5}, r"eta must lie in \[0, 1\], got 1.5"),
    "guidance": ("cfg", {"guidance": -1.0}, "guidance must not be negative, got -1.0"),
    "ema_decay": ("ddpm", {"ema_decay": 1.0}, r"ema_decay must lie in \[0, 1\), got 1.0"),
    "negative ema_decay": ("ddpm", {"ema_decay": -0.5}, r"ema_decay must lie in \[0, 1\), got -0.5"),
    "p_uncond": ("cfg", {"p_uncond": 1.0}, r"p_uncond must lie in \[0, 1\), got 1.0"),
    "no p_uncond": ("cfg", {"p_uncond": 0.0}, "guidance > 0 needs the unconditional model"),
    "bound_timesteps": ("ddpm", {"bound_timesteps": 1000}, "bound_timesteps must be at most timesteps - 1 = 999"),
    "lr": ("ddpm", {"lr": 0.0}, "lr must be positive, got 0.0"),
    "depth": ("ddpm", {"depth": 0}, "depth must be at least 1, got 0"),
    "unknown parameter": ("ddpm", {"steps": 10}, "unknown parameter steps; available: "),
}


@pytest.mark.parametrize("variant, params, message", BAD.values(), ids=BAD.keys())
def test_bad_parameters_are_a_capability_error_naming_model_variant_and_parameter(variant, params, message, eight):
    with pytest.raises(CapabilityError, match=rf"^model 'diffusion', variant '{variant}': {message}"):
        spec_build(eight, variant, **params)


def test_a_u_net_the_image_cannot_take_and_cfg_without_labels_are_capability_errors(digits):
    with pytest.raises(CapabilityError, match=r"^model 'diffusion', variant 'ddpm': levels 4 halves 8x8 images below "
                                              r"2x2: at most 3 for this size \(U-Net for 'digits'\)"):
        spec_build(digits, "ddpm", levels=4)
    with pytest.raises(CapabilityError, match="variant 'ddpm': channels 12 is not a multiple of the 8 GroupNorm"):
        spec_build(digits, "ddpm", channels=12)
    with pytest.raises(CapabilityError, match="variant 'cfg': class-conditional training needs labels; 'tiny-2d' "):
        spec_build(tiny_datasets()["continuous"], "cfg")
    with pytest.raises(CapabilityError, match="^model 'diffusion', variant 'vdm': unknown variant; available: ddpm, "):
        build(digits, variant="vdm")


def test_sampling_with_settings_the_model_cannot_take_is_a_capability_error(eight):
    model = spec_build(eight, "ddpm", **TINY)
    with pytest.raises(CapabilityError, match=r"variant 'ddpm': sample_steps must lie in \[1, timesteps = 20\]"):
        model.sample_with(Sampling("ddim", 50), 4)


def test_a_non_finite_loss_is_model_diverged(eight):
    model = spec_build(eight, "ddpm", **TINY)
    bad = torch.full((16, 2), math.inf)
    with pytest.raises(ModelDiverged, match="variant 'ddpm': the loss L_simple is nan"):
        model.train_step(bad)
    data = Dataset("exploding", np.full((64, 2), np.inf), np.zeros((4, 2)), np.zeros((4, 2)), "continuous")
    with pytest.raises(Diverged, match="L_simple") as caught:
        train(spec_build(data, "ddpm", **TINY), data, 5)
    assert caught.value.step == 1


# ---- sampler settings, guidance and labels --------------------------------------------------------------


def test_one_model_samples_with_other_settings_and_reports_each(eight):
    torch.manual_seed(0)
    model = spec_build(eight, "ddpm", **{**TINY, "timesteps": 100}).eval()
    model.sample(3)
    assert model.sampling_values()[0].value == 100
    quadratic = replace(model.sampling, sampler="ddim", sample_steps=40, spacing="quadratic", eta=0.5)
    assert model.sample_with(quadratic, 3).shape == (3, 2)
    (cost,) = model.sampling_values()
    taken = len(ddim_timesteps(100, 40, "quadratic"))
    print(f"\nquadratic spacing, 40 steps requested of T = 100: {taken} taken")
    assert cost.value == taken < 40
    assert cost.protocol["sampler"] == "ddim" and cost.protocol["steps"] == taken
    assert cost.protocol["requested_steps"] == 40 and cost.protocol["eta"] == 0.5
    assert model.sampling_protocol()["sampler"] == "ancestral"  # sample() still draws as configured


class LabelEcho(torch.nn.Module):
    """A stand-in network whose 'noise prediction' is its label, broadcast: the guidance rule laid bare."""

    def forward(self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return torch.zeros_like(x) + y.float()[:, None]


@pytest.mark.parametrize("guidance", [0.0, 0.5, 3.0])
def test_guidance_combines_conditional_and_unconditional_predictions(guidance, eight):
    model = spec_build(eight, "cfg", **{**TINY, "ema_decay": 0.0, "guidance": guidance})
    model.net = LabelEcho()
    labels = torch.tensor([0, 3, 7])
    eps = model.noise_prediction(labels, guidance)(torch.zeros(3, 2), torch.zeros(3, dtype=torch.long))
    null = eight.num_classes  # the null label's index
    expected = (1 + guidance) * labels.float() - guidance * null
    assert torch.allclose(eps, expected[:, None].expand(3, 2))
    assert Sampling(guidance=guidance).network_evals(20, conditional=True) == (40 if guidance else 20)


def test_cfg_drops_labels_with_probability_p_uncond_and_trains_on_null_labels_without_them(eight):
    model = spec_build(eight, "cfg", **{**TINY, "p_uncond": 0.2})
    torch.manual_seed(0)
    y = torch.randint(8, (20_000,))
    seen = model.training_labels(y, torch.zeros(len(y), 2))
    dropped = (seen == 8).double().mean().item()
    assert abs(dropped - 0.2) < 0.015 and torch.equal(seen[seen != 8], y[seen != 8])
    assert torch.equal(model.training_labels(None, torch.zeros(5, 2)), torch.full((5,), 8))
    unlabelled = model.sampling_labels(None, 4000)
    assert unlabelled.min() == 0 and unlabelled.max() == 7  # random labels when the host gives none


# ---- the EMA and checkpoints --------------------------------------------------------------------------


def test_the_ema_follows_its_warm_up_recurrence(eight):
    torch.manual_seed(0)
    model = spec_build(eight, "ddpm", **{**TINY, "ema_decay": 0.2, "lr": 1e-2})
    x = torch.as_tensor(eight.train[:64])
    expected = [p.detach().clone() for p in model.net.parameters()]
    rates = []
    for _ in range(4):
        rates.append(model.ema.rate())
        model.train_step(x)
        d = rates[-1]
        expected = [d * e + (1 - d) * p.detach() for e, p in zip(expected, model.net.parameters())]
    assert rates == pytest.approx([0.1, 2 / 11, 0.2, 0.2])  # (1 + n) / (10 + n) until it reaches the decay
    for e, p in zip(expected, model.ema.shadow.parameters()):
        torch.testing.assert_close(p, e)
    assert int(model.ema.updates) == 4 and all(not p.requires_grad for p in model.ema.shadow.parameters())


def test_ema_weights_sample_differ_from_the_raw_ones_and_survive_a_checkpoint(tmp_path, eight):
    torch.manual_seed(0)
    model = spec_build(eight, "ddpm", **TINY)
    plan_path = tmp_path / "diffusion.pt"
    train(model, eight, 30, batch_size=64, checkpoint=plan_path)
    raw, averaged = dict(model.net.named_parameters()), dict(model.ema.shadow.named_parameters())
    assert max((raw[k] - averaged[k]).abs().max().item() for k in raw) > 1e-4
    assert model.sampling_net is model.ema.shadow
    state = model.state_dict()
    assert "ema.updates" in state and any(k.startswith("ema.shadow.") for k in state)
    torch.manual_seed(1)  # other weights until the checkpoint is loaded
    restored = spec_build(eight, "ddpm", **TINY)
    train(restored, eight, 30, batch_size=64, checkpoint=plan_path)  # finds the finished checkpoint
    for k, v in model.ema.shadow.state_dict().items():
        assert torch.equal(restored.ema.shadow.state_dict()[k], v)
    assert int(restored.ema.updates) == 30
    model.eval(), restored.eval()
    torch.manual_seed(2)
    first = model.sample(8)
    torch.manual_seed(2)
    assert torch.equal(restored.sample(8), first)
    without = spec_build(eight, "ddpm", **{**TINY, "ema_decay": 0.0})
    assert without.ema is None and without.sampling_net is without.net
    assert not any(k.startswith("ema.") for k in without.state_dict())
    assert without.sampling_protocol()["ema"] is False


# ---- learning on held-out toy data ----------------------------------------------------------------------

# The toys' settings: seconds on one CPU core. A small MLP learns fastest at a high rate on big
# batches (batch 256 at lr 1e-3 to 2e-3 needed twice the steps of a 128-wide MLP for 8 Gaussians);
# the cosine schedule spends more of training at the low noise that separates 25 Gaussians of std
# 0.1 (linear: 79% high-quality samples after 3000 steps, cosine 87-90%; 2500 steps: 93% ancestral,
# 88% DDIM).
TOY = {"hidden": 64, "depth": 2, "lr": 8e-3}
TOY_BATCH = 1024
TOYS = {"8gaussians": ({**TOY}, 1000), "25gaussians": ({**TOY, "schedule": "cosine"}, 2500)}


def halves_mmd2(a: torch.Tensor, b: torch.Tensor) -> float:
    """:func:`biased_mmd2` of the first 1000 of ``a`` and ``b``, averaged with that of the next 1000:
    less noisy than one comparison, at a quarter of the memory of one at 2000."""
    return sum(biased_mmd2(a[i:i + 1000], b[i:i + 1000]) for i in (0, 1000)) / 2


@pytest.fixture(scope="module")
def toys(eight: Dataset) -> dict[str, Dataset]:
    """Each toy with a second, independent test draw (another data seed) for the MMD's floor."""
    return {"8gaussians": (eight, make_8gaussians(n_train=10, n_val=10, n_test=2000, data_seed=1, std=0.2,
                                                  radius=2.0)),
            "25gaussians": (make_25gaussians(n_train=5000, n_val=10, n_test=2000, data_seed=0, std=0.1, spacing=1.0),
                            make_25gaussians(n_train=10, n_val=10, n_test=2000, data_seed=1, std=0.1, spacing=1.0))}


@pytest.fixture(scope="module")
def trained(toys) -> dict[tuple[str, str], DiffusionModel]:
    """ddpm, and cfg on the components' labels, trained on each toy through the host's loop, lazily:
    a test asking for one trains only that one."""

    class Lazy(dict):
        def __missing__(self, key: tuple[str, str]) -> DiffusionModel:
            (name, variant), (params, steps) = key, TOYS[key[0]]
            torch.manual_seed(0)
            model = spec_build(toys[name][0], variant, **params)
            seconds = train(model, toys[name][0], steps, TOY_BATCH, labels=variant == "cfg")
            print(f"\n{variant} on {name}: {steps} steps of batch {TOY_BATCH} in {seconds:.1f} s")
            self[key] = model.eval()
            return self[key]

    return Lazy()


def assert_covers_every_mode_with_high_quality(samples: torch.Tensor, model: DiffusionModel, name: str, toys,
                                               how: str) -> None:
    """All modes, at least 80% of the samples within 3 std of one, and MMD² to the test split within 3
    times that between two draws of the data."""
    data, other = toys[name]
    test = torch.as_tensor(data.test)
    coverage = {v.name: v.value for v in evaluate_mode_coverage(context(model, data, samples))}
    mmd, floor = halves_mmd2(samples, test), halves_mmd2(test, torch.as_tensor(other.test))
    print(f"\n{name}, {how}: modes covered {coverage['modes_covered']} of {len(data.modes)}, high quality "
          f"{coverage['high_quality_fraction']:.3f}; MMD² to the test set {mmd:.2e}, between two data draws "
          f"{floor:.2e}")
    assert coverage["modes_covered"] == len(data.modes)
    assert coverage["high_quality_fraction"] >= 0.8
    assert mmd < 3 * floor


@pytest.mark.parametrize("name", list(TOYS))
def test_ddpm_and_ddim_samples_of_one_model_cover_every_mode_with_high_quality(name, trained, toys):
    """Ancestral sampling, and DDIM in 50 steps of the quadratic subsequence (Song et al.'s CIFAR-10
    choice; its steps near t = 0 keep 25 narrow modes sharp where uniform steps left MMD² 2.5x the floor)."""
    model = trained[name, "ddpm"]
    for sampling in (model.sampling, replace(model.sampling, sampler="ddim", sample_steps=50, spacing="quadratic")):
        torch.manual_seed(1)
        start = time.perf_counter()
        samples = model.sample_with(sampling, 2000)
        seconds = time.perf_counter() - start
        how = f"{sampling.sampler} ({len(sampling.timesteps(T))} steps, 2000 samples in {seconds:.1f} s)"
        assert_covers_every_mode_with_high_quality(samples, model, name, toys, how)


@pytest.mark.parametrize("name", list(TOYS))
def test_cfg_samples_for_class_balanced_labels_cover_every_mode_with_high_quality(name, trained, toys):
    """cfg as a cell samples it: labels balanced over the components (the host's
    :func:`balanced_labels`), its default guidance (w = 0.3) and ancestral sampler."""
    model = trained[name, "cfg"]
    labels = balanced_labels(2000, toys[name][0].num_classes, seed=0)
    torch.manual_seed(1)
    samples = model.sample(2000, labels)
    assert_covers_every_mode_with_high_quality(samples, model, name, toys, f"cfg, w = {model.sampling.guidance}")


def test_the_bound_on_8_gaussians_test_set_lies_above_the_true_nll(trained, toys):
    eight, _ = toys["8gaussians"]
    model = trained["8gaussians", "ddpm"]
    subset = Dataset("8gaussians", eight.train, eight.val, eight.test[:500], "continuous")
    torch.manual_seed(2)
    values = {v.name: v for v in evaluate_elbo(context(model, subset))}
    true_nll = -eight.log_density(eight.test[:500]).mean()
    bound = values["neg_elbo"]
    print(f"\n8 Gaussians, {model.log_prob_protocol()['terms']}: -elbo {bound.value:.3f} ± {bound.protocol['sem']:.3f} "
          f"nats (decoder {values['elbo_reconstruction_nll'].value:.3f}, KL {values['elbo_kl'].value:.3f}); "
          f"true test NLL {true_nll:.3f}")
    assert bound.exactness == "bound" and bound.protocol["density"] == "continuous"
    assert bound.value > true_nll - 3 * bound.protocol["sem"]
    assert bound.value < true_nll + 1.5  # a trained model: the bound is not vacuous


def test_cfg_honours_the_requested_label_more_as_the_guidance_weight_grows():
    """8 Gaussians of std 0.5 overlap (neighbours 3 std apart): a sample drawn for label y lies
    nearest mode y as often as the data do at w = 0 (far above chance, 1/8), and more often with
    guidance, which samples from p(x | y) p(y | x)^w."""
    data = make_8gaussians(n_train=5000, n_val=10, n_test=2000, data_seed=0, std=0.5, radius=2.0)
    modes = torch.as_tensor(data.modes)
    nearest = lambda x: torch.cdist(x, modes).min(1).indices
    data_rate = (nearest(torch.as_tensor(data.test)) == torch.as_tensor(data.test_labels)).double().mean().item()
    torch.manual_seed(0)
    model = spec_build(data, "cfg", **TOY)
    train(model, data, 300, TOY_BATCH, labels=True)
    model.eval()
    labels = torch.arange(8).repeat_interleave(100)
    rates = {}
    for w in (0.0, 1.0, 3.0):
        torch.manual_seed(1)
        samples = model.sample_with(replace(model.sampling, sampler="ddim", sample_steps=50, guidance=w), 800, labels)
        rates[w] = (nearest(samples) == labels).double().mean().item()
    print(f"\ncfg: samples nearest the requested mode {rates} by guidance weight; the data's own rate {data_rate:.3f}")
    assert abs(rates[0.0] - data_rate) < 0.06 and rates[0.0] > 4 / 8
    assert rates[1.0] > rates[0.0] + 0.05 and rates[3.0] >= rates[1.0]
