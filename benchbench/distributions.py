"""Output distributions over data shared by model families: one per data kind.

Each maps a network's raw output to a log-likelihood of data stored as the host stores it
(binary 0/1, discrete ``k / (L - 1)``, continuous floats) and to samples in the same space.
Families pick one with :func:`for_data` instead of writing their own.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .nn import gaussian_log_prob, to_levels


class Likelihood:
    """``params_per_dim`` raw outputs per data dimension parameterise p(x | ·)."""

    params_per_dim: int = 1
    density: str = "discrete"

    def log_prob(self, out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """``out`` (B, D * params_per_dim), ``x`` (B, D) → (B,) log-likelihood in nats."""
        raise NotImplementedError

    def sample(self, out: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


class Bernoulli(Likelihood):
    """Binary data; ``out`` are logits."""

    def log_prob(self, out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return -F.binary_cross_entropy_with_logits(out, x, reduction="none").sum(1)

    def sample(self, out: torch.Tensor) -> torch.Tensor:
        return torch.bernoulli(torch.sigmoid(out))


class Categorical(Likelihood):
    """Discrete data with L levels; ``out`` holds L logits per dimension, laid out (B, D, L)."""

    def __init__(self, levels: int):
        self.levels = self.params_per_dim = levels

    def log_prob(self, out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        logits = out.view(len(x), -1, self.levels)
        return -F.cross_entropy(logits.transpose(1, 2), to_levels(x, self.levels), reduction="none").sum(1)

    def sample(self, out: torch.Tensor) -> torch.Tensor:
        logits = out.view(len(out), -1, self.levels)
        k = torch.distributions.Categorical(logits=logits).sample()
        return k.float() / (self.levels - 1)


class Gaussian(Likelihood):
    """Continuous data; ``out`` holds a mean and a log-variance per dimension."""

    params_per_dim = 2
    density = "continuous"

    def log_prob(self, out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        mean, log_var = out.view(len(x), -1, 2).unbind(-1)
        return gaussian_log_prob(x, mean, log_var.clamp(-12, 8))

    def sample(self, out: torch.Tensor) -> torch.Tensor:
        mean, log_var = out.view(len(out), -1, 2).unbind(-1)
        return mean + torch.randn_like(mean) * (0.5 * log_var.clamp(-12, 8)).exp()


def for_data(kind: str, levels: int | None) -> Likelihood:
    """The natural output distribution for data of ``kind``: Bernoulli, categorical or Gaussian."""
    if kind == "binary":
        return Bernoulli()
    if kind == "discrete":
        return Categorical(int(levels or 0))
    return Gaussian()
