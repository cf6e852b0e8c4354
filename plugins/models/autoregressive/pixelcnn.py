"""PixelCNN (van den Oord et al. 2016a, "Pixel Recurrent Neural Networks", section 3.5) and the
gated PixelCNN (van den Oord et al. 2016b, "Conditional Image Generation with PixelCNN Decoders").

Pixels come in raster order and, within a pixel, channel by channel: dimension (c, i, j) conditions
on the rows above i, the pixels left of j in row i, and the channels before c of pixel (i, j).
Convolutions keep this by masking their kernels. A tap on an earlier pixel is open; at the centre
tap the hidden channels are split into C groups, group c carrying what channel c may see, and
input group g feeds output group g' when g < g' in the first layer (mask A: a pixel never sees
itself) or g <= g' afterwards (mask B: the centre of a hidden layer already excludes it).

Stacked masked convolutions leave a blind spot above and to the right. The gated variant removes
it with two stacks: a vertical one over whole rows above, shifted down one row before it feeds the
horizontal one along the current row; activations are gated, tanh(a) ⊙ σ(b).
"""

from __future__ import annotations

import itertools

import torch
import torch.nn.functional as F
from torch import nn

from benchbench.distributions import Likelihood

from .base import Autoregressive


def channel_groups(channels: int, image_channels: int) -> torch.Tensor:
    """Group (image channel) of each of ``channels`` hidden channels: contiguous blocks."""
    return torch.arange(channels) * image_channels // channels


def causal_mask(out_groups: torch.Tensor, in_groups: torch.Tensor, kernel: tuple[int, int], centre: tuple[int, int],
                type_a: bool) -> torch.Tensor:
    """(out, in, kh, kw) 0/1 kernel mask: open on pixels above the centre or left of it in its row;
    at the centre, from input group g to output group g' when g < g' (type A) or g <= g' (type B)."""
    rows = torch.arange(kernel[0])[:, None] - centre[0]
    cols = torch.arange(kernel[1])[None, :] - centre[1]
    earlier = (rows < 0) | ((rows == 0) & (cols < 0))  # (kh, kw)
    at_centre = (rows == 0) & (cols == 0)
    order = out_groups[:, None] - in_groups[None, :]  # (out, in)
    sees = order > 0 if type_a else order >= 0
    return (earlier | (at_centre & sees[:, :, None, None])).float()


class MaskedConv2d(nn.Conv2d):
    """A convolution whose kernel is multiplied by a fixed mask; ``pad`` (left, right, top, bottom)."""

    def __init__(self, mask: torch.Tensor, pad: tuple[int, int, int, int]):
        out_channels, in_channels, *kernel = mask.shape
        super().__init__(in_channels, out_channels, tuple(kernel))
        self.pad = pad
        self.register_buffer("mask", mask)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(F.pad(x, self.pad), self.weight * self.mask, self.bias)


def square(out_groups: torch.Tensor, in_groups: torch.Tensor, kernel: int, type_a: bool = False) -> MaskedConv2d:
    """A k x k masked convolution that keeps the image size."""
    r = kernel // 2
    return MaskedConv2d(causal_mask(out_groups, in_groups, (kernel, kernel), (r, r), type_a), (r, r, r, r))


class ResidualBlock(nn.Module):
    """ReLU, 3x3 mask-B conv, ReLU, 1x1 mask-B conv, added to the input (2016a, figure 5, narrowed)."""

    def __init__(self, groups: torch.Tensor):
        super().__init__()
        self.net = nn.Sequential(nn.ReLU(), square(groups, groups, 3), nn.ReLU(), square(groups, groups, 1))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return h + self.net(h)


def gate(a: torch.Tensor) -> torch.Tensor:
    """tanh(a_1) ⊙ σ(a_2) over the two channel halves (2016b, equation 2)."""
    t, s = a.chunk(2, 1)
    return torch.tanh(t) * torch.sigmoid(s)


class GatedLayer(nn.Module):
    """One layer of both stacks (2016b, figure 2); residual on the horizontal stack after the first."""

    def __init__(self, in_groups: torch.Tensor, groups: torch.Tensor, kernel: int, first: bool):
        super().__init__()
        width, r, both = len(groups), kernel // 2, groups.repeat(2)  # both halves of a gate share a group
        self.v_pad = (r, r, r, 0)
        self.vertical = nn.Conv2d(len(in_groups), 2 * width, (r + 1, kernel))  # row i sees rows i-r..i
        self.v_to_h = nn.Conv2d(2 * width, 2 * width, 1)
        self.horizontal = MaskedConv2d(causal_mask(both, in_groups, (1, r + 1), (0, r), type_a=first), (r, 0, 0, 0))
        self.h_out = square(groups, groups, 1)
        self.residual = not first

    def forward(self, v: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        v = self.vertical(F.pad(v, self.v_pad))  # (B, 2F, H, W)
        above = F.pad(v, (0, 0, 1, 0))[:, :, :-1]  # shifted down a row: row i now sees rows < i only
        h_new = self.h_out(gate(self.horizontal(h) + self.v_to_h(above)))
        return gate(v), h + h_new if self.residual else h_new


class GatedStack(nn.Module):
    def __init__(self, image_channels: int, groups: torch.Tensor, kernel: int, layers: int):
        super().__init__()
        first = GatedLayer(torch.arange(image_channels), groups, kernel, first=True)
        self.layers = nn.ModuleList([first, *(GatedLayer(groups, groups, 3, first=False) for _ in range(layers))])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        v = h = x
        for layer in self.layers:
            v, h = layer(v, h)
        return h


class PixelCNN(Autoregressive):
    """A first k x k mask-A convolution, ``layers`` blocks, a 1x1 head giving P parameters per channel."""

    def __init__(self, shape: tuple[int, ...], likelihood: Likelihood, hidden: int = 64, layers: int = 4,
                 kernel: int = 7, gated: bool = False, lr: float = 1e-3):
        super().__init__(shape, likelihood)
        channels, params = shape[0], likelihood.params_per_dim
        groups = channel_groups(hidden, channels)
        if gated:
            self.body: nn.Module = GatedStack(channels, groups, kernel, layers)
        else:
            blocks = [ResidualBlock(groups) for _ in range(layers)]
            self.body = nn.Sequential(square(groups, torch.arange(channels), kernel, type_a=True), *blocks)
        out_groups = torch.arange(channels * params) // params  # output channel (c, p) serves image channel c
        self.head = nn.Sequential(nn.ReLU(), square(groups, groups, 1), nn.ReLU(), square(out_groups, groups, 1))
        self.order.copy_(torch.arange(self.dim).view(channels, -1).t().flatten())  # raster over pixels, channels inside
        self.reach = kernel // 2 + layers + 1  # pixels any output sees up or sideways (+1: the gated stack's shift)
        self.opt = torch.optim.Adam(self.parameters(), lr=lr)

    def conditionals(self, x: torch.Tensor) -> torch.Tensor:
        """Also on a crop of the image, as sampling passes a :meth:`window`."""
        out = self.head(self.body(x))  # (B, C*P, H, W)
        b, _, height, width = out.shape
        params = self.likelihood.params_per_dim
        out = out.view(b, self.shape[0], params, height, width).permute(0, 1, 3, 4, 2)  # (B, C, H, W, P)
        return out.reshape(b, -1, params)  # (B, D, P)

    def window(self, i: int, j: int) -> tuple[slice, slice]:
        """Rows and columns of the image that pixel (i, j)'s conditionals can see: its receptive
        field, cut off below row i. A pass on this window alone gives the same conditionals there."""
        return slice(max(0, i - self.reach), i + 1), slice(max(0, j - self.reach), j + self.reach + 1)

    def sample_flat(self, n: int) -> torch.Tensor:
        """Each pass runs on the window of the pixel it fills, not on the whole image."""
        x = torch.zeros(n, *self.shape, device=self.device)
        channels, height, width = self.shape
        for i, j, c in itertools.product(range(height), range(width), range(channels)):  # the order σ
            rows, cols = self.window(i, j)
            crop = x[:, :, rows, cols]
            params = self.conditionals(crop).view(n, *crop.shape[1:], -1)  # (n, C, h, w, P)
            params = params[:, c, i - rows.start, j - cols.start]  # (n, P)
            x[:, c, i, j] = self.likelihood.sample(params)[:, 0]
        return x.flatten(1)
