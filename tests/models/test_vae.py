"""The VAE plugin: its bounds against a closed-form likelihood, learning on held-out digits, shapes.

Numbers that the tests compare are printed (run with ``-s`` to see them). Models train through the
host's own loop (:func:`benchbench.engine.training.fit`) and are scored by the ``nll`` metric, so
the numbers are the ones a suite would report.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.cluster import KMeans
from sklearn.metrics import normalized_mutual_info_score

from benchbench import CapabilityError, Dataset, EvalContext, Model
from benchbench.distributions import Bernoulli, Gaussian
from benchbench.engine.suite import Budget
from benchbench.engine.training import FitPlan, fit
from benchbench_plugins.metrics.likelihood.compute import evaluate_nll
from benchbench_plugins.models import vae as vae_plugin
from benchbench_plugins.models.baseline.model import build as build_independent
from benchbench_plugins.models.vae.model import VAE, HierarchicalVAE, build
from benchbench_plugins.models.vae.networks import ConvDecoder

SPEC = vae_plugin.benchbench_models()[0]
SMALL = {"latent_dim": 8, "hidden": 128, "lr": 2e-3}  # the trained models' size: seconds on one CPU core


# ---- helpers --------------------------------------------------------------------------------------


def spec_build(data: Dataset, variant: str, **params: object) -> Model:
    """Build as the host does: spec defaults, then the variant's parameters, then the suite's."""
    return build(data, variant=variant, **{**SPEC.defaults(), **SPEC.variants[variant], **params})


def train(model: Model, data: Dataset, steps: int, seed: int = 0) -> Model:
    plan = FitPlan(Budget("steps", steps), batch_size=128, progress=False)
    fit(model, torch.as_tensor(data.train), None, plan, seed=seed)
    return model.eval()


def bits_per_dim(model: Model, data: Dataset, k: int = 100) -> float:
    """The ``nll`` metric's bits/dim on the test split (an IWAE bound for a VAE, exact for the baseline)."""
    values = evaluate_nll(EvalContext(model, data, None, "cpu", 0, Path("unused")), k=k)
    return next(v.value for v in values if v.name.startswith("bpd"))


def paired(a: torch.Tensor, b: torch.Tensor) -> tuple[float, float]:
    """Mean of ``a - b`` over examples and its standard error."""
    diff = (a - b).double()
    return diff.mean().item(), (diff.std() / math.sqrt(len(diff))).item()


def image_data(shape: tuple[int, ...], kind: str, n: int = 40, levels: int | None = None) -> Dataset:
    x = np.random.default_rng(0).random((n, *shape))
    if kind == "binary":
        x = (x < 0.3).astype(float)
    elif levels:
        x = np.round(x * (levels - 1)) / (levels - 1)
    return Dataset(f"synthetic-{kind}", x, x[:8], x[:8], kind, levels=levels)


@pytest.fixture(scope="module")
def baseline_bpd(digits: Dataset) -> float:
    """Exact test bits/dim of the independent-pixel baseline, trained as the quick suite does."""
    torch.manual_seed(0)
    return bits_per_dim(train(build_independent(digits), digits, 500), digits)


@pytest.fixture(scope="module")
def trained_vae(digits: Dataset) -> VAE:
    torch.manual_seed(0)
    return train(spec_build(digits, "vae", **SMALL), digits, 700)


# ---- a linear-Gaussian VAE is probabilistic PCA: log p(x) in closed form ----------------------------

D, Z = 6, 3


def ppca_vae(w: torch.Tensor, b: torch.Tensor, noise_var: float, q_weight: torch.Tensor, q_var: torch.Tensor) -> VAE:
    """p(z) = N(0, I), p(x|z) = N(W z + b, σ² I); q(z|x) = N(A (x − b), diag v), set by hand.

    Linear networks (depth 0). The decoder's output holds (mean, log-variance) per dimension
    interleaved, the encoder's the Z means then the Z log-variances."""
    model = VAE((D,), Gaussian(), latent_dim=Z, depth=0)
    enc, dec = model.encoder.net[0], model.decoder.net[0]
    with torch.no_grad():
        dec.weight.zero_()
        dec.weight[0::2] = w
        dec.bias[0::2], dec.bias[1::2] = b, math.log(noise_var)
        enc.weight.zero_()
        enc.weight[:Z], enc.bias[:Z] = q_weight, -q_weight @ b
        enc.bias[Z:] = q_var.log()
    return model


def ppca_log_prob(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor, noise_var: float) -> torch.Tensor:
    """log N(x; b, W Wᵀ + σ² I): the marginal of the linear-Gaussian model (Tipping & Bishop 1999)."""
    cov = (w @ w.T + noise_var * torch.eye(D)).double()
    return torch.distributions.MultivariateNormal(b.double(), cov).log_prob(x.double())


def ppca_posterior(w: torch.Tensor, noise_var: float) -> tuple[torch.Tensor, torch.Tensor]:
    """p(z|x) = N(A (x − b), Λ⁻¹) with precision Λ = I + WᵀW / σ² and A = Λ⁻¹ Wᵀ / σ²."""
    precision = torch.eye(Z) + w.T @ w / noise_var
    return torch.linalg.solve(precision, w.T) / noise_var, precision


def ppca_setup(w: torch.Tensor, n: int) -> tuple[torch.Tensor, torch.Tensor, float]:
    b, noise_var = torch.linspace(-1, 1, D), 0.3
    z = torch.randn(n, Z, generator=torch.Generator().manual_seed(1))
    x = z @ w.T + b + math.sqrt(noise_var) * torch.randn(n, D, generator=torch.Generator().manual_seed(2))
    return x, b, noise_var


def test_with_the_exact_posterior_every_bound_is_the_exact_log_likelihood():
    """W with orthogonal columns makes p(z|x) a diagonal Gaussian, so q = p(z|x) exactly: then every
    importance weight equals p(x): every IWAE bound equals log p(x) sample by sample, and the ELBO
    (closed-form KL, one-sample reconstruction term) equals it in expectation."""
    columns = torch.linalg.qr(torch.randn(D, Z, generator=torch.Generator().manual_seed(0)))[0]  # orthonormal
    w = columns * torch.tensor([2.0, 1.0, 0.5])
    x, b, noise_var = ppca_setup(w, 200)
    a, precision = ppca_posterior(w, noise_var)
    assert torch.allclose(precision, torch.diag(precision.diagonal()), atol=1e-5)  # the setting holds
    model = ppca_vae(w, b, noise_var, a, 1 / precision.diagonal())
    exact = ppca_log_prob(x, w, b, noise_var).float()
    for k in (1, 10, 100):
        assert torch.allclose(model.log_prob_bound(x, k), exact, atol=1e-3), k
    torch.manual_seed(0)
    gap, sem = paired(model.elbo(x.repeat(100, 1))["elbo"].detach(), exact.repeat(100))
    assert abs(gap) < 4 * sem + 1e-3, (gap, sem)


def test_iw_bound_stays_below_the_exact_log_likelihood_and_approaches_it_as_k_grows():
    """A mean-field q(z|x) for a posterior with correlated latents (the exact posterior's mean and
    marginal variances, without its correlations) leaves a gap at K = 1 that importance sampling
    closes. (Its marginal variances over-disperse q, so the weights are bounded and IWAE_K converges
    fast; the KL-optimal 1/Λ_ii would under-disperse it and converge far more slowly.)"""
    w = torch.randn(D, Z, generator=torch.Generator().manual_seed(0)) + 1.0  # correlated columns
    x, b, noise_var = ppca_setup(w, 2000)
    a, precision = ppca_posterior(w, noise_var)
    model = ppca_vae(w, b, noise_var, a, torch.linalg.inv(precision).diagonal())
    exact = ppca_log_prob(x, w, b, noise_var)
    torch.manual_seed(0)
    gaps = {k: paired(model.log_prob_bound(x, k), exact) for k in (1, 10, 100, 1000)}
    print("\nppca: mean IWAE_K − log p(x) (sem):", {k: f"{g:.4f} ({s:.4f})" for k, (g, s) in gaps.items()})
    for k, (gap, sem) in gaps.items():
        assert gap <= 3 * sem, f"IWAE_{k} exceeds log p(x) by {gap:.4f} nats (sem {sem:.4f})"
    assert gaps[1][0] < -0.1 and gaps[1][0] < -10 * gaps[1][1]  # a real gap at K = 1
    for small, large in zip(gaps, list(gaps)[1:]):
        assert gaps[large][0] >= gaps[small][0] - 3 * math.hypot(gaps[small][1], gaps[large][1]), (small, large)
    assert abs(gaps[1000][0]) < 0.1 * abs(gaps[1][0])


# ---- learning on held-out digits ------------------------------------------------------------------


@pytest.fixture(scope="module")
def digits_bounds(trained_vae: VAE, digits: Dataset) -> dict[int | str, torch.Tensor]:
    """Per test example: the ELBO and IWAE_K for K = 1, 10, 100, 1000, each with fresh samples."""
    x = torch.as_tensor(digits.test)
    torch.manual_seed(0)
    with torch.no_grad():
        bounds: dict[int | str, torch.Tensor] = {"elbo": trained_vae.elbo(x)["elbo"]}
    return {**bounds, **{k: trained_vae.log_prob_bound(x, k) for k in (1, 10, 100, 1000)}}


@pytest.mark.slow  # the K = 1000 bounds of digits_bounds
def test_iw_bound_with_1000_samples_is_tighter_than_the_elbo_on_held_out_digits(digits_bounds):
    gain, sem = paired(digits_bounds[1000], digits_bounds["elbo"])
    print(f"\nvae, digits test: ELBO {digits_bounds['elbo'].mean():.2f}, IWAE_1000 {digits_bounds[1000].mean():.2f} "
          f"nats, gain {gain:.2f} ± {sem:.2f}")
    assert gain > 0.3 and gain > 5 * sem


@pytest.mark.slow  # the K = 1000 bounds of digits_bounds
def test_iw_bound_is_non_decreasing_in_k_on_held_out_digits(digits_bounds):
    ks = (1, 10, 100, 1000)
    print("\nvae, digits test: IWAE_K", {k: round(digits_bounds[k].mean().item(), 2) for k in ks})
    for small, large in zip(ks, ks[1:]):
        gain, sem = paired(digits_bounds[large], digits_bounds[small])
        assert gain > -3 * sem, f"IWAE_{large} below IWAE_{small} by {-gain:.3f} nats (sem {sem:.3f})"
    assert paired(digits_bounds[1000], digits_bounds[1])[0] > 0.3


def test_the_analytic_kl_elbo_agrees_with_the_one_sample_log_weight(trained_vae, digits):
    """The VAE's ELBO uses the closed-form KL; log w at K = 1 estimates the same expectation."""
    x = torch.as_tensor(digits.test).repeat(4, 1, 1, 1)
    torch.manual_seed(2)
    with torch.no_grad():
        gap, sem = paired(trained_vae.elbo(x)["elbo"], trained_vae.log_prob_bound(x, 1))
    assert abs(gap) < 4 * sem + 0.05, (gap, sem)


def test_vae_beats_the_independent_baseline_on_held_out_digits(trained_vae, digits, baseline_bpd):
    bpd = bits_per_dim(trained_vae, digits)
    print(f"\ndigits test bits/dim: vae IWAE_100 bound {bpd:.3f}, independent baseline (exact) {baseline_bpd:.3f}")
    assert bpd < baseline_bpd - 0.1


def test_k_means_on_latents_clusters_digits_better_than_on_a_random_projection(trained_vae, digits):
    """NMI of k-means (k = 10) against the labels of the test digits: on the posterior means, and on
    a Gaussian random projection of the pixels to as many dimensions."""
    x = torch.as_tensor(digits.test)
    latents = trained_vae.encode(x).numpy()
    projection = np.random.default_rng(0).standard_normal((digits.dim, latents.shape[1]))
    projected = digits.test.reshape(len(x), -1) @ projection

    def nmi(features: np.ndarray) -> float:
        clusters = KMeans(n_clusters=10, n_init=10, random_state=0).fit_predict(features)
        return normalized_mutual_info_score(digits.test_labels, clusters)

    on_latents, on_projection = nmi(latents), nmi(projected)
    print(f"\ndigits test NMI, k-means k=10: vae latents {on_latents:.3f}, random projection {on_projection:.3f}")
    assert on_latents > on_projection + 0.1


@pytest.mark.slow
def test_conv_vae_learns_on_digits(digits, baseline_bpd):
    torch.manual_seed(0)
    model = spec_build(digits, "conv-vae", **SMALL, channels=16)
    untrained = bits_per_dim(model.eval(), digits)
    bpd = bits_per_dim(train(model, digits, 600), digits)
    print(f"\ndigits test bits/dim: conv-vae {bpd:.3f} (untrained {untrained:.3f}), baseline {baseline_bpd:.3f}")
    assert bpd < baseline_bpd - 0.1


@pytest.mark.slow
def test_hierarchical_vae_learns_and_its_bounds_are_ordered(digits, baseline_bpd):
    torch.manual_seed(0)
    model = spec_build(digits, "hvae", **SMALL, top_latent_dim=4)
    untrained = bits_per_dim(model.eval(), digits)
    bpd = bits_per_dim(train(model, digits, 700), digits)
    x = torch.as_tensor(digits.test)
    torch.manual_seed(0)
    gain, sem = paired(model.log_prob_bound(x, 100), model.elbo(x)["elbo"].detach())
    print(f"\ndigits test: hvae bits/dim {bpd:.3f} (untrained {untrained:.3f}), baseline {baseline_bpd:.3f}; "
          f"IWAE_100 − ELBO {gain:.2f} ± {sem:.2f} nats")
    assert bpd < baseline_bpd - 0.1 and bpd < untrained - 1.0
    assert gain > 5 * sem


def test_hierarchical_elbo_is_the_log_weight_at_k_1(digits):
    model = spec_build(digits, "hvae", **SMALL).eval()
    x = torch.as_tensor(digits.test[:50])
    torch.manual_seed(3)
    with torch.no_grad():
        terms = model.elbo(x)
    torch.manual_seed(3)
    assert torch.allclose(terms["elbo"], model.log_prob_bound(x, 1), atol=1e-4)
    assert torch.allclose(terms["elbo"], terms["reconstruction"] - terms["kl"])


# ---- the spec, shapes, errors ---------------------------------------------------------------------


@pytest.mark.parametrize("variant", list(SPEC.variants))
def test_every_variant_builds_with_the_spec_defaults_and_trains(variant, digits):
    model = spec_build(digits, variant, hidden=32)
    expected = HierarchicalVAE if variant == "hvae" else VAE
    assert type(model) is expected and model.capabilities >= {"elbo", "log_prob_bound", "encode"}
    x = torch.as_tensor(digits.train[:16])
    assert math.isfinite(model.train_step(x)["loss"])


CASES = {
    "mlp, 2-d continuous": ((2,), "continuous", None, {}),
    "mlp, binary images": ((1, 8, 8), "binary", None, {}),
    "conv, 8x8 categorical": ((1, 8, 8), "discrete", 17, {"net": "conv"}),
    "conv, 28x28 binary, 3 stages": ((1, 28, 28), "binary", None, {"net": "conv", "depth": 3}),
    "conv, odd 7x9": ((1, 7, 9), "binary", None, {"net": "conv"}),
    "conv, RGB continuous": ((3, 8, 8), "continuous", None, {"net": "conv"}),
    "hvae mlp": ((2,), "continuous", None, {"latent_layers": 2}),
    "hvae conv": ((1, 28, 28), "binary", None, {"latent_layers": 2, "net": "conv"}),
}


@pytest.mark.parametrize("shape, kind, levels, params", CASES.values(), ids=CASES.keys())
def test_shapes(shape, kind, levels, params):
    data = image_data(shape, kind, levels=levels)
    model = spec_build(data, "vae", latent_dim=3, hidden=16, channels=4, top_latent_dim=2, **params)
    x = torch.as_tensor(data.train[:5])
    assert model.sample(7).shape == (7, *shape)
    assert all(v.shape == (5,) for v in model.elbo(x).values())
    assert model.log_prob_bound(x, 70).shape == (5,)  # two chunks of importance samples
    assert model.encode(x).shape == (5, 3)
    assert model.decoder(torch.zeros(5, 3)).shape == (5, math.prod(shape) * model.likelihood.params_per_dim)
    assert math.isfinite(model.train_step(x)["loss"])


def test_conv_decoder_gives_each_pixel_its_parameters_contiguously():
    """The distributions read (B, D · P) as (B, D, P): with zero weights, the output conv's bias
    (one value per parameter) must reappear as every pixel's P values, in order."""
    dec = ConvDecoder((2, 4, 4), latent=3, params_per_dim=3, hidden=8, depth=2, channels=4)
    with torch.no_grad():
        dec.out.weight.zero_()
        dec.out.bias.copy_(torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0, 6.0]))  # channel c, parameter p at 3c + p
    out = dec(torch.randn(2, 3)).view(2, 2, 16, 3)  # (B, C, H·W, P)
    assert torch.equal(out[:, 0], torch.tensor([1.0, 2.0, 3.0]).expand(2, 16, 3))
    assert torch.equal(out[:, 1], torch.tensor([4.0, 5.0, 6.0]).expand(2, 16, 3))


def test_conv_on_data_that_is_not_images_is_a_capability_error():
    data = image_data((2,), "continuous")
    with pytest.raises(CapabilityError, match=r"model 'vae', variant 'conv-vae'.*need images.*shaped \(2,\)"):
        spec_build(data, "conv-vae")


def test_conv_deeper_than_the_image_allows_is_a_capability_error():
    with pytest.raises(CapabilityError, match=r"variant 'conv-vae'.*4 stride-2 stages.*at least 16 pixels.*8x8"):
        spec_build(image_data((1, 8, 8), "binary"), "conv-vae", depth=4)


def test_bernoulli_decoder_on_binary_and_gaussian_on_continuous_data():
    assert isinstance(spec_build(image_data((1, 8, 8), "binary"), "vae").likelihood, Bernoulli)
    model = spec_build(image_data((2,), "continuous"), "vae")
    assert isinstance(model.likelihood, Gaussian) and model.density == "continuous"


@pytest.mark.parametrize("kind", ["binary", "discrete", "continuous"])
def test_decode_mean_is_the_decoder_distribution_mean(kind):
    """decode(z)["mean"] equals a Monte-Carlo mean of the decoder's own samples, and its log_prob
    equals the reconstruction term the ELBO uses."""
    from benchbench.testing import tiny_datasets

    data = tiny_datasets()[kind]
    torch.manual_seed(0)
    model = build(data, variant="vae", latent_dim=2, hidden=16)
    x = torch.as_tensor(data.test[:4])
    z = model.encode(x)
    decoded = model.decode(z, x)
    out = model.decoder(z)
    draws = torch.stack([model.likelihood.sample(out) for _ in range(4000)]).mean(0).view_as(decoded["mean"])
    assert torch.allclose(decoded["mean"], draws, atol=0.05)
    assert torch.allclose(decoded["log_prob"], model.log_likelihood(z, x))
