"""Shared torch helpers used by more than one plugin. Kept here once, never copied."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn


def mlp(sizes: Sequence[int], activation: type[nn.Module] = nn.SiLU) -> nn.Sequential:
    """Linear layers of the given widths with ``activation`` between them (none after the last)."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(activation())
    return nn.Sequential(*layers)


def dequantize(x: torch.Tensor, levels: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Uniform dequantisation of data stored as ``k / (L - 1)``: returns ``(k + u) / L`` with
    ``u ~ U[0, 1)``, a point of the cube [0, 1)^D whose density relates to P(k) by a factor L^D."""
    k = torch.round(x * (levels - 1))
    u = torch.rand(x.shape, generator=generator, device=x.device if generator is None else generator.device)
    return (k + u.to(x.device)) / levels


def to_levels(x: torch.Tensor, levels: int) -> torch.Tensor:
    """Integer level ``k`` of data stored as ``k / (L - 1)``."""
    return torch.round(x * (levels - 1)).long().clamp_(0, levels - 1)


def log_mean_exp(x: torch.Tensor, dim: int) -> torch.Tensor:
    """``log(mean(exp(x)))`` along ``dim``, stable: the importance-weighted bound's final step."""
    return torch.logsumexp(x, dim) - math.log(x.shape[dim])


def gaussian_log_prob(x: torch.Tensor, mean: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
    """Diagonal Gaussian log-density summed over all but the batch dimension, in nats."""
    per_dim = -0.5 * (math.log(2 * math.pi) + log_var + (x - mean) ** 2 / log_var.exp())
    return per_dim.flatten(1).sum(1)


def standard_normal_log_prob(z: torch.Tensor) -> torch.Tensor:
    """log N(z; 0, I) summed over all but the batch dimension, in nats."""
    return (-0.5 * (math.log(2 * math.pi) + z**2)).flatten(1).sum(1)
