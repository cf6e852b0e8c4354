"""The deterministic networks of a VAE: data → posterior statistics and latent → decoder output.

``net = "mlp"`` flattens the data and works for any shape. ``net = "conv"`` is for images
``(C, H, W)``: a stack of stride-2 convolutions down to ``(H / 2^depth, W / 2^depth)`` and its
transposed mirror back up (DCGAN-style, Radford et al. 2016). Both decoders end with
``params_per_dim`` raw outputs per data dimension, laid out ``(B, D, params_per_dim)`` and
flattened: the layout :mod:`benchbench.distributions` reads.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from benchbench.nn import conv_down, conv_up, halved_sizes, mlp


class MLPEncoder(nn.Module):
    def __init__(self, shape: tuple[int, ...], out: int, hidden: int, depth: int):
        super().__init__()
        self.net = mlp([math.prod(shape), *[hidden] * depth, out])

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, *shape) → (B, out)
        return self.net(x.flatten(1))


class MLPDecoder(nn.Module):
    def __init__(self, shape: tuple[int, ...], latent: int, params_per_dim: int, hidden: int, depth: int):
        super().__init__()
        self.net = mlp([latent, *[hidden] * depth, math.prod(shape) * params_per_dim])

    def forward(self, z: torch.Tensor) -> torch.Tensor:  # (B, Z) → (B, D * P)
        return self.net(z)


class ConvEncoder(nn.Module):
    """(B, C, H, W) → conv stack → (B, c·2^(depth-1), H', W') → MLP head → (B, out)."""

    def __init__(self, shape: tuple[int, int, int], out: int, hidden: int, depth: int, channels: int):
        super().__init__()
        c, h, w = shape
        widths = [c] + [channels * 2**i for i in range(depth)]
        fh, fw = halved_sizes((h, w), depth)[-1]
        self.features = conv_down(widths)
        self.head = mlp([widths[-1] * fh * fw, hidden, out])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).flatten(1))


class ConvDecoder(nn.Module):
    """(B, Z) → MLP stem → (B, c·2^(depth-1), H', W') → transposed convs → (B, c, H, W) → 3x3 conv to
    ``P`` parameters per channel and pixel → (B, C·H·W·P), each pixel's ``P`` values contiguous."""

    def __init__(self, shape: tuple[int, int, int], latent: int, params_per_dim: int, hidden: int, depth: int,
                 channels: int):
        super().__init__()
        c, h, w = shape
        widths = [channels * 2**i for i in reversed(range(depth))] + [channels]
        sizes = halved_sizes((h, w), depth)[::-1]
        self.stem_shape = (widths[0], *sizes[0])
        self.stem = nn.Sequential(mlp([latent, hidden, math.prod(self.stem_shape)]), nn.SiLU())
        self.body = conv_up(widths, sizes)
        self.out = nn.Conv2d(channels, c * params_per_dim, 3, padding=1)
        self.channels, self.params_per_dim = c, params_per_dim

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.body(self.stem(z).view(len(z), *self.stem_shape))  # (B, c, H, W)
        out = self.out(h)  # (B, C * P, H, W)
        out = out.view(len(z), self.channels, self.params_per_dim, *out.shape[2:])  # (B, C, P, H, W)
        return out.permute(0, 1, 3, 4, 2).flatten(1)  # (B, C * H * W * P)


def encoder(net: str, shape: tuple[int, ...], out: int, hidden: int, depth: int, channels: int) -> nn.Module:
    """Data ``(B, *shape)`` → ``(B, out)``; ``shape`` is an image ``(C, H, W)`` for ``net = "conv"``."""
    if net == "conv":
        return ConvEncoder(shape, out, hidden, depth, channels)  # type: ignore[arg-type]
    return MLPEncoder(shape, out, hidden, depth)


def decoder(net: str, shape: tuple[int, ...], latent: int, params_per_dim: int, hidden: int, depth: int,
            channels: int) -> nn.Module:
    """Latent ``(B, latent)`` → ``(B, D * params_per_dim)`` raw parameters of p(x | z)."""
    if net == "conv":
        return ConvDecoder(shape, latent, params_per_dim, hidden, depth, channels)  # type: ignore[arg-type]
    return MLPDecoder(shape, latent, params_per_dim, hidden, depth)
