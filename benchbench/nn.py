"""Shared torch helpers used by more than one plugin. Kept here once, never copied."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from functools import partial

import torch
from torch import nn

Activation = Callable[[], nn.Module]
"""A module factory called once per layer: ``nn.SiLU`` or ``partial(nn.LeakyReLU, 0.2)``."""

leaky_relu = partial(nn.LeakyReLU, 0.2)
"""DCGAN's discriminator activation (Radford et al. 2016, §3), slope 0.2."""


def mlp(sizes: Sequence[int], activation: Activation = nn.SiLU) -> nn.Sequential:
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


def set_halving_lr(optimizer: torch.optim.Optimizer, step: int, half_life: int) -> None:
    """Set each parameter group's learning rate to its initial one times ``0.5 ** (step / half_life)``
    (``half_life`` 0: constant). The initial rate is kept in the group as ``base_lr``, so it is in
    the optimiser's state_dict and a resumed fit continues the schedule."""
    for group in optimizer.param_groups:
        base = group.setdefault("base_lr", group["lr"])
        group["lr"] = base * 0.5 ** (step / half_life) if half_life else base


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


def conv_down(channels: Sequence[int], activation: Activation = nn.SiLU) -> nn.Sequential:
    """4x4 stride-2 convolutions (DCGAN, Radford et al. 2016), ``activation`` after each; each
    stage halves height and width, rounding down: (B, channels[0], H, W) → (B, channels[-1], H', W')
    with ``(H', W') = halved_sizes((H, W), len(channels) - 1)[-1]``."""
    layers: list[nn.Module] = []
    for a, b in zip(channels[:-1], channels[1:]):
        layers += [nn.Conv2d(a, b, 4, stride=2, padding=1), activation()]
    return nn.Sequential(*layers)


def conv_up(channels: Sequence[int], sizes: Sequence[tuple[int, int]], activation: Activation = nn.SiLU,
            norm: Callable[[int], nn.Module] | None = None) -> nn.Sequential:
    """The mirror of :func:`conv_down`: 4x4 stride-2 transposed convolutions, ``norm(channels)`` (when
    given) and ``activation`` after each, stage ``i`` taking ``sizes[i]`` to exactly ``sizes[i + 1]``
    (an output padding of 1 restores the row or column that a halving rounded away). Pass
    ``halved_sizes(...)`` reversed."""
    layers: list[nn.Module] = []
    for a, b, (h, w), (h2, w2) in zip(channels[:-1], channels[1:], sizes[:-1], sizes[1:]):
        padding = (h2 - 2 * h, w2 - 2 * w)  # 0 or 1: ConvTranspose2d gives 2 * size + output_padding
        layers.append(nn.ConvTranspose2d(a, b, 4, stride=2, padding=1, output_padding=padding))
        layers += [norm(b), activation()] if norm is not None else [activation()]
    return nn.Sequential(*layers)


# ---- networks of the sampling families: a scalar of the data, and data from a latent ----------------


def image_stages(size: tuple[int, int]) -> int:
    """Stride-2 stages that bring an image to about 4 pixels a side, at least one: 8x8 → 4x4 (1),
    28x28 → 7x7 (2), 32x32 → 4x4 (3), the sizes DCGAN-style nets use for digits, MNIST, CIFAR-10."""
    stages = 1
    while min(size) // 2 ** (stages + 1) >= 4:
        stages += 1
    return stages


def spectrally_normalised(module: nn.Module) -> nn.Module:
    """Every linear and convolutional layer of ``module`` divided by its largest singular value,
    estimated by one power iteration per forward pass (Miyato et al. 2018), in place."""
    for name, child in module.named_children():
        if isinstance(child, (nn.Linear, nn.Conv2d)):
            setattr(module, name, nn.utils.parametrizations.spectral_norm(child))
        else:
            spectrally_normalised(child)
    return module


class Critic(nn.Module):
    """``x (B, *shape)`` → penultimate features ``(B, hidden)`` → one number per example ``(B,)``: a
    GAN's discriminator or critic, an energy-based model's energy.

    Vectors go through an MLP of ``depth`` hidden layers. Images go through DCGAN's discriminator
    (Radford et al. 2016): 4x4 stride-2 convolutions from ``channels`` channels, doubling per stage,
    down to about 4x4 (:func:`image_stages`), then a linear layer to the features. Never batch
    norm: a WGAN-GP critic's penalty is per example (Gulrajani et al. 2017, §4) and an energy must
    not depend on the rest of the batch. ``extra`` inputs (BiGAN's latent code) join the features
    before the head, then one more hidden layer mixes them. ``activation`` must be smooth (SiLU)
    wherever second derivatives are taken, as in score matching: a ReLU's Hessian is zero.
    """

    def __init__(self, shape: tuple[int, ...], hidden: int = 128, depth: int = 2, channels: int = 32,
                 activation: Activation = leaky_relu, spectral_norm: bool = False, extra: int = 0):
        super().__init__()
        if len(shape) == 3:
            stages = image_stages(shape[1:])
            widths = [shape[0]] + [channels * 2**i for i in range(stages)]
            h, w = halved_sizes(shape[1:], stages)[-1]  # type: ignore[arg-type]
            convs = conv_down(widths, activation)
            self.body = nn.Sequential(convs, nn.Flatten(), nn.Linear(widths[-1] * h * w, hidden), activation())
        else:
            self.body = nn.Sequential(nn.Flatten(), mlp([math.prod(shape), *[hidden] * depth], activation), activation())
        self.head = mlp([hidden + extra, hidden, 1] if extra else [hidden, 1], activation)
        self.extra = extra
        if spectral_norm:
            spectrally_normalised(self)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The penultimate features ``(B, hidden)``: what the critic learned to tell data apart by."""
        return self.body(x)

    def forward(self, x: torch.Tensor, extra: torch.Tensor | None = None) -> torch.Tensor:
        h = self.features(x)
        if self.extra:
            h = torch.cat([h, extra.flatten(1)], 1)  # type: ignore[union-attr]
        return self.head(h).squeeze(1)


class Generator(nn.Module):
    """``z (B, latent)`` → ``x (B, *shape)``, then ``out`` (e.g. a sigmoid onto [0, 1]).

    Vectors: an MLP of ``depth`` hidden layers. Images: DCGAN's generator (Radford et al. 2016): a
    linear layer to ``(channels · 2^(s-1), H / 2^s, W / 2^s)``, then ``s`` transposed 4x4 stride-2
    convolutions halving the channels, each followed by batch norm and ReLU, as in the paper. One
    deviation: the last stage keeps ``channels`` channels and a 3x3 convolution maps them to the
    image's, as our VAE decoder does, instead of a transposed convolution straight to the image (it
    lets 28x28, whose halvings round, use the same stages).
    """

    def __init__(self, latent: int, shape: tuple[int, ...], hidden: int = 128, depth: int = 2, channels: int = 32,
                 out: Activation = nn.Identity):
        super().__init__()
        self.shape = shape
        if len(shape) == 3:
            stages = image_stages(shape[1:])
            widths = [channels * 2**i for i in reversed(range(stages))] + [channels]
            sizes = halved_sizes(shape[1:], stages)[::-1]  # type: ignore[arg-type]
            stem = (widths[0], *sizes[0])
            self.net = nn.Sequential(
                nn.Linear(latent, math.prod(stem)), nn.Unflatten(1, stem), nn.BatchNorm2d(widths[0]), nn.ReLU(),
                conv_up(widths, sizes, nn.ReLU, nn.BatchNorm2d), nn.Conv2d(channels, shape[0], 3, padding=1), out())
        else:
            self.net = nn.Sequential(mlp([latent, *[hidden] * depth, math.prod(shape)], nn.ReLU), nn.Unflatten(1, shape), out())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class EMA(nn.Module):
    """An exponential moving average of a network's weights, sampled and scored instead of the raw
    weights (Polyak & Juditsky 1992): Ho et al. 2020 use decay 0.9999 (their Appendix B), NCSNv2
    0.999 (Song & Ermon 2020, technique 5: score networks trained by denoising score matching
    fluctuate from step to step, and the average is steadier).

    After each optimisation step ``θ̄ ← d θ̄ + (1 − d) θ`` with the warm-up
    ``d = min(decay, (1 + n) / (10 + n))``, ``n`` the updates made before (TensorFlow's
    ``ExponentialMovingAverage`` given ``num_updates``). Without it a decay of 0.9999 would keep the
    random initial weights for tens of thousands of steps; with it the average weighs step ``k`` of
    ``n`` in proportion to about ``(k / n)^8`` until ``(1 + n) / (10 + n)`` reaches the decay
    (``n ≈ 90 000`` for 0.9999), so short budgets still average sensibly.

    ``shadow``, the averaged copy, is a submodule and the update count a buffer, so checkpoints
    carry both and a resumed fit continues the same average. Buffers of the network, if any, are
    copied, not averaged."""

    def __init__(self, net: nn.Module, decay: float):
        super().__init__()
        self.decay = decay
        self.shadow = copy.deepcopy(net).requires_grad_(False)
        self.register_buffer("updates", torch.zeros((), dtype=torch.long))

    def rate(self) -> float:
        """The decay of the next update, ``min(decay, (1 + n) / (10 + n))``."""
        n = int(self.updates)
        return min(self.decay, (1 + n) / (10 + n))

    @torch.no_grad()
    def update(self, net: nn.Module) -> None:
        """Move the average towards ``net``'s current weights."""
        d = self.rate()
        for average, weight in zip(self.shadow.parameters(), net.parameters()):
            average.lerp_(weight, 1 - d)
        for average, buffer in zip(self.shadow.buffers(), net.buffers()):
            average.copy_(buffer)
        self.updates += 1
