"""p(x) = Π_d p(x_d): the independent-pixel baseline. Its exact log-likelihood is the floor any
model with dependencies between dimensions has to beat on held-out data, and on data with levels
its per-dimension categorical is the simplest model an entropy coder can code with
(``pixel_conditionals``: each conditional ignores the dimensions before it)."""

from __future__ import annotations

import math

import torch
from torch import nn

from benchbench import Dataset, Model
from benchbench.distributions import Likelihood, for_data
from benchbench.nn import gradient_step


class Independent(Model):
    capabilities = frozenset({"log_prob", "pixel_conditionals"})

    def __init__(self, shape: tuple[int, ...], likelihood: Likelihood, lr: float = 0.05):
        super().__init__()
        self.shape, self.likelihood, self.density = shape, likelihood, likelihood.density
        self.params = nn.Parameter(torch.zeros(math.prod(shape) * likelihood.params_per_dim))
        self.opt = torch.optim.Adam(self.parameters(), lr=lr)

    def _out(self, n: int) -> torch.Tensor:
        return self.params.expand(n, -1)

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        return self.likelihood.log_prob(self._out(len(x)), x.flatten(1))

    def pixel_order(self) -> list[int]:
        return list(range(math.prod(self.shape)))

    @torch.no_grad()
    def pixel_probs(self, x: torch.Tensor, d: int) -> torch.Tensor:
        """(B, L): dimension d's own categorical, whatever the other dimensions hold."""
        params = self.likelihood.params_per_dim
        return self.likelihood.level_probs(self.params[d * params:(d + 1) * params].expand(len(x), -1))[:, 0]

    def train_step(self, x: torch.Tensor, y: torch.Tensor | None = None) -> dict[str, float]:
        loss = -self.log_prob(x).mean()
        gradient_step(loss, self.opt)
        return {"nll": loss.item()}

    @torch.no_grad()
    def sample(self, n: int, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.likelihood.sample(self._out(n)).view(n, *self.shape)


def build(data: Dataset, variant: str = "default", **params: float) -> Independent:
    return Independent(data.shape, for_data(data.kind, data.levels), **params)
