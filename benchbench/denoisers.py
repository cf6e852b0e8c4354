"""Time-conditioned denoising networks ``(x_t, t, y) → output shaped like x``, shared by the
diffusion and score-based families.

Both families learn the same kind of function: given data corrupted to noise level ``t``, predict
the noise (DDPM, Ho et al. 2020) or the score (NCSN, Song & Ermon 2019; score SDEs, Song et al.
2021). The network does not care which; the family decides what its output means. Ho et al. 2020
(Appendix B) use a PixelCNN++-style U-Net (Salimans et al. 2017) with Wide-ResNet blocks,
GroupNorm, self-attention at 16x16 and the step index fed through the Transformer's sinusoidal
embedding; Song et al. 2021 build NCSN++ and DDPM++ on the same backbone. It lives here once:

* :func:`timestep_embedding`, the sinusoidal features of ``t`` (Vaswani et al. 2017, §3.5).
* :class:`DenoiserMLP`, for vector data (toy 2-D sets): residual MLP blocks with the embedding
  added inside each, the vector analogue of the U-Net's residual block.
* :class:`UNet`, for images, written after Ho et al.'s ``diffusion_tf/models/unet.py``.
* :func:`unet_problem`, what is wrong with a U-Net's settings for an image size, so that a plugin's
  config check refuses them before anything is built.
* :class:`DenoiserSettings`, the eight settings of :func:`denoiser` a model plugin offers as its own
  parameters: its ``Config`` inherits them, their checks and the network they build.

Class conditioning, for classifier-free guidance (Ho & Salimans 2022): a learned vector per class
is added to the time embedding, with one extra index, ``num_classes``, for "no label". ``y=None``
gives every example the null label; to drop labels during training (the paper's p_uncond) the
caller replaces them by ``num_classes``.

Scaled down for CPU. Ho et al.'s CIFAR-10 model (35.7M parameters) has channels 128, levels 4
(multipliers 1, 2, 2, 2: 32, 16, 8, 4 pixels), res_blocks 2, attention at 16, dropout 0.1 and
32 GroupNorm groups. The defaults here (channels 32, levels 2, res_blocks 1, 8 groups, no dropout)
give about 0.64M parameters on 8x8 digits; the multipliers keep Ho et al.'s shape: level 0 has
``channels``, every later level twice that.
"""

from __future__ import annotations

import math
from functools import partial

import torch
import torch.nn.functional as F
from torch import nn

from .nn import mlp
from .denoiser_settings import NETWORKS


def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10_000.0) -> torch.Tensor:
    """(B,) float times → (B, dim) sinusoidal features (Vaswani et al. 2017; Ho et al. 2020's
    ``get_timestep_embedding``): ``[sin(t ω_i), cos(t ω_i)]`` with ``ω_i = exp(−log(max_period) i /
    (half − 1))``, ``i = 0 … half − 1``, ``half = dim // 2``; an odd ``dim`` gets a zero last column.

    ``t`` is on a scale of about 0..1000: diffusion passes the integer step index as float,
    continuous-time models scale their time or noise level to it themselves. ``dim`` >= 4.
    """
    half = dim // 2
    t = t if t.is_floating_point() else t.float()
    frequencies = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device, dtype=t.dtype) / (half - 1))
    angles = t[:, None] * frequencies[None, :]  # (B, half)
    features = torch.cat([angles.sin(), angles.cos()], 1)  # (B, 2 half)
    return F.pad(features, (0, dim % 2))


def zero_initialised(layer: nn.Module) -> nn.Module:
    """``layer`` with weight and bias set to zero (Ho et al. 2020's ``init_scale=0.``)."""
    nn.init.zeros_(layer.weight)
    nn.init.zeros_(layer.bias)
    return layer


class Conditioning(nn.Module):
    """``(t, y)`` → ``(B, width)``: ``t``'s sinusoidal features (``features`` of them) through a
    2-layer SiLU MLP (Ho et al. 2020), plus a learned vector for the class when ``num_classes``
    (index ``num_classes`` is the null label of classifier-free guidance, Ho & Salimans 2022)."""

    def __init__(self, features: int, width: int, num_classes: int | None = None):
        super().__init__()
        self.features = features
        self.num_classes = num_classes
        self.time = mlp([features, width, width])
        self.classes = nn.Embedding(num_classes + 1, width) if num_classes is not None else None

    def forward(self, t: torch.Tensor, y: torch.Tensor | None, like: torch.Tensor) -> torch.Tensor:
        """``t`` (B,) or a scalar, broadcast to the batch of ``like`` whose device and dtype it takes."""
        t = torch.as_tensor(t, device=like.device).reshape(-1).expand(like.shape[0])
        emb = self.time(timestep_embedding(t, self.features).to(like.dtype))  # (B, width)
        if self.classes is None:
            if y is not None:
                raise ValueError("labels given to a network built without num_classes")
            return emb
        if y is None:
            y = torch.full((like.shape[0],), self.num_classes, dtype=torch.long, device=like.device)
        return emb + self.classes(y)


# ---- vectors --------------------------------------------------------------------------------------


class ResidualLayer(nn.Module):
    """``h + W₂ SiLU(W₁ SiLU(h) + V SiLU(emb))``: Ho et al.'s residual block (below) for vectors."""

    def __init__(self, width: int):
        super().__init__()
        self.inner = nn.Linear(width, width)
        self.emb = nn.Linear(width, width)
        self.outer = nn.Linear(width, width)

    def forward(self, h: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        a = self.inner(F.silu(h)) + self.emb(F.silu(emb))  # (B, width)
        return h + self.outer(F.silu(a))


class DenoiserMLP(nn.Module):
    """For vector data (B, D): x and a time embedding (sinusoidal → 2-layer MLP) combined in
    ``depth`` residual MLP blocks (SiLU); class embedding added to the time embedding when
    ``num_classes``. The output layer starts at zero, as the U-Net's does."""

    def __init__(self, dim: int, hidden: int = 128, depth: int = 3, num_classes: int | None = None):
        super().__init__()
        self.conditioning = Conditioning(hidden, hidden, num_classes)
        self.stem = nn.Linear(dim, hidden)
        self.blocks = nn.ModuleList(ResidualLayer(hidden) for _ in range(depth))
        self.head = nn.Sequential(nn.SiLU(), zero_initialised(nn.Linear(hidden, dim)))

    def forward(self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        emb = self.conditioning(t, y, x)  # (B, hidden)
        h = self.stem(x)  # (B, hidden)
        for block in self.blocks:
            h = block(h, emb)
        return self.head(h)  # (B, D)


# ---- images ---------------------------------------------------------------------------------------


def resolutions(size: tuple[int, int], levels: int) -> list[tuple[int, int]]:
    """``(H, W)`` at each of a U-Net's ``levels``: each stride-2 3x3 convolution (padding 1) takes
    a side ``s`` to ``ceil(s / 2)``, so 28 → 14 → 7 → 4."""
    sizes = [tuple(size)]
    for _ in range(levels - 1):
        sizes.append(((sizes[-1][0] + 1) // 2, (sizes[-1][1] + 1) // 2))
    return sizes  # type: ignore[return-value]


def unet_problem(shape: tuple[int, int, int], levels: int, channels: int, groups: int = 8) -> str:
    """'' when a U-Net of ``levels`` resolutions fits an image of ``shape`` (C, H, W), else what
    is wrong, e.g. 'levels 4 halves 8x8 images below 2x2: at most 3 for this size' or 'channels 20
    is not a multiple of the 8 GroupNorm groups'. The plugins' config checks call it to refuse bad
    parameters before any training."""
    h, w = shape[1:]
    if levels < 1:
        return f"levels {levels}: a U-Net has at least 1"
    if channels < 4:
        return f"channels {channels}: at least 4, the width of the time features"
    if channels % groups:
        return f"channels {channels} is not a multiple of the {groups} GroupNorm groups"
    if min(resolutions((h, w), levels)[-1]) < 2:
        most = sum(min(s) >= 2 for s in resolutions((h, w), levels))
        return f"levels {levels} halves {h}x{w} images below 2x2: at most {most} for this size"
    return ""


class ResidualBlock(nn.Module):
    """Ho et al. 2020's ``resnet_block`` (a Wide-ResNet block, Zagoruyko & Komodakis 2016):
    GroupNorm, SiLU, 3x3 conv, plus a projection of the time embedding; GroupNorm, SiLU, dropout,
    3x3 conv started at zero (so the block starts as the identity); a 1x1 conv on the shortcut
    when the width changes."""

    def __init__(self, width_in: int, width: int, emb: int, dropout: float, groups: int):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, width_in)
        self.conv1 = nn.Conv2d(width_in, width, 3, padding=1)
        self.emb = nn.Linear(emb, width)
        self.norm2 = nn.GroupNorm(groups, width)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = zero_initialised(nn.Conv2d(width, width, 3, padding=1))
        self.shortcut = nn.Conv2d(width_in, width, 1) if width_in != width else nn.Identity()

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))  # (B, width, H, W)
        h = h + self.emb(F.silu(emb))[:, :, None, None]
        h = self.conv2(self.dropout(F.silu(self.norm2(h))))
        return self.shortcut(x) + h


class SelfAttention(nn.Module):
    """Ho et al. 2020's ``attn_block``: single-head dot-product attention over all positions of
    the GroupNorm'd input, its output projection started at zero, added to the input."""

    def __init__(self, width: int, groups: int):
        super().__init__()
        self.norm = nn.GroupNorm(groups, width)
        self.qkv = nn.Conv2d(width, 3 * width, 1)
        self.out = zero_initialised(nn.Conv2d(width, width, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        q, k, v = self.qkv(self.norm(x)).flatten(2).transpose(1, 2).chunk(3, dim=2)  # each (B, HW, C)
        a = F.scaled_dot_product_attention(q, k, v)  # softmax(q kᵀ / √C) v, (B, HW, C)
        return x + self.out(a.transpose(1, 2).reshape(b, c, h, w))


class Stage(nn.Module):
    """A residual block, then self-attention when ``attention``: one entry of a U-Net level."""

    def __init__(self, width_in: int, width: int, emb: int, attention: bool, dropout: float, groups: int):
        super().__init__()
        self.block = ResidualBlock(width_in, width, emb, dropout, groups)
        self.attention = SelfAttention(width, groups) if attention else nn.Identity()

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        return self.attention(self.block(x, emb))


class Upsample(nn.Module):
    """Nearest-neighbour upsampling to the size of the skip connection it meets (twice the input,
    or one less where a halving rounded up an odd side), then a 3x3 conv (Ho et al. 2020)."""

    def __init__(self, width: int):
        super().__init__()
        self.conv = nn.Conv2d(width, width, 3, padding=1)

    def forward(self, x: torch.Tensor, size: torch.Size) -> torch.Tensor:
        return self.conv(F.interpolate(x, size=size, mode="nearest"))


class UNet(nn.Module):
    """A U-Net in the style of Ho et al. 2020 (their ``diffusion_tf/models/unet.py``, the PixelCNN++
    backbone): residual blocks with GroupNorm, SiLU, dropout and the time embedding added after the
    first conv; self-attention (single head, GroupNorm'd, residual) at the image heights named in
    ``attention_resolutions`` and always in the middle block; skip connections from every down
    block; stride-2 conv downsampling, nearest-neighbour upsampling + conv; zero-initialised output
    conv. ``levels`` resolutions, ``res_blocks`` blocks each on the way down and one more on the
    way up, so that every skip is taken; time embedding of width 4 · ``channels``."""

    def __init__(self, shape: tuple[int, int, int], channels: int = 32, levels: int = 2, res_blocks: int = 1,
                 attention_resolutions: tuple[int, ...] = (16,), dropout: float = 0.0, num_classes: int | None = None,
                 groups: int = 8):
        super().__init__()
        if problem := unet_problem(shape, levels, channels, groups):
            raise ValueError(problem)
        emb = 4 * channels
        widths = [channels * (2 if level else 1) for level in range(levels)]  # Ho et al.'s multipliers (1, 2, 2, 2)
        attends = [h in attention_resolutions for h, _ in resolutions(shape[1:], levels)]  # type: ignore[arg-type]
        stage = partial(Stage, emb=emb, dropout=dropout, groups=groups)
        self.conditioning = Conditioning(channels, emb, num_classes)
        self.stem = nn.Conv2d(shape[0], channels, 3, padding=1)
        skips, width = [channels], channels  # widths of the skip connections, in order
        self.down, self.downsample = nn.ModuleList(), nn.ModuleList()
        for level in range(levels):
            self.down.append(nn.ModuleList())
            for _ in range(res_blocks):
                self.down[-1].append(stage(width, widths[level], attention=attends[level]))
                width = widths[level]
                skips.append(width)
            if level < levels - 1:
                self.downsample.append(nn.Conv2d(width, width, 3, stride=2, padding=1))
                skips.append(width)
        self.middle = nn.ModuleList([stage(width, width, attention=True), stage(width, width, attention=False)])
        self.up, self.upsample = nn.ModuleList(), nn.ModuleList()
        for level in reversed(range(levels)):
            self.up.append(nn.ModuleList())
            for _ in range(res_blocks + 1):
                self.up[-1].append(stage(width + skips.pop(), widths[level], attention=attends[level]))
                width = widths[level]
            if level > 0:
                self.upsample.append(Upsample(width))
        # Ho et al. start the last conv at zero: the initial prediction is 0 whatever the input,
        # so the first losses are the data's own scale and no early step is thrown far off.
        self.head = nn.Sequential(nn.GroupNorm(groups, width), nn.SiLU(),
                                  zero_initialised(nn.Conv2d(width, shape[0], 3, padding=1)))

    def forward(self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        emb = self.conditioning(t, y, x)  # (B, 4 channels)
        hs = [self.stem(x)]  # skip connections, (B, width, H_level, W_level)
        for level, stages in enumerate(self.down):
            for stage in stages:
                hs.append(stage(hs[-1], emb))
            if level < len(self.downsample):
                hs.append(self.downsample[level](hs[-1]))
        h = hs[-1]
        for stage in self.middle:
            h = stage(h, emb)
        for level, stages in enumerate(self.up):
            for stage in stages:
                h = stage(torch.cat([h, hs.pop()], 1), emb)
            if level < len(self.upsample):
                h = self.upsample[level](h, hs[-1].shape[-2:])
        return self.head(h)  # (B, C, H, W)


def denoiser(shape: tuple[int, ...], *, network: str = "auto", hidden: int = 128, depth: int = 3, channels: int = 32,
             levels: int = 2, res_blocks: int = 1, attention_resolutions: tuple[int, ...] = (16,),
             dropout: float = 0.0, num_classes: int | None = None, groups: int = 8) -> nn.Module:
    """The denoiser for data shaped ``shape``: ``network`` "auto" is the MLP for vectors (D,) and the
    U-Net for images (C, H, W); "mlp" is the MLP on flattened data of any shape, for CPU budgets
    (on 8x8 digits one forward pass of 2,000 images takes about 1.3 s through the 32-channel U-Net
    and tens of milliseconds through a 256-unit MLP, and a 1,000-step sampler makes a thousand)."""
    if network not in NETWORKS:
        raise ValueError(f"network must be one of {', '.join(NETWORKS)}, got {network!r}")
    if network == "mlp" or (network == "auto" and len(shape) == 1):
        mlp = DenoiserMLP(math.prod(shape), hidden, depth, num_classes)
        return mlp if len(shape) == 1 else Flattened(mlp, shape)
    if len(shape) == 3:
        return UNet(shape, channels, levels, res_blocks, attention_resolutions, dropout, num_classes,  # type: ignore[arg-type]
                    groups)
    raise ValueError(f"no U-Net for data shaped {tuple(shape)}: images (C, H, W), or network 'mlp'")


class Flattened(nn.Module):
    """A vector denoiser applied to data of any shape: flattened in, reshaped out."""

    def __init__(self, net: nn.Module, shape: tuple[int, ...]):
        super().__init__()
        self.net, self.shape = net, tuple(shape)

    def forward(self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(x.flatten(1), t, y).view(-1, *self.shape)
