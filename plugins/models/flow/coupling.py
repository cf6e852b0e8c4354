"""RealNVP: affine coupling layers with alternating masks (Dinh, Sohl-Dickstein & Bengio 2017,
"Density estimation using Real NVP"), each step led by an ActNorm (Kingma & Dhariwal 2018).

A coupling layer leaves the masked part ``m ⊙ x`` alone and rescales and shifts the rest by
functions of it, so its Jacobian is triangular with diagonal ``exp(s)`` on the changed part:
both directions cost one network pass. Vectors alternate halves; images alternate checkerboards at
full resolution, then squeeze and alternate channel halves (§3.4-3.6).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from benchbench.nn import mlp

from .bijections import ActNorm, Bijection, Chain, Squeeze, soft_clamp, sum_per_example

LOG_SCALE_BOUND = 3.0  # per layer; the layers compose to any scale the data needs


class AffineCoupling(Bijection):
    """``z = m ⊙ x + (1 - m) ⊙ (x ⊙ exp(s(m ⊙ x)) + t(m ⊙ x))``  (Dinh et al. 2017, eq. 9),
    log|det ∂z/∂x| = Σ (1 - m) ⊙ s.  ``net`` maps ``(B, *shape)`` to ``(B, 2·C, ...)``: s and t.
    Its last layer starts at zero, so every coupling starts as the identity."""

    def __init__(self, mask: torch.Tensor, net: nn.Module):
        super().__init__()
        self.register_buffer("mask", mask)  # (*shape), 1 = passed through unchanged
        self.net = net

    def _scale_shift(self, kept: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        s, t = self.net(kept).chunk(2, dim=1)  # (B, *shape) each
        free = 1 - self.mask
        return soft_clamp(s, LOG_SCALE_BOUND) * free, t * free

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        s, t = self._scale_shift(x * self.mask)
        return x * s.exp() + t, sum_per_example(s)

    def inverse(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        s, t = self._scale_shift(z * self.mask)  # the kept part is the same on both sides
        return (z - t) * (-s).exp(), -sum_per_example(s)


def zero_last(net: nn.Module) -> nn.Module:
    """Zero the last layer's weights and bias: the layer it drives starts as the identity."""
    last = [m for m in net.modules() if isinstance(m, (nn.Linear, nn.Conv2d))][-1]
    nn.init.zeros_(last.weight)
    nn.init.zeros_(last.bias)
    return net


def dense_net(shape: tuple[int, ...], hidden: int, depth: int) -> nn.Module:
    """An MLP on the flattened example, ``(B, *shape) -> (B, 2 * shape[0], *shape[1:])``: the
    coupling net of NICE (Dinh et al. 2015) on vectors and small images."""
    dim = math.prod(shape)
    body = mlp([dim, *[hidden] * depth, 2 * dim], nn.ReLU)
    return zero_last(nn.Sequential(nn.Flatten(), body, nn.Unflatten(1, (2 * shape[0], *shape[1:]))))


def conv_net(shape: tuple[int, ...], hidden: int, depth: int) -> nn.Module:
    """3x3 convolutions ``(B, C, H, W) -> (B, 2C, H, W)`` with ``depth`` hidden layers of
    ``hidden`` channels: RealNVP's choice for large images (§4.1, without the residual blocks)."""
    widths = [shape[0], *[hidden] * depth]
    layers: list[nn.Module] = []
    for a, b in zip(widths[:-1], widths[1:]):
        layers += [nn.Conv2d(a, b, 3, padding=1), nn.ReLU()]
    return zero_last(nn.Sequential(*layers, nn.Conv2d(widths[-1], 2 * shape[0], 3, padding=1)))


NETS = {"dense": dense_net, "conv": conv_net}


def halves_mask(dim: int, flip: bool) -> torch.Tensor:
    """``(D,)``: the first half kept (``flip``: the second half)."""
    first = torch.arange(dim) < dim // 2
    return (first ^ flip).float()


def checkerboard_mask(shape: tuple[int, int, int], flip: bool) -> torch.Tensor:
    """``(C, H, W)``: pixels with even ``i + j`` kept (``flip``: odd), in every channel."""
    c, h, w = shape
    parity = (torch.arange(h)[:, None] + torch.arange(w)[None]) % 2 == 0
    return (parity ^ flip).float().expand(c, h, w).contiguous()


def channel_mask(shape: tuple[int, int, int], flip: bool) -> torch.Tensor:
    """``(C, H, W)``: the first half of the channels kept (``flip``: the second half)."""
    c, h, w = shape
    return halves_mask(c, flip)[:, None, None].expand(c, h, w).contiguous()


def realnvp(shape: tuple[int, ...], layers: int, hidden: int, depth: int, net: str = "dense") -> tuple[Chain, tuple[int, ...]]:
    """``layers`` steps of [ActNorm, coupling], alternating which part is kept; returns the chain
    and the shape of its output. Vectors ``(D,)`` alternate halves. Images ``(C, H, W)`` alternate
    checkerboards for the first half of the steps, then squeeze to ``(4C, H/2, W/2)`` and alternate
    channel halves (one scale of RealNVP, §3.6; no dimensions factored out)."""
    steps: list[Bijection] = []
    for i in range(layers):
        flip = i % 2 == 1
        if len(shape) == 1:
            mask = halves_mask(shape[0], flip)
        elif i < math.ceil(layers / 2):
            mask = checkerboard_mask(shape, flip)
        else:
            if i == math.ceil(layers / 2):
                steps.append(Squeeze())
                shape = (4 * shape[0], shape[1] // 2, shape[2] // 2)
            mask = channel_mask(shape, flip)
        steps += [ActNorm(shape[0]), AffineCoupling(mask, NETS[net](shape, hidden, depth))]
    return Chain(steps), shape
