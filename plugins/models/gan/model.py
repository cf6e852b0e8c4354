"""Generative adversarial networks: a generator ``G: z ↦ x``, ``z ~ N(0, I)``, trained against a
critic ``D`` that tells its samples from the data.

Every variant alternates two updates. The critic's ascends a lower bound on a divergence between
the data P and the model Q, estimated on a real batch and a fresh generated one; the generator's
descends the critic's verdict on new samples:

* ``ns-gan`` (Goodfellow et al. 2014): D maximises ``E_P[log σ(D(x))] + E_Q[log(1 − σ(D(x)))]``
  (binary cross-entropy with logits; at its optimum ``2·JS(P, Q) − log 4``, Theorem 1); G
  minimises the non-saturating ``−E[log σ(D(G(z)))]`` (§3), whose gradient does not vanish while
  D wins. Adam, lr 2e-4, β = (0.5, 0.999) (DCGAN, Radford et al. 2016, §4).
* ``f-gan`` (Nowozin et al. 2016): D = V maximises ``F = E_P[g_f(V(x))] − E_Q[f*(g_f(V(x)))]``,
  a lower bound on ``D_f(P ‖ Q)`` (§2; :mod:`.divergences`); G maximises ``E_Q[g_f(V(x))]``,
  the alternative of §3.2 that is to any f what the non-saturating loss is to the GAN's (for the
  ``gan`` divergence the two coincide). The saddle point sits at ``Q = P``, ``g_f(V) = f'(1)``.
* ``wgan`` (Arjovsky et al. 2017): D maximises ``E_P[D] − E_Q[D]`` over weights clipped to
  ``[−c, c]``, a compact set of K-Lipschitz functions, so that the ``sup`` is about
  ``K · W1(P, Q)`` (§3); G minimises ``−E_Q[D]``. RMSProp, lr 5e-5, c = 0.01, 5 critic updates
  per generator step, and as the official code 100 for the first 25 generator steps and every 500th.
* ``wgan-gp`` (Gulrajani et al. 2017): the same objectives with a gradient penalty instead of
  clipping (:mod:`.penalty`); Adam, lr 1e-4, β = (0.5, 0.9), 5 critic updates per generator step.
* ``bigan`` (Donahue et al. 2017; ALI, Dumoulin et al. 2017): an encoder ``E: x ↦ z`` as well; D
  tells pairs ``(x, E(x))`` from ``(G(z), z)`` with the ns-gan loss, and G and E jointly minimise
  it with the labels swapped (§3.4); at the optimum ``E = G⁻¹``, so ``encode`` is ``E``.

Each ``train_step`` is one critic update, and after ``critic_steps`` of them one generator step,
as the official WGAN / WGAN-GP loops draw a new real batch for each critic iteration: a budget of
N steps is N critic updates. The counters are buffers, so a checkpoint resumes the schedule.

The other variants ``encode`` by the critic's penultimate features, what it learned to tell data
apart by. On data with levels the host trains on dequantised points in [0, 1)^D; the generator
ends in a sigmoid there, and samples are mapped back to the cell they fall in (``quantize``).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.nn.functional import binary_cross_entropy_with_logits

from benchbench import CapabilityError, Dataset, MetricValue, Model, ModelDiverged
from benchbench.nn import Critic, Generator, gradient_step, quantize

from .divergences import DIVERGENCES, Divergence
from .penalty import gradient_penalty, interpolate

Inputs = tuple[torch.Tensor, ...]  # what the critic scores: (x,), or BiGAN's pair (x, z)

WGAN_WARMUP_CRITIC_STEPS = 100  # the official WGAN code's critic updates per generator step for its
WGAN_WARMUP_EVERY = 500  # first 25 generator steps (``warmup``) and every 500th: the critic re-converges
IMAGE_PENALTY, VECTOR_PENALTY = 10.0, 0.1  # WGAN-GP's λ: the paper's, and its official 2-D toy script's


@dataclass(frozen=True)
class GANConfig:
    """What every variant's training reads; built by :func:`build` from the spec's parameters."""

    label: str  # "model 'gan', variant 'wgan'": how errors name the model
    latent_dim: int
    critic_steps: int  # critic updates per generator step
    lr: float  # the critic's
    generator_lr: float  # the generator's (and BiGAN's encoder's)
    betas: tuple[float, float]  # Adam's; β1 = 0.5 steadies GAN training (DCGAN, §4)
    divergence_limit: float  # mean |D| beyond which the critic has blown up
    levels: int | None  # the data's levels: samples are quantised onto them


@contextlib.contextmanager
def frozen(module: nn.Module) -> Iterator[None]:
    """No parameter gradients for ``module`` inside: the generator's step backpropagates through
    the critic without computing the critic's own gradients (as the official WGAN code does)."""
    module.requires_grad_(False)
    try:
        yield
    finally:
        module.requires_grad_(True)


def bce(logits: torch.Tensor, label: float) -> torch.Tensor:
    """Mean binary cross-entropy of logits against one label: ``softplus(−D)`` for 1, ``softplus(D)`` for 0."""
    return binary_cross_entropy_with_logits(logits, torch.full_like(logits, label))


class GAN(Model):
    """The alternating updates; a subclass gives the two objectives (losses to minimise):
    ``critic_objective(D(real), D(fake))`` → (loss, values to report) and
    ``generator_objective(D(fake))``."""

    capabilities = frozenset({"encode"})
    variant = ""

    def __init__(self, generator: Generator, critic: Critic, config: GANConfig):
        super().__init__()
        self.generator, self.critic, self.config = generator, critic, config
        self.critic_opt = self.optimizer(critic.parameters(), config.lr)
        self.generator_opt = self.optimizer(generator.parameters(), config.generator_lr)
        for counter in ("critic_updates", "generator_steps", "pending"):  # pending: critic updates since G's last
            self.register_buffer(counter, torch.zeros((), dtype=torch.long))
        self.register_buffer("last_generator_loss", torch.tensor(math.nan))

    def optimizer(self, params: Iterable[nn.Parameter], lr: float) -> torch.optim.Optimizer:
        return torch.optim.Adam(params, lr=lr, betas=self.config.betas)

    def critic_objective(self, d_real: torch.Tensor, d_fake: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        raise NotImplementedError

    def generator_objective(self, d_fake: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def noise(self, n: int) -> torch.Tensor:
        return torch.randn(n, self.config.latent_dim, device=self.device)  # (B, Z)

    def real_inputs(self, x: torch.Tensor) -> Inputs:
        return (x,)

    def fake_inputs(self, n: int) -> Inputs:
        return (self.generator(self.noise(n)),)

    def guard(self, d_real: torch.Tensor, d_fake: torch.Tensor) -> None:
        """Raise ModelDiverged when the critic's mean |D| is beyond ``divergence_limit`` (or NaN)."""
        magnitude = torch.cat([d_real, d_fake]).abs().mean().item()
        if not magnitude <= self.config.divergence_limit:
            raise ModelDiverged(f"{self.config.label}: the critic's mean |D| is {magnitude:.4g}, beyond "
                                f"divergence_limit {self.config.divergence_limit:g}")

    def critic_loss(self, real: Inputs, fake: Inputs) -> tuple[torch.Tensor, dict[str, float]]:
        """The critic's loss on a real and a generated batch (the critic's inputs, detached), scored
        in one pass: the critic has no batch norm, so each example's score is its own."""
        scores = self.critic(*(torch.cat(both) for both in zip(real, fake)))  # (2B,)
        d_real, d_fake = scores[:len(real[0])], scores[len(real[0]):]
        self.guard(d_real, d_fake)
        return self.critic_objective(d_real, d_fake)

    def critic_update(self, real: Inputs, fake: Inputs) -> dict[str, float]:
        """One optimiser step of the critic; what ``train_step`` runs, and tests drive directly."""
        loss, values = self.critic_loss(real, fake)
        gradient_step(loss, self.critic_opt)
        return {"critic": loss.item(), **values}

    def generator_loss(self, x: torch.Tensor) -> torch.Tensor:
        """On fresh samples, as many as the real batch ``x`` (which only BiGAN reads)."""
        return self.generator_objective(self.critic(*self.fake_inputs(len(x))))

    def critic_steps_due(self) -> int:
        """Critic updates before the next generator step."""
        return self.config.critic_steps

    def train_step(self, x: torch.Tensor, y: torch.Tensor | None = None) -> dict[str, float]:
        """One critic update on the real batch ``x`` against fresh samples, then one generator step
        when ``critic_steps_due()`` critic updates have passed since the last: a budget of N steps is
        N critic updates. Reports the critic's loss, its variant's values, the last generator loss."""
        with torch.no_grad():
            real, fake = self.real_inputs(x), self.fake_inputs(len(x))
        losses = self.critic_update(real, fake)
        self.critic_updates += 1
        self.pending += 1
        if self.pending >= self.critic_steps_due():
            with frozen(self.critic):
                loss = self.generator_loss(x)
            gradient_step(loss, self.generator_opt)
            self.last_generator_loss.fill_(loss.item())
            self.generator_steps += 1
            self.pending.zero_()
        if self.generator_steps > 0:
            losses["generator"] = self.last_generator_loss.item()
        return losses

    @torch.no_grad()
    def sample(self, n: int, labels: torch.Tensor | None = None) -> torch.Tensor:
        x = self.generator(self.noise(n))  # (n, *shape)
        return quantize(x, self.config.levels) if self.config.levels else x

    @torch.no_grad()
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The critic's penultimate features, ``(B, hidden)``."""
        return self.critic.features(x)

    def sampling_protocol(self) -> dict[str, Any]:
        """One generator pass, and how the generator was trained beyond the cell's steps (which count
        critic updates)."""
        return {"sampler": "generator", "critic_updates": int(self.critic_updates),
                "generator_steps": int(self.generator_steps)}

    def sampling_values(self) -> list[MetricValue]:
        return [MetricValue("network_evals_per_sample", 1.0, "lower", "evals/sample", "measured")]


class NonSaturatingGAN(GAN):
    """Goodfellow et al. 2014: BCE with logits for D, the non-saturating ``−log σ(D(G(z)))`` for G."""

    variant = "ns-gan"

    def critic_objective(self, d_real: torch.Tensor, d_fake: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        return bce(d_real, 1.0) + bce(d_fake, 0.0), {}

    def generator_objective(self, d_fake: torch.Tensor) -> torch.Tensor:
        return bce(d_fake, 1.0)


class FGAN(GAN):
    """Nowozin et al. 2016: the critic ascends the bound F on ``D_f(P ‖ Q)`` (reported as
    ``divergence``, nats), the generator ascends ``E_Q[g_f(V)]`` (§3.2)."""

    variant = "f-gan"

    def __init__(self, generator: Generator, critic: Critic, config: GANConfig, divergence: Divergence):
        super().__init__(generator, critic, config)
        self.divergence = divergence

    def critic_objective(self, v_real: torch.Tensor, v_fake: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        bound = self.divergence.activation(v_real).mean() - self.divergence.conjugate_of_activation(v_fake).mean()
        return -bound, {"divergence": bound.item()}

    def generator_objective(self, v_fake: torch.Tensor) -> torch.Tensor:
        return -self.divergence.activation(v_fake).mean()


class WassersteinGAN(GAN):
    """The Kantorovich–Rubinstein dual: ``W1(P, Q) = sup_{‖D‖_L ≤ 1} E_P[D] − E_Q[D]``; the critic's
    estimate of it is reported as ``wasserstein``. Subclasses keep D (about) 1-Lipschitz."""

    def critic_objective(self, d_real: torch.Tensor, d_fake: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        estimate = d_real.mean() - d_fake.mean()
        return -estimate, {"wasserstein": estimate.item()}

    def generator_objective(self, d_fake: torch.Tensor) -> torch.Tensor:
        return -d_fake.mean()


class ClippedWGAN(WassersteinGAN):
    """Arjovsky et al. 2017, Algorithm 1: every critic weight clipped to ``[−clip, clip]`` after each
    RMSProp update (and at the start), so the critic always lies in the clipped set; the estimate
    is then W1 up to an unknown Lipschitz constant K."""

    variant = "wgan"

    def __init__(self, generator: Generator, critic: Critic, config: GANConfig, clip: float, warmup: int = 25):
        super().__init__(generator, critic, config)
        self.clip, self.warmup = clip, warmup
        self.clip_weights()

    def optimizer(self, params: Iterable[nn.Parameter], lr: float) -> torch.optim.Optimizer:
        return torch.optim.RMSprop(params, lr=lr)  # no momentum: with Adam the critic was unstable

    @torch.no_grad()
    def clip_weights(self) -> None:
        for p in self.critic.parameters():
            p.clamp_(-self.clip, self.clip)

    def critic_update(self, real: Inputs, fake: Inputs) -> dict[str, float]:
        values = super().critic_update(real, fake)
        self.clip_weights()
        return values

    def critic_steps_due(self) -> int:
        steps = int(self.generator_steps)
        if self.warmup and (steps < self.warmup or steps % WGAN_WARMUP_EVERY == 0):
            return WGAN_WARMUP_CRITIC_STEPS
        return self.config.critic_steps


class GradientPenaltyWGAN(WassersteinGAN):
    """Gulrajani et al. 2017, Algorithm 1: the critic's loss gains ``λ (‖∇D(x̂)‖₂ − 1)²`` on random
    interpolates x̂ (reported as ``penalty``), instead of clipping. With λ small the critic's slope
    overshoots: for a linear critic between two shifted Gaussians the optimum is 1 + 1/(2λ)."""

    variant = "wgan-gp"

    def __init__(self, generator: Generator, critic: Critic, config: GANConfig, penalty: float):
        super().__init__(generator, critic, config)
        self.penalty = penalty

    def critic_loss(self, real: Inputs, fake: Inputs) -> tuple[torch.Tensor, dict[str, float]]:
        loss, values = super().critic_loss(real, fake)
        penalty = self.penalty * gradient_penalty(self.critic, interpolate(real[0], fake[0])).mean()
        return loss + penalty, {**values, "penalty": penalty.item()}

    def sampling_protocol(self) -> dict[str, Any]:
        return {**super().sampling_protocol(), "penalty": self.penalty}


class BiGAN(NonSaturatingGAN):
    """Donahue et al. 2017 / Dumoulin et al. 2017: the critic scores pairs, real ``(x, E(x))``
    against generated ``(G(z), z)``; G and E are one player, trained by the generator optimiser."""

    variant = "bigan"

    def __init__(self, generator: Generator, critic: Critic, config: GANConfig, encoder: nn.Module):
        super().__init__(generator, critic, config)
        self.encoder = encoder
        self.generator_opt.add_param_group({"params": list(encoder.parameters())})

    def real_inputs(self, x: torch.Tensor) -> Inputs:
        return (x, self.encoder(x))

    def fake_inputs(self, n: int) -> Inputs:
        z = self.noise(n)
        return (self.generator(z), z)

    def generator_loss(self, x: torch.Tensor) -> torch.Tensor:
        """The critic's loss with the labels swapped (§3.4): real pairs called fake and fake real."""
        d_real, d_fake = self.critic(*self.real_inputs(x)), self.critic(*self.fake_inputs(len(x)))
        return bce(d_real, 0.0) + bce(d_fake, 1.0)

    @torch.no_grad()
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """``E(x)``, ``(B, latent_dim)``."""
        return self.encoder(x)


# ---- building from the spec's parameters ------------------------------------------------------------

VARIANTS = {cls.variant: cls for cls in (NonSaturatingGAN, FGAN, ClippedWGAN, GradientPenaltyWGAN, BiGAN)}

RULES = {  # parameter: (holds for a valid value, what it must be)
    "latent_dim": (lambda v: v >= 1, "at least 1"),
    "hidden": (lambda v: v >= 1, "at least 1"),
    "depth": (lambda v: v >= 1, "at least 1"),
    "channels": (lambda v: v >= 1, "at least 1"),
    "critic_steps": (lambda v: v >= 1, "at least 1"),
    "lr": (lambda v: v > 0, "positive"),
    "generator_lr": (lambda v: v is None or v > 0, "positive"),
    "beta1": (lambda v: 0 <= v < 1, "in [0, 1)"),
    "beta2": (lambda v: 0 <= v < 1, "in [0, 1)"),
    "clip": (lambda v: v > 0, "positive"),
    "warmup": (lambda v: v >= 0, "at least 0"),
    "penalty": (lambda v: v is None or v >= 0, "non-negative"),
    "divergence": (lambda v: v in DIVERGENCES, f"one of {', '.join(DIVERGENCES)}"),
    "divergence_limit": (lambda v: v > 0, "positive"),
}


def check_params(label: str, params: dict[str, Any]) -> None:
    """Raise CapabilityError naming the first parameter out of its range."""
    for name, (valid, what) in RULES.items():
        if not valid(params[name]):
            raise CapabilityError(f"{label}: {name} must be {what}, got {params[name]!r}")


def encoder_net(shape: tuple[int, ...], latent_dim: int, hidden: int, depth: int, channels: int) -> nn.Module:
    """BiGAN's ``E: (B, *shape) → (B, latent_dim)``: a critic's body (its convolutions, or MLP)
    and a linear layer onto the latent space in place of its head."""
    return nn.Sequential(Critic(shape, hidden, depth, channels).body, nn.Linear(hidden, latent_dim))


def variant_args(variant: str, data: Dataset, latent_dim: int, divergence: str, clip: float, warmup: int,
                 penalty: float | None, nets: dict[str, int]) -> dict[str, Any]:
    """What a variant's constructor takes beyond the networks and the config."""
    if variant == "f-gan":
        return {"divergence": DIVERGENCES[divergence]}
    if variant == "wgan":
        return {"clip": clip, "warmup": warmup}
    if variant == "wgan-gp":  # λ = 10 on images (the paper's), 0.1 on vectors (the official toy script's)
        return {"penalty": penalty if penalty is not None else IMAGE_PENALTY if data.is_image else VECTOR_PENALTY}
    if variant == "bigan":
        return {"encoder": encoder_net(data.shape, latent_dim, **nets)}
    return {}


def build(data: Dataset, variant: str = "ns-gan", latent_dim: int = 16, hidden: int = 128, depth: int = 2,
          channels: int = 32, critic_steps: int = 1, lr: float = 2e-4, generator_lr: float | None = None,
          beta1: float = 0.5, beta2: float = 0.999, clip: float = 0.01, warmup: int = 25, penalty: float | None = None,
          divergence: str = "js", divergence_limit: float = 1e6) -> GAN:
    if variant not in VARIANTS:
        raise CapabilityError(f"model 'gan': unknown variant {variant!r}; available: {', '.join(VARIANTS)}")
    label = f"model 'gan', variant {variant!r}"
    check_params(label, {k: v for k, v in locals().items() if k in RULES})
    bounded = data.levels is not None or data.is_image  # data in [0, 1]: a sigmoid onto it
    nets = {"hidden": hidden, "depth": depth, "channels": channels}
    generator = Generator(latent_dim, data.shape, out=nn.Sigmoid if bounded else nn.Identity, **nets)
    critic = Critic(data.shape, extra=latent_dim if variant == "bigan" else 0, **nets)
    generator_lr = lr if generator_lr is None else generator_lr
    config = GANConfig(label, latent_dim, critic_steps, lr, generator_lr, (beta1, beta2), divergence_limit, data.levels)
    extra = variant_args(variant, data, latent_dim, divergence, clip, warmup, penalty, nets)
    return VARIANTS[variant](generator, critic, config, **extra)
