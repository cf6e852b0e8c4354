"""A single Gaussian ``N(mu, L L^T)`` fitted by maximum likelihood with gradient steps.

Not a deep generative model, but it has everything a model plugin needs: it owns its optimiser,
knows one training step, samples, and exposes an exact ``log_prob``. The host's training loop
drives it like any other family (batches, budget, progress, divergence guard, checkpoints).

Variants: ``full`` learns a lower-triangular Cholesky factor ``L``; ``diagonal`` learns one
standard deviation per dimension. The diagonal of ``L`` is kept positive by storing its log.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.distributions import Distribution, Independent, MultivariateNormal, Normal

from benchbench import CapabilityError, Dataset, Model


class Gaussian(Model):
    """A Gaussian density on the flattened data space, shape ``(D,)``."""

    # Declared, not guessed: the likelihood metrics call log_prob because it is listed here.
    capabilities = frozenset({"log_prob"})
    # A density on the data space. On discrete data the host trains on, and the likelihood metrics
    # evaluate on, dequantised data; the model never converts units or adds noise itself.
    density = "continuous"

    def __init__(self, shape: tuple[int, ...], full: bool, lr: float, init_scale: float):
        super().__init__()
        self.shape = shape
        dim = math.prod(shape)
        self.mean = nn.Parameter(torch.zeros(dim))
        self.log_std = nn.Parameter(torch.full((dim,), math.log(init_scale)))
        # Strictly-lower part of L, (D, D); the diagonal variant has none and never builds a D x D matrix.
        self.register_parameter("off_diagonal", nn.Parameter(torch.zeros(dim, dim)) if full else None)
        # The model owns its optimiser; the host finds it among the attributes for checkpoints.
        self.optimizer = torch.optim.Adam(self.parameters(), lr=lr)

    def distribution(self) -> Distribution:
        std = self.log_std.exp()
        if self.off_diagonal is None:
            return Independent(Normal(self.mean, std), 1)
        return MultivariateNormal(self.mean, scale_tril=torch.tril(self.off_diagonal, diagonal=-1) + torch.diag(std))

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """Exact log-density of ``x`` (B, *shape) in nats, shape ``(B,)``."""
        return self.distribution().log_prob(x.flatten(1))

    def train_step(self, x: torch.Tensor, y: torch.Tensor | None = None) -> dict[str, float]:
        loss = -self.log_prob(x).mean()
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return {"nll": loss.item()}

    @torch.no_grad()
    def sample(self, n: int, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.distribution().sample((n,)).reshape(n, *self.shape)


def build_gaussian(dataset: Dataset, variant: str = "full", lr: float = 0.05, init_scale: float = 1.0) -> Gaussian:
    """The factory named in the spec: ``factory(dataset, variant=..., **params)``."""
    if variant == "full" and dataset.dim > 4096:
        # Raised before any training (the runner builds every model once as a preflight check).
        raise CapabilityError(f"a full covariance over {dataset.dim} dimensions is too large; use variant 'diagonal'")
    return Gaussian(dataset.shape, full=variant == "full", lr=lr, init_scale=init_scale)
