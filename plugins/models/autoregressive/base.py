"""The chain rule as a model: what every autoregressive variant shares.

For an ordering σ of the D data dimensions,

    log p(x) = Σ_t log p(x_σ(t) | x_σ(1), ..., x_σ(t-1))

is exact whatever the conditionals are, as long as the one for dimension σ(t) sees only the
dimensions before it. A variant computes the parameters of all D conditionals in one pass over the
data ("teacher forcing"), so the log-likelihood costs one pass; masks (FVSBN, MADE, PixelCNN), a
running sum (NADE) or a recurrent state (RNN) keep each conditional blind to its own and later
dimensions. Sampling cannot be parallel: dimension σ(t) is drawn after the ones it conditions on,
D passes in all. The conditionals' family comes from :mod:`benchbench.distributions`.

The same chain of conditionals codes data losslessly (``pixel_conditionals``): an arithmetic or
range coder spends -log2 p(x_σ(t) | x_σ(<t)) bits on each dimension in the order σ, and the decoder,
having decoded the dimensions before σ(t), asks for the same conditional (Rissanen & Langdon 1979;
MacKay 2003, ch. 6). The conditionals must be probabilities over the data's levels: Bernoulli,
categorical or the discretised logistic mixture, not a density.
"""

from __future__ import annotations

import math

import torch

from benchbench import Model
from benchbench.distributions import Likelihood
from benchbench.nn import gradient_step

SAMPLE_CHUNK = 1024  # examples sampled at once, bounding memory on large images


class Autoregressive(Model):
    """Base of the variants: a subclass implements :meth:`conditionals` and creates ``self.opt``."""

    capabilities = frozenset({"log_prob", "pixel_conditionals"})

    def __init__(self, shape: tuple[int, ...], likelihood: Likelihood):
        super().__init__()
        self.shape, self.likelihood, self.density = shape, likelihood, likelihood.density
        self.dim = math.prod(shape)
        self.register_buffer("order", torch.arange(self.dim))  # σ: the dimensions in sampling order

    def conditionals(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` (B, *shape) → (B, D, P): row d parameterises p(x_d | dimensions before d in σ),
        laid out as the likelihood reads ``x.flatten(1)``."""
        raise NotImplementedError

    def conditional(self, x: torch.Tensor, d: int) -> torch.Tensor:
        """(B, P): the parameters of dimension d's conditional alone, for sampling; variants that
        can compute it for less than all D override this."""
        return self.conditionals(x)[:, d]

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        return self.likelihood.log_prob(self.conditionals(x).flatten(1), x.flatten(1))

    def pixel_order(self) -> list[int]:
        """σ as flat dimensions: the order in which a coder asks :meth:`pixel_probs`."""
        return self.order.tolist()

    @torch.no_grad()
    def pixel_probs(self, x: torch.Tensor, d: int) -> torch.Tensor:
        """(B, L): P(x_d = level | the dimensions before d in σ), one :meth:`conditional` pass."""
        return self.likelihood.level_probs(self.conditional(x, d))[:, 0]

    def loss(self, x: torch.Tensor) -> torch.Tensor:
        """Negative log-likelihood in nats per example: maximum likelihood."""
        return -self.log_prob(x).mean()

    def train_step(self, x: torch.Tensor, y: torch.Tensor | None = None) -> dict[str, float]:
        loss = self.loss(x)
        gradient_step(loss, self.opt)
        return {"nll": loss.item()}

    @torch.no_grad()
    def sample(self, n: int, labels: torch.Tensor | None = None) -> torch.Tensor:
        chunks = [self.sample_flat(len(c)) for c in torch.arange(n).split(SAMPLE_CHUNK)]
        return torch.cat(chunks).view(n, *self.shape)

    def sample_flat(self, n: int) -> torch.Tensor:
        """(n, D) samples; subclasses with cheaper sequential passes (a recurrent state) override it."""
        return self.sample_in_order(n, self.order)

    def sample_in_order(self, n: int, order: torch.Tensor) -> torch.Tensor:
        """Ancestral sampling: one full pass per dimension, filling dimension ``order[t]`` at step t."""
        x = torch.zeros(n, self.dim, device=self.device)
        for d in order.tolist():
            params = self.conditional(x.view(n, *self.shape), d)  # (n, P)
            x[:, d] = self.likelihood.sample(params)[:, 0]
        return x
