"""VAE: q(z|x) = N(mu(x), diag sigma²(x)), p(z) = N(0, I), p(x|z) by data kind.

ELBO(x) = E_q[log p(x|z)] − KL(q(z|x) || p(z))                      (Kingma & Welling 2014)
IWAE_K(x) = E[log (1/K) Σ_k p(x, z_k) / q(z_k|x)],  z_k ~ q(z|x)       (Burda et al. 2016)
IWAE_1 = ELBO ≤ IWAE_K ≤ IWAE_{K+1} ≤ log p(x).
"""

from __future__ import annotations

import math

import torch

from benchbench import Dataset, Model
from benchbench.distributions import Likelihood, for_data
from benchbench.nn import gaussian_log_prob, log_mean_exp, mlp, standard_normal_log_prob

CHUNK = 64  # importance samples evaluated at once, bounding memory for large K


class VAE(Model):
    capabilities = frozenset({"elbo", "log_prob_bound", "encode"})

    def __init__(self, shape: tuple[int, ...], likelihood: Likelihood, latent_dim: int = 16, hidden: int = 256,
                 depth: int = 2, beta: float = 1.0, k_train: int = 1, lr: float = 1e-3):
        super().__init__()
        self.shape, self.likelihood, self.beta, self.k_train = shape, likelihood, beta, k_train
        self.density = likelihood.density
        dim = math.prod(shape)
        self.encoder = mlp([dim, *[hidden] * depth, 2 * latent_dim])
        self.decoder = mlp([latent_dim, *[hidden] * depth, dim * likelihood.params_per_dim])
        self.latent_dim = latent_dim
        self.opt = torch.optim.Adam(self.parameters(), lr=lr)

    def posterior(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean, log_var = self.encoder(x.flatten(1)).chunk(2, dim=1)  # (B, Z) each
        return mean, log_var.clamp(-12, 8)

    def elbo(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        mean, log_var = self.posterior(x)
        z = mean + torch.randn_like(mean) * (0.5 * log_var).exp()  # reparameterisation trick
        reconstruction = self.likelihood.log_prob(self.decoder(z), x.flatten(1))
        kl = 0.5 * (mean**2 + log_var.exp() - 1 - log_var).sum(1)  # closed-form KL to N(0, I)
        return {"elbo": reconstruction - kl, "reconstruction": reconstruction, "kl": kl}

    def log_weights(self, x: torch.Tensor, k: int) -> torch.Tensor:
        """log p(x, z_k) − log q(z_k | x) for k posterior samples: (B, k)."""
        mean, log_var = self.posterior(x)
        z = mean[:, None] + torch.randn(len(x), k, self.latent_dim, device=x.device) * (0.5 * log_var[:, None]).exp()
        z = z.flatten(0, 1)  # (B*k, Z)
        repeat = lambda t: t.repeat_interleave(k, 0)  # noqa: E731
        log_px_z = self.likelihood.log_prob(self.decoder(z), repeat(x.flatten(1)))
        log_q = gaussian_log_prob(z, repeat(mean), repeat(log_var))
        return (log_px_z + standard_normal_log_prob(z) - log_q).view(len(x), k)

    @torch.no_grad()
    def log_prob_bound(self, x: torch.Tensor, k: int) -> torch.Tensor:
        chunks = [self.log_weights(x, min(CHUNK, k - i)) for i in range(0, k, CHUNK)]
        return log_mean_exp(torch.cat(chunks, 1), 1)

    @torch.no_grad()
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.posterior(x)[0]

    def train_step(self, x: torch.Tensor, y: torch.Tensor | None = None) -> dict[str, float]:
        if self.k_train > 1:
            loss = -log_mean_exp(self.log_weights(x, self.k_train), 1).mean()
        else:
            terms = self.elbo(x)
            loss = -(terms["reconstruction"] - self.beta * terms["kl"]).mean()
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        return {"loss": loss.item()}

    @torch.no_grad()
    def sample(self, n: int, labels: torch.Tensor | None = None) -> torch.Tensor:
        z = torch.randn(n, self.latent_dim, device=self.device)
        return self.likelihood.sample(self.decoder(z)).view(n, *self.shape)


def build(data: Dataset, variant: str = "vae", **params: float) -> VAE:
    return VAE(data.shape, for_data(data.kind, data.levels), **params)
