"""Variational autoencoders: Gaussian latents, an amortised Gaussian posterior, p(x|z) by data kind.

For any q(z|x) (Kingma & Welling 2014; Burda et al. 2016, "Importance weighted autoencoders"):

    w(x, z)   = p(x, z) / q(z|x)                                        importance weight
    ELBO(x)   = E_q[log w] = E_q[log p(x|z)] − KL(q(z|x) ‖ p(z))
    IWAE_K(x) = E[log (1/K) Σ_k w(x, z_k)],  z_1..z_K ~ q(z|x) independently
    ELBO = IWAE_1 ≤ IWAE_K ≤ IWAE_{K+1} ≤ log p(x),  IWAE_K → log p(x) as K → ∞.

Samples are reparameterised, z = μ(x) + σ(x) ⊙ ε with ε ~ N(0, I), so both bounds are
differentiable in the encoder's parameters. Training maximises E[log p(x|z)] − β KL (β = 1: the
ELBO; β > 1: β-VAE, Higgins et al. 2017) or, with ``k_train`` > 1, the IWAE bound itself.

The subclasses differ only in their latents:

* :class:`VAE`: p(z) = N(0, I), q(z|x) = N(μ(x), diag σ²(x)).
* :class:`HierarchicalVAE`: two stochastic layers (Burda et al. 2016, §5), generated top-down,
  p(z2) p(z1|z2) p(x|z1), and inferred bottom-up, q(z1|x) q(z2|z1), all diagonal Gaussians.

On data with levels a :class:`VAE` also codes losslessly (``latent_coding``) by bits-back coding
(Townsend, Bird & Barber 2019, BB-ANS), which needs q(z|x), the prior N(0, I) and p(x|z) over the
levels: the expected code length is the negative ELBO. The hierarchy's prior on z1 is not N(0, I),
so it does not declare the capability.
"""

from __future__ import annotations

from typing import Any

import torch

from benchbench import CapabilityError, Dataset, Model
from benchbench.distributions import Likelihood, for_data
from benchbench.nn import gaussian_log_prob, gradient_step, halved_sizes, log_mean_exp, mlp, standard_normal_log_prob

from .networks import decoder, encoder

CHUNK = 64  # importance samples evaluated at once, bounding memory for large K
LATENT_NET_DEPTH = 2  # hidden layers between two stochastic layers (Burda et al. 2016, §5)

Latents = tuple[torch.Tensor, torch.Tensor, torch.Tensor]  # z (B·k, Z), log p(z) (B·k,), log q(z|x) (B·k,)


def gaussian_stats(out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """A network's output (B, 2Z) → mean (B, Z) and log-variance (B, Z), clamped for stability."""
    mean, log_var = out.chunk(2, dim=1)
    return mean, log_var.clamp(-12, 8)


def reparameterise(mean: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
    """z = μ + σ ε, ε ~ N(0, I): a sample differentiable in μ and σ (Kingma & Welling 2014, §2.4)."""
    return mean + torch.randn_like(mean) * (0.5 * log_var).exp()


def kl_to_standard_normal(mean: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
    """KL(N(μ, diag σ²) ‖ N(0, I)) in closed form, (B,) nats (Kingma & Welling 2014, appendix B)."""
    return 0.5 * (mean**2 + log_var.exp() - 1 - log_var).sum(1)


class LatentVAE(Model):
    """What every variant shares: the data-side networks, the bounds, training, sampling.

    The encoder gives q(z1 | x) for the latent z1 next to the data, the decoder p(x | z1). A
    subclass supplies the rest of its latents: ``latents(x, k)`` draws k reparameterised posterior
    samples of z1 per example with log p and log q of all its latents, and ``prior_sample(n)``
    draws z1 from the prior."""

    capabilities = frozenset({"elbo", "log_prob_bound", "encode", "decode"})

    def __init__(self, shape: tuple[int, ...], likelihood: Likelihood, latent_dim: int = 16, hidden: int = 256,
                 depth: int = 2, beta: float = 1.0, k_train: int = 1, net: str = "mlp", channels: int = 32):
        super().__init__()
        self.shape, self.likelihood, self.density = shape, likelihood, likelihood.density
        self.latent_dim, self.hidden, self.beta, self.k_train = latent_dim, hidden, beta, k_train
        self.encoder = encoder(net, shape, 2 * latent_dim, hidden, depth, channels)
        self.decoder = decoder(net, shape, latent_dim, likelihood.params_per_dim, hidden, depth, channels)

    def latents(self, x: torch.Tensor, k: int) -> Latents:
        raise NotImplementedError

    def prior_sample(self, n: int) -> torch.Tensor:
        raise NotImplementedError

    def posterior(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and log-variance of q(z1 | x), (B, Z) each: amortised, one encoder pass per example."""
        return gaussian_stats(self.encoder(x))

    def log_likelihood(self, z: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """log p(x | z1), (B,) nats."""
        return self.likelihood.log_prob(self.decoder(z), x.flatten(1))

    def elbo(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """One-sample ELBO, KL(q ‖ p) estimated by log q(z|x) − log p(z); equals log w at K = 1."""
        z, log_p, log_q = self.latents(x, 1)
        reconstruction, kl = self.log_likelihood(z, x), log_q - log_p
        return {"elbo": reconstruction - kl, "reconstruction": reconstruction, "kl": kl}

    def log_weights(self, x: torch.Tensor, k: int) -> torch.Tensor:
        """log w(x, z_k) = log p(x | z_k) + log p(z_k) − log q(z_k | x) for k samples: (B, k)."""
        z, log_p, log_q = self.latents(x, k)
        return (self.log_likelihood(z, x.repeat_interleave(k, 0)) + log_p - log_q).view(len(x), k)

    @torch.no_grad()
    def log_prob_bound(self, x: torch.Tensor, k: int) -> torch.Tensor:
        """IWAE_K, (B,) nats, its K samples drawn in chunks of at most ``CHUNK``."""
        chunks = [self.log_weights(x, min(CHUNK, k - i)) for i in range(0, k, CHUNK)]
        return log_mean_exp(torch.cat(chunks, 1), 1)

    @torch.no_grad()
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The posterior mean of z1, (B, Z)."""
        return self.posterior(x)[0]

    @torch.no_grad()
    def decode(self, z: torch.Tensor, x: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """The mean of p(x | z1) in data space and, given ``x``, log p(x | z1) in nats."""
        out = self.decoder(z)
        decoded = {"mean": self.likelihood.mean(out).view(len(z), *self.shape)}
        if x is not None:
            decoded["log_prob"] = self.likelihood.log_prob(out, x.flatten(1))
        return decoded

    def loss(self, x: torch.Tensor) -> torch.Tensor:
        if self.k_train > 1:
            return -log_mean_exp(self.log_weights(x, self.k_train), 1).mean()
        terms = self.elbo(x)
        return -(terms["reconstruction"] - self.beta * terms["kl"]).mean()

    def train_step(self, x: torch.Tensor, y: torch.Tensor | None = None) -> dict[str, float]:
        loss = self.loss(x)
        gradient_step(loss, self.opt)
        return {"loss": loss.item()}

    @torch.no_grad()
    def sample(self, n: int, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.likelihood.sample(self.decoder(self.prior_sample(n))).view(n, *self.shape)


class VAE(LatentVAE):
    """One stochastic layer, p(z) = N(0, I); the ELBO's KL in closed form, lower in variance than
    its one-sample estimate."""

    capabilities = LatentVAE.capabilities | {"latent_coding"}

    def __init__(self, shape: tuple[int, ...], likelihood: Likelihood, lr: float = 1e-3, **config: Any):
        super().__init__(shape, likelihood, **config)
        self.opt = torch.optim.Adam(self.parameters(), lr=lr)

    def latents(self, x: torch.Tensor, k: int) -> Latents:
        mean, log_var = (t.repeat_interleave(k, 0) for t in self.posterior(x))  # (B·k, Z)
        z = reparameterise(mean, log_var)
        return z, standard_normal_log_prob(z), gaussian_log_prob(z, mean, log_var)

    def elbo(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        mean, log_var = self.posterior(x)
        reconstruction = self.log_likelihood(reparameterise(mean, log_var), x)
        kl = kl_to_standard_normal(mean, log_var)
        return {"elbo": reconstruction - kl, "reconstruction": reconstruction, "kl": kl}

    def prior_sample(self, n: int) -> torch.Tensor:
        return torch.randn(n, self.latent_dim, device=self.device)

    @torch.no_grad()
    def latent_posterior(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and standard deviation of q(z | x), (B, Z) each."""
        mean, log_var = self.posterior(x)
        return mean, (0.5 * log_var).exp()

    @torch.no_grad()
    def decoder_probs(self, z: torch.Tensor) -> torch.Tensor:
        """(B, D, L): p(x_d = level | z) of each dimension."""
        return self.likelihood.level_probs(self.decoder(z))


class HierarchicalVAE(LatentVAE):
    """Two stochastic layers, z1 (``latent_dim``) next to the data and z2 (``top_latent_dim``) above:

        log w = log p(x|z1) + log p(z1|z2) + log p(z2) − log q(z1|x) − log q(z2|z1),

    z1 ~ q(z1|x), then z2 ~ q(z2|z1). Every term is a one-sample estimate, so ``elbo`` is exactly
    ``log w`` at K = 1 and its ``kl`` is the whole latent part, log q(z1, z2|x) − log p(z1, z2).
    """

    def __init__(self, shape: tuple[int, ...], likelihood: Likelihood, top_latent_dim: int = 8, lr: float = 1e-3,
                 **config: Any):
        super().__init__(shape, likelihood, **config)
        widths = [self.hidden] * LATENT_NET_DEPTH
        self.bottom_up = mlp([self.latent_dim, *widths, 2 * top_latent_dim])  # q(z2 | z1)
        self.top_down = mlp([top_latent_dim, *widths, 2 * self.latent_dim])  # p(z1 | z2)
        self.top_latent_dim = top_latent_dim
        self.opt = torch.optim.Adam(self.parameters(), lr=lr)

    def latents(self, x: torch.Tensor, k: int) -> Latents:
        mean1, log_var1 = (t.repeat_interleave(k, 0) for t in self.posterior(x))  # (B·k, Z1)
        z1 = reparameterise(mean1, log_var1)
        mean2, log_var2 = gaussian_stats(self.bottom_up(z1))  # (B·k, Z2)
        z2 = reparameterise(mean2, log_var2)
        prior_mean1, prior_log_var1 = gaussian_stats(self.top_down(z2))
        log_p = standard_normal_log_prob(z2) + gaussian_log_prob(z1, prior_mean1, prior_log_var1)
        log_q = gaussian_log_prob(z1, mean1, log_var1) + gaussian_log_prob(z2, mean2, log_var2)
        return z1, log_p, log_q

    def prior_sample(self, n: int) -> torch.Tensor:
        z2 = torch.randn(n, self.top_latent_dim, device=self.device)
        return reparameterise(*gaussian_stats(self.top_down(z2)))


def check_image(data: Dataset, variant: str, depth: int) -> None:
    """A convolutional net needs images (C, H, W) of at least 2^depth pixels a side."""
    where = f"model 'vae', variant {variant!r}, net 'conv', dataset {data.name!r}"
    if not data.is_image:
        raise CapabilityError(f"{where}: convolutions need images shaped (C, H, W), got examples shaped "
                              f"{data.shape}; use net = 'mlp'")
    if min(halved_sizes(data.shape[1:], depth)[-1]) < 1:
        raise CapabilityError(f"{where}: {depth} stride-2 stages need images of at least {2**depth} pixels a side, "
                              f"got {data.shape[1]}x{data.shape[2]}; lower depth")


def build(data: Dataset, variant: str = "vae", latent_layers: int = 1, top_latent_dim: int = 8, net: str = "mlp",
          depth: int = 2, **params: Any) -> LatentVAE:
    if net == "conv":
        check_image(data, variant, depth)
    likelihood, config = for_data(data.kind, data.levels), {"net": net, "depth": depth, **params}
    if latent_layers == 2:
        return HierarchicalVAE(data.shape, likelihood, top_latent_dim=top_latent_dim, **config)
    return VAE(data.shape, likelihood, **config)
