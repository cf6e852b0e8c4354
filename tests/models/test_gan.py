"""The GAN plugin: the gradient penalty and the f-divergence table against hand computations, each
critic's optimum against closed forms with the generator frozen, mode coverage on 8 Gaussians
through the host's loop and the real metric, the contract, the guard, resumed schedules, digits.

Numbers that the tests compare are printed (run with ``-s`` to see them).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy import integrate, stats
from torch import nn

from benchbench import CapabilityError, Dataset, EvalContext, Model, ModelDiverged
from benchbench.engine.suite import Budget
from benchbench.engine.training import FitPlan, fit
from benchbench.errors import Diverged
from benchbench.nn import dequantize
from benchbench.testing import check_model, tiny_datasets
from benchbench_plugins.datasets.toy2d import make_8gaussians
from benchbench_plugins.metrics.clustering.compute import evaluate_mode_coverage
from benchbench_plugins.models import gan as gan_plugin
from benchbench_plugins.models.gan.divergences import DIVERGENCES
from benchbench_plugins.models.gan.model import (
    GAN, VARIANTS, BiGAN, ClippedWGAN, FGAN, GradientPenaltyWGAN, NonSaturatingGAN, build,
)
from benchbench_plugins.models.gan.penalty import gradient_penalty, interpolate

SPEC = gan_plugin.benchbench_models()[0]
TOY = {"hidden": 64, "lr": 1e-3}  # 8 Gaussians: seconds on one core (DCGAN's lr 2e-4 needs far more steps)
TOY_STEPS, TOY_BATCH = 2000, 128
WGAN_GP_TOY = {**TOY, "lr": 2e-3, "generator_lr": 1e-3, "critic_steps": 2}  # see test_wgan_gp_covers...


# ---- helpers ---------------------------------------------------------------------------------------


def spec_build(data: Dataset, variant: str, **params: object) -> GAN:
    """Build as the host does: spec defaults, then the variant's parameters, then the suite's."""
    return build(data, variant=variant, **{**SPEC.defaults(), **SPEC.variants[variant], **params})


def vectors(x: np.ndarray, name: str = "vectors") -> Dataset:
    return Dataset(name, x, x[:8], x[:8], "continuous")


def train(model: Model, data: Dataset, steps: int, batch_size: int = TOY_BATCH, seed: int = 0,
          checkpoint: Path | None = None) -> float:
    """Fit through the host's loop, with its dequantisation of data with levels; returns seconds."""
    levels = data.levels
    transform = (lambda b, g: dequantize(b, levels, g)) if levels else None
    plan = FitPlan(Budget("steps", steps), batch_size=batch_size, progress=False, transform=transform,
                   checkpoint=checkpoint, checkpoint_every=10**9)
    return fit(model, torch.as_tensor(data.train), None, plan, seed=seed).seconds


@pytest.fixture(scope="module")
def gaussians8() -> Dataset:
    return make_8gaussians(n_train=5000, n_val=10, n_test=2500, data_seed=0, std=0.2, radius=2.0)


# ---- the gradient penalty --------------------------------------------------------------------------


class LinearCritic(nn.Module):
    """D(x) = <w, x> over all of an example's dimensions: ∇D = w everywhere."""

    def __init__(self, w: torch.Tensor):
        super().__init__()
        self.w = nn.Parameter(w)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x * self.w).flatten(1).sum(1)


def per_pixel_penalty(critic: nn.Module, x_hat: torch.Tensor) -> torch.Tensor:
    """The classic bug: the norm over the channel axis only, (B, H, W), then averaged per example."""
    x_hat = x_hat.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat)
    return ((grad.norm(dim=1) - 1) ** 2).flatten(1).mean(1)


def test_gradient_penalty_of_a_linear_critic_is_lambda_times_the_squared_excess_of_the_weight_norm():
    torch.manual_seed(0)
    w = torch.randn(1, 4, 4) * 0.5  # (C, H, W)
    critic, x_hat = LinearCritic(w), torch.rand(5, 1, 4, 4)
    expected = (w.flatten().norm() - 1) ** 2  # over all 16 dimensions
    penalty = gradient_penalty(critic, x_hat)
    buggy = per_pixel_penalty(critic, x_hat)
    print(f"\nlinear critic, ||w|| = {w.norm():.4f}: penalty {penalty[0]:.5f}, by hand {expected:.5f}, "
          f"per-pixel norm {buggy[0]:.5f}")
    assert penalty.shape == (5,) and torch.allclose(penalty, expected.expand(5), atol=1e-6)
    assert (buggy - penalty).abs().min() > 0.1
    # create_graph: the penalty is differentiable in the critic's weights, d/dw (||w|| - 1)^2
    penalty.mean().backward()
    assert torch.allclose(critic.w.grad, 2 * (w.norm() - 1) * w / w.norm(), atol=1e-6)


def test_gradient_penalty_is_per_example_when_the_gradient_differs_between_examples():
    """D(x) = ½ Σ x²: ∇D(x̂) = x̂, so each example's penalty is (||x̂_i||₂ − 1)² over its 16 values."""
    x_hat = torch.rand(4, 1, 4, 4) * torch.tensor([0.1, 0.3, 0.6, 1.0]).view(4, 1, 1, 1)
    critic = lambda x: 0.5 * (x**2).flatten(1).sum(1)  # noqa: E731
    penalty = gradient_penalty(critic, x_hat)
    expected = (x_hat.flatten(1).norm(dim=1) - 1) ** 2
    print("\nsquare critic: per-example penalties", penalty.tolist(), "by hand", expected.tolist())
    assert torch.allclose(penalty, expected, atol=1e-6)
    assert not torch.allclose(per_pixel_penalty(critic, x_hat), expected, atol=1e-2)


def test_interpolates_draw_one_epsilon_per_example_on_the_segment():
    torch.manual_seed(0)
    real, fake = torch.ones(64, 3, 4, 4), torch.zeros(64, 3, 4, 4)
    x_hat = interpolate(real, fake)  # = ε, broadcast
    eps = x_hat[:, 0, 0, 0]
    assert torch.equal(x_hat, eps.view(64, 1, 1, 1).expand_as(x_hat))
    assert eps.min() >= 0 and eps.max() <= 1 and eps.std() > 0.2  # U[0, 1]: std 0.29


def test_the_wgan_gp_critic_loss_adds_lambda_times_the_mean_penalty_lambda_10_on_images():
    data = Dataset("images", np.random.default_rng(0).random((16, 1, 4, 4)), np.zeros((2, 1, 4, 4)),
                   np.zeros((2, 1, 4, 4)), "continuous")
    model = spec_build(data, "wgan-gp")
    assert model.penalty == 10.0 and model.sampling_protocol()["penalty"] == 10.0
    w = torch.full((1, 4, 4), 0.5)  # ||w|| = 2: penalty 10 · (2 − 1)² = 10 for every interpolate
    model.critic = LinearCritic(w)
    real, fake = torch.rand(8, 1, 4, 4), torch.rand(8, 1, 4, 4)
    loss, values = model.critic_loss((real,), (fake,))
    estimate = ((real - fake) * w).flatten(1).sum(1).mean()
    assert values["penalty"] == pytest.approx(10.0, rel=1e-5)
    assert values["wasserstein"] == pytest.approx(estimate.item(), abs=1e-5)
    assert loss.item() == pytest.approx(10.0 - estimate.item(), abs=1e-4)
    assert spec_build(tiny_datasets()["continuous"], "wgan-gp").penalty == 0.1  # the toy script's on vectors


# ---- the f-divergence table ------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(DIVERGENCES))
def test_conjugate_meets_the_fenchel_equality_and_the_activation_lands_in_its_domain(name):
    d = DIVERGENCES[name]
    u = torch.logspace(-2, 1.5, 200, dtype=torch.float64)  # likelihood ratios 0.01 .. 32
    t = d.derivative(u)
    gap = (d.conjugate(t) - (u * t - d.f(u))).abs().max().item()
    v = torch.linspace(-20, 20, 401, dtype=torch.float64)
    g = d.activation(v)
    low, high = d.domain
    print(f"\n{name}: max |f*(f'(u)) - (u f'(u) - f(u))| = {gap:.2e}; g_f(v) in [{g.min():.4g}, {g.max():.4g}], "
          f"dom f* = ({low}, {high})")
    assert gap < 1e-6
    at_one = -math.log(4) if name == "gan" else 0.0  # gan: D_f = 2·JS − log 4 (Goodfellow et al. 2014, Theorem 1)
    assert d.f(torch.ones(1, dtype=torch.float64)).item() == pytest.approx(at_one, abs=1e-12)
    assert (g > low).all() and (g < high).all()
    assert (t > low).all() and (t < high).all()  # f' maps ratios into dom f* too
    v = torch.linspace(-5, 5, 101, dtype=torch.float64)
    assert torch.allclose(d.conjugate_of_activation(v), d.conjugate(d.activation(v)), atol=1e-9)


def test_the_f_gan_of_the_gan_divergence_is_the_non_saturating_gan():
    """Nowozin et al.'s Table 2 and §3.2: with f of the GAN divergence, F is the GAN's discriminator
    objective and the alternative generator loss is the non-saturating one."""
    data = tiny_datasets()["continuous"]
    ns, f_gan = spec_build(data, "ns-gan"), spec_build(data, "f-gan", divergence="gan")
    d_real, d_fake = torch.randn(100) * 3, torch.randn(100) * 3
    assert torch.allclose(ns.critic_objective(d_real, d_fake)[0], f_gan.critic_objective(d_real, d_fake)[0], atol=1e-6)
    assert torch.allclose(ns.generator_objective(d_fake), f_gan.generator_objective(d_fake), atol=1e-6)


# ---- each critic's optimum, the generator frozen: P = N(0, 1) against Q = N(1, 1) --------------------

P_MEAN, Q_MEAN = 0.0, 1.0
LINE = vectors(np.random.default_rng(0).normal(size=(256, 1)), "line")


def frozen_generator_critic(variant: str, steps: int, batch: int = 512, **params: object) -> GAN:
    """The variant's critic trained by the model's own ``critic_update`` on fresh draws of P and Q."""
    torch.manual_seed(0)
    model = spec_build(LINE, variant, **{"hidden": 64, "lr": 1e-3, **params})
    for _ in range(steps):
        p, q = torch.randn(batch, 1) + P_MEAN, torch.randn(batch, 1) + Q_MEAN
        model.critic_update((p,), (q,))
    return model


def fresh_values(model: GAN, n: int = 200_000) -> dict[str, float]:
    """The critic loss's reported values on fresh samples, a precise estimate of its bound."""
    torch.manual_seed(1)
    return model.critic_loss((torch.randn(n, 1) + P_MEAN,), (torch.randn(n, 1) + Q_MEAN,))[1]


def normal_pdf(x: float, mean: float) -> float:
    return stats.norm.pdf(x, loc=mean)


def f_divergence_by_quadrature(name: str) -> float:
    """∫ q f(p / q) dx of the table's own f, by adaptive quadrature."""
    f = DIVERGENCES[name].f

    def integrand(x: float) -> float:
        ratio = torch.tensor(normal_pdf(x, P_MEAN) / normal_pdf(x, Q_MEAN), dtype=torch.float64)
        return normal_pdf(x, Q_MEAN) * f(ratio).item()
    return integrate.quad(integrand, -15, 16, limit=200)[0]


@pytest.mark.parametrize("name, closed_form", [("kl", 0.5), ("js", None)])
def test_f_gan_bound_estimates_the_divergence(name, closed_form):
    """KL(N(0,1) ‖ N(1,1)) = (μ1 − μ2)² / 2 = 0.5; the js row's D_f by quadrature (2 · JS)."""
    exact = closed_form if closed_form is not None else f_divergence_by_quadrature(name)
    if closed_form is not None:
        assert f_divergence_by_quadrature(name) == pytest.approx(closed_form, rel=1e-6)
    estimate = fresh_values(frozen_generator_critic("f-gan", 1500, divergence=name))["divergence"]
    print(f"\nf-gan {name}: critic's bound {estimate:.4f}, exact {exact:.4f}")
    assert estimate == pytest.approx(exact, rel=0.1)


def test_wgan_gp_critic_estimates_the_wasserstein_distance():
    """W1(N(0,1), N(1,1)) = |μ1 − μ2| = 1 with λ = 10. With the toy default λ = 0.1 the penalty is
    too soft: a linear critic's optimum slope is 1 + 1/(2λ) = 6, and the estimate follows it."""
    estimates = {lam: fresh_values(frozen_generator_critic("wgan-gp", 600, penalty=lam))["wasserstein"]
                 for lam in (10.0, 0.1)}
    print(f"\nwgan-gp critic: E_P[D] - E_Q[D] = {estimates[10.0]:.4f} (λ = 10), {estimates[0.1]:.4f} (λ = 0.1); "
          f"W1 = 1, linear optimum 1 + 1/(2λ) = {1 + 1 / (2 * 10.0):.2f} / {1 + 1 / (2 * 0.1):.1f}")
    assert estimates[10.0] == pytest.approx(1.0, rel=0.1)
    assert estimates[0.1] == pytest.approx(1 + 1 / (2 * 0.1), rel=0.2)


def test_ns_gan_discriminator_approaches_the_density_ratio():
    """The optimal discriminator σ(D(x)) = p / (p + q) (Goodfellow et al. 2014, Proposition 1)."""
    model = frozen_generator_critic("ns-gan", 1500)
    x = torch.tensor([[-1.0], [0.0], [0.5], [1.0], [2.0]])
    with torch.no_grad():
        learned = torch.sigmoid(model.critic(x)).squeeze()
    p, q = (torch.as_tensor(stats.norm.pdf(x.squeeze().numpy(), loc=m)) for m in (P_MEAN, Q_MEAN))
    optimum = (p / (p + q)).float()
    print("\nns-gan: sigmoid(D(x)) at x = -1, 0, 0.5, 1, 2:", [round(v, 3) for v in learned.tolist()],
          "p/(p+q):", [round(v, 3) for v in optimum.tolist()])
    assert (learned - optimum).abs().max() < 0.05


# ---- learning on 8 Gaussians, scored by the mode_coverage metric -----------------------------------


def coverage(model: Model, data: Dataset) -> dict[str, float]:
    model.eval()
    torch.manual_seed(0)
    samples = model.sample(2500)
    assert samples.shape == (2500, 2) and torch.isfinite(samples).all()
    values = evaluate_mode_coverage(EvalContext(model, data, samples, "cpu", 0, Path("unused")))
    return {v.name: v.value for v in values} | {"counts": values[0].protocol["counts"]}


def train_on_8_gaussians(variant: str, data: Dataset, steps: int = TOY_STEPS, **params: object) -> dict:
    torch.manual_seed(0)
    model = spec_build(data, variant, **params)
    seconds = train(model, data, steps)
    scores = coverage(model, data)
    print(f"\n{variant} on 8 Gaussians, {steps} steps of {TOY_BATCH}, {params}: {seconds:.1f} s, "
          f"{int(model.generator_steps)} generator steps; modes {scores['modes_covered']}, high quality "
          f"{scores['high_quality_fraction']:.3f}, mode KL {scores.get('mode_kl', math.nan):.3f}, "
          f"counts {scores['counts']}")
    return scores


@pytest.mark.parametrize("variant, params", [("f-gan", TOY), ("bigan", TOY), ("wgan-gp", WGAN_GP_TOY)],
                         ids=["f-gan", "bigan", "wgan-gp"])
def test_gan_covers_all_8_modes_with_mostly_high_quality_samples(variant, params, gaussians8):
    """f-gan's default divergence is js: with the §3.2 generator loss, ``kl`` drives G by
    E_Q[log p/q], i.e. it descends the reverse KL, and collapses onto one mode here (as pearson
    does); js behaves like the GAN. wgan-gp needs 2 critic updates per generator step, not 5, to
    reach 70% high quality within the budget (its generator then takes 1,500 steps)."""
    steps = 3000 if variant == "wgan-gp" else TOY_STEPS
    scores = train_on_8_gaussians(variant, gaussians8, steps, **params)
    assert scores["modes_covered"] == 8
    assert scores["high_quality_fraction"] >= 0.7


@pytest.mark.parametrize("variant, steps, params", [("ns-gan", TOY_STEPS, TOY), ("ns-gan", TOY_STEPS, {"hidden": 64}),
                                                    ("wgan", 5000, {"hidden": 64, "lr": 5e-4})],
                         ids=["ns-gan", "ns-gan-dcgan-lr", "wgan"])
def test_ns_gan_and_wgan_run_on_8_gaussians(variant, steps, params, gaussians8):
    """Findings, not requirements: mode collapse (ns-gan at DCGAN's lr) and clipped WGAN's blurred
    samples are what these variants are known for."""
    train_on_8_gaussians(variant, gaussians8, steps, **params)


# ---- the contract, encode, bad parameters, the guard, resuming -------------------------------------


@pytest.mark.parametrize("variant", list(SPEC.variants))
@pytest.mark.parametrize("kind", ["continuous", "discrete", "binary"])
def test_every_variant_keeps_the_contract_and_encodes(variant, kind):
    data = tiny_datasets()[kind]
    torch.manual_seed(0)
    model = check_model(SPEC, data, variant, hidden=16, channels=4, latent_dim=3)
    assert type(model) is VARIANTS[variant] and model.capabilities == {"encode"}
    x = torch.as_tensor(data.test[:5])
    assert model.encode(x).shape == (5, 3 if variant == "bigan" else 16)
    samples = model.sample(7)
    if data.levels:  # values of the stored data, k / (L - 1)
        k = samples * (data.levels - 1)
        assert torch.equal(k, k.round()) and samples.min() >= 0 and samples.max() <= 1
    value = model.sampling_values()[0]
    assert value.name == "network_evals_per_sample" and model.sampling_protocol()["critic_updates"] == 2


def test_variants_get_their_objectives_and_optimisers():
    data = tiny_datasets()["continuous"]
    wgan, gp = spec_build(data, "wgan"), spec_build(data, "wgan-gp")
    assert isinstance(wgan.critic_opt, torch.optim.RMSprop) and wgan.critic_opt.defaults["lr"] == 5e-5
    assert isinstance(gp.critic_opt, torch.optim.Adam) and gp.critic_opt.defaults["betas"] == (0.5, 0.9)
    assert all(p.abs().max() <= 0.01 for p in wgan.critic.parameters())  # clipped from the start
    f_gan = spec_build(data, "f-gan")
    assert isinstance(f_gan, FGAN) and f_gan.divergence.name == "js"
    bigan = spec_build(data, "bigan", generator_lr=1e-3)
    encoder_params = {id(p) for p in bigan.encoder.parameters()}
    assert encoder_params <= {id(p) for g in bigan.generator_opt.param_groups for p in g["params"]}
    assert bigan.generator_opt.param_groups[1]["lr"] == 1e-3 and bigan.critic_opt.defaults["lr"] == 2e-4
    assert isinstance(spec_build(data, "ns-gan"), NonSaturatingGAN) and isinstance(bigan, BiGAN)


def test_a_wgan_critic_keeps_its_weights_clipped_while_training():
    model = spec_build(tiny_datasets()["continuous"], "wgan", lr=0.1)
    x = torch.as_tensor(tiny_datasets()["continuous"].train[:16])
    for _ in range(5):
        model.train_step(x)
    weights = torch.cat([p.flatten() for p in model.critic.parameters()])
    assert weights.abs().max() <= 0.01 and (weights.abs() == 0.01).float().mean() > 0.5  # at the bounds


BAD = {
    "negative clip": ("wgan", {"clip": -0.1}, r"model 'gan', variant 'wgan': clip must be positive, got -0.1"),
    "zero clip": ("wgan", {"clip": 0.0}, r"variant 'wgan': clip must be positive, got 0.0"),
    "negative penalty": ("wgan-gp", {"penalty": -1.0}, r"variant 'wgan-gp': penalty must be non-negative, got -1.0"),
    "no critic steps": ("ns-gan", {"critic_steps": 0}, r"variant 'ns-gan': critic_steps must be at least 1, got 0"),
    "zero lr": ("f-gan", {"lr": 0.0}, r"variant 'f-gan': lr must be positive, got 0.0"),
    "negative generator lr": ("bigan", {"generator_lr": -1e-3}, r"variant 'bigan': generator_lr must be positive"),
    "no latent": ("bigan", {"latent_dim": 0}, r"variant 'bigan': latent_dim must be at least 1, got 0"),
    "unknown divergence": ("f-gan", {"divergence": "tv"},
                           r"variant 'f-gan': divergence must be one of kl, reverse-kl, .*, got 'tv'"),
    "beta1 of 1": ("wgan-gp", {"beta1": 1.0}, r"variant 'wgan-gp': beta1 must be in \[0, 1\), got 1.0"),
}


@pytest.mark.parametrize("variant, params, message", BAD.values(), ids=BAD.keys())
def test_bad_parameters_are_capability_errors_naming_the_parameter(variant, params, message):
    with pytest.raises(CapabilityError, match=message):
        spec_build(tiny_datasets()["continuous"], variant, **params)


def test_an_unknown_variant_is_a_capability_error_listing_the_variants():
    with pytest.raises(CapabilityError, match=r"model 'gan': unknown variant 'wgan-pg'; available: ns-gan, f-gan"):
        build(tiny_datasets()["continuous"], variant="wgan-pg")
    assert set(VARIANTS) == set(SPEC.variants) and SPEC.param("divergence").choices == tuple(DIVERGENCES)


def test_a_blown_up_critic_raises_model_diverged_and_the_host_records_it():
    data = tiny_datasets()["continuous"]
    x = torch.as_tensor(data.train[:16])
    with pytest.raises(ModelDiverged, match=r"'ns-gan': the critic's mean \|D\| is .* beyond divergence_limit 1e-12"):
        spec_build(data, "ns-gan", divergence_limit=1e-12).train_step(x)
    model = spec_build(data, "f-gan", divergence="kl")
    with torch.no_grad():
        model.critic.head[-1].weight.mul_(1e9)  # scaled weights: |D| ~ 1e8, beyond the default limit 1e6
    with pytest.raises(Diverged, match=r"variant 'f-gan': the critic's mean \|D\| is \d\.\d+e\+0[789], beyond "
                                       r"divergence_limit 1e\+06 at step 1"):
        train(model, data, 3, batch_size=16)


def test_the_wgan_schedule_follows_the_official_code():
    """100 critic updates per generator step for the first 25 and every 500th, else critic_steps."""
    data = tiny_datasets()["continuous"]
    model = spec_build(data, "wgan", hidden=8)
    due = {}
    for steps in (0, 24, 25, 499, 500, 501, 1000):
        model.generator_steps.fill_(steps)
        due[steps] = model.critic_steps_due()
    assert due == {0: 100, 24: 100, 25: 5, 499: 5, 500: 100, 501: 5, 1000: 100}
    unscheduled = spec_build(data, "wgan", hidden=8, warmup=0)  # short budgets: critic_steps throughout
    for steps in (0, 24, 500):
        unscheduled.generator_steps.fill_(steps)
        assert unscheduled.critic_steps_due() == 5
    model.generator_steps.zero_()
    x = torch.as_tensor(data.train[:16])
    counts = []
    for _ in range(201):
        losses = model.train_step(x)
        counts.append(int(model.generator_steps))
    assert counts[98] == 0 and counts[99] == 1 and counts[199] == 2 and "generator" in losses
    gp = spec_build(data, "wgan-gp", hidden=8)
    for _ in range(10):
        gp.train_step(x)
    assert int(gp.generator_steps) == 2 and int(gp.critic_updates) == 10


def test_a_resumed_fit_continues_the_wgan_schedule_exactly(tmp_path):
    """Interrupted after 130 critic updates (one generator step, 30 of the next 100 critic updates
    done), resumed from the host's checkpoint to 260: the same weights and counters as one fit
    (generator steps at critic updates 100 and 200: the warm-up's 100 each)."""
    data = tiny_datasets()["continuous"]

    def fresh() -> GAN:
        torch.manual_seed(0)
        return spec_build(data, "wgan", hidden=8, critic_steps=2)

    whole = fresh()
    train(whole, data, 260, batch_size=16)
    first = fresh()
    train(first, data, 130, batch_size=16, checkpoint=tmp_path / "ckpt.pt")
    assert (int(first.critic_updates), int(first.generator_steps), int(first.pending)) == (130, 1, 30)
    resumed = spec_build(data, "wgan", hidden=8, critic_steps=2)  # another initialisation: all of it restored
    train(resumed, data, 260, batch_size=16, checkpoint=tmp_path / "ckpt.pt")
    assert isinstance(resumed, ClippedWGAN)
    counters = lambda m: (int(m.critic_updates), int(m.generator_steps), int(m.pending))  # noqa: E731
    assert counters(resumed) == counters(whole) == (260, 2, 60)
    for a, b in zip(whole.state_dict().values(), resumed.state_dict().values()):
        assert torch.equal(a, b)


# ---- digits: the DCGAN networks --------------------------------------------------------------------


def test_a_conv_gan_trains_on_digits_and_samples_its_levels(digits):
    torch.manual_seed(0)
    model = spec_build(digits, "wgan-gp", channels=16, hidden=64, latent_dim=16, lr=1e-3)
    assert isinstance(model, GradientPenaltyWGAN) and model.penalty == 10.0
    assert any(isinstance(m, nn.Conv2d) for m in model.critic.modules())
    model.eval()
    untrained = model.sample(500)
    model.train()
    seconds = train(model, digits, 300)
    model.eval()
    torch.manual_seed(0)
    samples = model.sample(500)
    data_mean = float(digits.test.mean())
    print(f"\nwgan-gp on digits, 300 steps of {TOY_BATCH}: {seconds:.1f} s; mean intensity: data {data_mean:.3f}, "
          f"samples {samples.mean():.3f} (untrained {untrained.mean():.3f})")
    assert samples.shape == (500, 1, 8, 8) and samples.min() >= 0 and samples.max() <= 1
    assert torch.equal(samples * 16, (samples * 16).round())
    assert abs(samples.mean() - data_mean) < abs(untrained.mean() - data_mean)
    assert model.encode(torch.as_tensor(digits.test[:6])).shape == (6, 64)
