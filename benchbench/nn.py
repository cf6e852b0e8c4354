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


def quantize(y: torch.Tensor, levels: int) -> torch.Tensor:
    """The inverse of :func:`dequantize`: a point ``y`` of the cube back to the stored ``k / (L - 1)``
    of the cell ``k = floor(y L)`` it lies in. A density's samples so mapped are samples of the mass
    ``P(k)`` that the likelihood metrics score it by."""
    k = torch.floor(y * levels).clamp_(0, levels - 1)
    return k / (levels - 1)


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


def gradient_step(loss: torch.Tensor, optimizer: torch.optim.Optimizer, clip: float | None = None) -> None:
    """One optimiser step on ``loss``: gradients reset to None (freed, not zero-filled), back-propagated,
    their global norm clipped to ``clip`` when given, then applied. Every built-in model trains through it."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if clip is not None:
        torch.nn.utils.clip_grad_norm_([p for group in optimizer.param_groups for p in group["params"]], clip)
    optimizer.step()


class MaskedLinear(nn.Linear):
    """A linear layer whose weight is multiplied by a fixed 0/1 mask ``(out, in)``: the building
    block of MADE (Germain et al. 2015) and of the MAF / IAF flows built on it."""

    def __init__(self, in_features: int, out_features: int, mask: torch.Tensor):
        super().__init__(in_features, out_features)
        self.register_buffer("mask", mask.to(self.weight.dtype))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.linear(x, self.weight * self.mask, self.bias)


def made_masks(order: torch.Tensor, hidden: Sequence[int], generator: torch.Generator | None = None) -> list[torch.Tensor]:
    """MADE masks for inputs taken in ``order`` (a permutation of 0..D-1: ``order[i]`` is the
    position of input ``i`` in the autoregressive ordering).

    Hidden unit degrees are drawn in [min, D-1); a hidden unit of degree m sees inputs of degree
    <= m, and output d sees hidden units of degree < degree(d), so output d depends only on inputs
    earlier in the ordering. Returns one ``(out, in)`` mask per layer, the last one for the outputs.
    """
    dim = len(order)
    degrees = [order + 1]  # input degrees 1..D
    for width in hidden:
        low = int(min(degrees[-1].min().item(), dim - 1))
        degrees.append(torch.randint(low, dim, (width,), generator=generator))
    masks = [(later[:, None] >= earlier[None, :]).float() for earlier, later in zip(degrees[:-1], degrees[1:])]
    masks.append((degrees[0][:, None] > degrees[-1][None, :]).float())
    return masks


def halved_sizes(size: tuple[int, int], stages: int) -> list[tuple[int, int]]:
    """Spatial sizes ``(H, W)`` through ``stages`` stages of :func:`conv_down`, the input's first."""
    sizes = [tuple(size)]
    for _ in range(stages):
        sizes.append((sizes[-1][0] // 2, sizes[-1][1] // 2))
    return sizes  # type: ignore[return-value]


def conv_down(channels: Sequence[int], activation: type[nn.Module] = nn.SiLU) -> nn.Sequential:
    """4x4 stride-2 convolutions (DCGAN, Radford et al. 2016), ``activation`` after each; each
    stage halves height and width, rounding down: (B, channels[0], H, W) → (B, channels[-1], H', W')
    with ``(H', W') = halved_sizes((H, W), len(channels) - 1)[-1]``."""
    layers: list[nn.Module] = []
    for a, b in zip(channels[:-1], channels[1:]):
        layers += [nn.Conv2d(a, b, 4, stride=2, padding=1), activation()]
    return nn.Sequential(*layers)


def conv_up(channels: Sequence[int], sizes: Sequence[tuple[int, int]], activation: type[nn.Module] = nn.SiLU
            ) -> nn.Sequential:
    """The mirror of :func:`conv_down`: 4x4 stride-2 transposed convolutions, ``activation`` after each,
    stage ``i`` taking ``sizes[i]`` to exactly ``sizes[i + 1]`` (an output padding of 1 restores the
    row or column that a halving rounded away). Pass ``halved_sizes(...)`` reversed."""
    layers: list[nn.Module] = []
    for a, b, (h, w), (h2, w2) in zip(channels[:-1], channels[1:], sizes[:-1], sizes[1:]):
        padding = (h2 - 2 * h, w2 - 2 * w)  # 0 or 1: ConvTranspose2d gives 2 * size + output_padding
        layers += [nn.ConvTranspose2d(a, b, 4, stride=2, padding=1, output_padding=padding), activation()]
    return nn.Sequential(*layers)
