"""Bijections with tractable log-Jacobians: the pieces every flow here is built from.

A flow writes data ``x`` as an invertible function of noise, ``x = f^{-1}(z)``, ``z ~ N(0, I)``, and
scores it by the change of variables (Dinh et al. 2017, eq. 3):

    log p(x) = log N(f(x); 0, I) + log |det ∂f(x)/∂x|.

Every piece is triangular or diagonal, so its log-determinant is a sum of log-scales and no general
determinant is ever computed. This module holds the structure-free pieces (composition, inversion,
ActNorm, the logit pre-processing, squeezing); the coupling and autoregressive layers have modules
of their own.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch import nn


def soft_clamp(x: torch.Tensor, bound: float) -> torch.Tensor:
    """``bound * tanh(x / bound)``: a log-scale kept in (-bound, bound), smooth and near identity at
    zero, so no single layer can blow a density up early in training (RealNVP's tanh scale)."""
    return bound * torch.tanh(x / bound)


def sum_per_example(t: torch.Tensor) -> torch.Tensor:
    """``(B, ...) -> (B,)``: a per-dimension log-scale summed into a per-example log-determinant."""
    return t.flatten(1).sum(1)


class Bijection(nn.Module):
    """An invertible map ``f`` from the data side to the noise side.

    ``forward(x) -> (f(x), log|det ∂f/∂x|)`` and ``inverse(z) -> (f^{-1}(z), log|det ∂f^{-1}/∂z|)``,
    log-determinants shaped ``(B,)``. Since ∂f^{-1}/∂z = (∂f/∂x)^{-1}, the inverse's log-determinant at
    ``z = f(x)`` is minus the forward's at ``x``. Which direction is cheap is the layer's business:
    a MAF layer is parallel forward and sequential inverse, an IAF layer the other way round.
    """

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def inverse(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError


class Chain(Bijection):
    """``f = f_K ∘ ... ∘ f_1``: log-determinants add (the chain rule, determinants multiply)."""

    def __init__(self, layers: Iterable[Bijection]):
        super().__init__()
        self.layers = nn.ModuleList(layers)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        log_det = x.new_zeros(len(x))
        for layer in self.layers:
            x, ld = layer(x)
            log_det = log_det + ld
        return x, log_det

    def inverse(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        log_det = z.new_zeros(len(z))
        for layer in reversed(self.layers):
            z, ld = layer.inverse(z)
            log_det = log_det + ld
        return z, log_det


class Inverse(Bijection):
    """``f^{-1}`` as a layer: swaps which direction is cheap (a MAF layer inverted is an IAF layer)."""

    def __init__(self, bijection: Bijection):
        super().__init__()
        self.bijection = bijection

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.bijection.inverse(x)

    def inverse(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.bijection(z)


class ActNorm(Bijection):
    """``z = (x + b) * exp(s)`` per channel (dim 1), with data-dependent initialisation: the first
    training batch sets ``b, s`` so that the output has zero mean and unit variance per channel
    (Kingma & Dhariwal 2018, Glow §3.1), a batch norm whose statistics are then free parameters.
    With ``learnable=False`` they stay as initialised: a standardisation of the data fitted once
    (as MAF's pre-processing, Papamakarios et al. 2017, §4). log|det| = (positions per channel) · Σ_c s_c."""

    def __init__(self, channels: int, learnable: bool = True):
        super().__init__()
        for name in ("bias", "log_scale"):
            zeros = torch.zeros(channels)
            if learnable:
                self.register_parameter(name, nn.Parameter(zeros))
            else:
                self.register_buffer(name, zeros)
        self.register_buffer("initialized", torch.tensor(False))  # in state_dict: a resumed fit keeps it

    def _view(self, p: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return p.view(1, -1, *[1] * (x.dim() - 2))  # broadcast over (B, C, ...)

    @torch.no_grad()
    def _initialize(self, x: torch.Tensor) -> None:
        per_channel = x.transpose(0, 1).flatten(1)  # (C, B * positions)
        self.bias.copy_(-per_channel.mean(1))
        self.log_scale.copy_(-per_channel.std(1).clamp_min(1e-6).log())
        self.initialized.fill_(True)

    def _log_det(self, x: torch.Tensor) -> torch.Tensor:
        positions = math.prod(x.shape[2:])
        return (self.log_scale.sum() * positions).expand(len(x))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.training and not self.initialized and len(x) > 1:
            self._initialize(x)
        z = (x + self._view(self.bias, x)) * self._view(self.log_scale, x).exp()
        return z, self._log_det(x)

    def inverse(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = z * self._view(-self.log_scale, z).exp() - self._view(self.bias, z)
        return x, -self._log_det(z)


class Logit(Bijection):
    """Data in [0, 1] to the real line: ``u = logit(α + (1 - 2α) x)`` (Dinh et al. 2017, §4.1),
    so the flow never has to model the hard edges of the cube. α keeps 0 and 1 finite.
    log|det| = Σ_d [log(1 - 2α) - log s_d - log(1 - s_d)],  s = α + (1 - 2α) x."""

    def __init__(self, alpha: float = 0.05):
        super().__init__()
        if not 0 < alpha < 0.5:
            raise ValueError(f"alpha must be in (0, 0.5), got {alpha}")
        self.alpha = alpha

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        s = self.alpha + (1 - 2 * self.alpha) * x
        log_det = math.log(1 - 2 * self.alpha) - s.log() - torch.log1p(-s)
        return s.log() - torch.log1p(-s), sum_per_example(log_det)

    def inverse(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        s = torch.sigmoid(z)
        log_det = nn.functional.logsigmoid(z) + nn.functional.logsigmoid(-z) - math.log(1 - 2 * self.alpha)
        return (s - self.alpha) / (1 - 2 * self.alpha), sum_per_example(log_det)


class Flatten(Bijection):
    """``(B, *shape) -> (B, D)``: a reshape, log|det| = 0; lets vector flows run on images."""

    def __init__(self, shape: tuple[int, ...]):
        super().__init__()
        self.shape = tuple(shape)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return x.flatten(1), x.new_zeros(len(x))

    def inverse(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return z.view(len(z), *self.shape), z.new_zeros(len(z))


class Squeeze(Bijection):
    """``(B, C, H, W) -> (B, 4C, H/2, W/2)``, each 2x2 block into channels (Dinh et al. 2017, §3.6):
    a permutation, log|det| = 0; after it a channel mask couples neighbouring pixels."""

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return nn.functional.pixel_unshuffle(x, 2), x.new_zeros(len(x))

    def inverse(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return nn.functional.pixel_shuffle(z, 2), z.new_zeros(len(z))
