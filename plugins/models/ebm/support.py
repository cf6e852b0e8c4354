"""Where an energy-based model's density lives, and where its chains start.

Images and data with levels live in the cube ``[0, 1]^D`` (the host dequantises data with levels
to points of ``[0, 1)^D`` before training and scoring): the density is ``exp(−E) / Z`` restricted
to the cube, chains are kept in it (clamped by Langevin as in IGEBM, Du & Mordatch 2019; proposals
outside rejected by MALA), and samples are mapped back to stored values.

Other continuous data live on ``R^D``; chains start uniformly in the train data's bounding box
widened by ``BOX_MARGIN`` of its range on each side, and nothing bounds them.
"""

from __future__ import annotations

import torch
from torch import nn

from benchbench import Dataset
from benchbench.mcmc import Bounds
from benchbench.nn import quantize

from .densities import Uniform

BOX_MARGIN = 0.1  # fraction of the data's range added on each side of the box that chains start in


def data_box(train: torch.Tensor, margin: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-coordinate ``[min − m·range, max + m·range]`` of ``train`` ``(N, *shape)``."""
    low, high = train.min(0).values, train.max(0).values
    span = (high - low).clamp_min(1e-6)
    return low - margin * span, high + margin * span


class Support(nn.Module):
    """The cube ``[0, 1]^D`` (``bounded``) or ``R^D``, and the uniform box chains start from."""

    def __init__(self, box: Uniform, bounded: bool, levels: int | None):
        super().__init__()
        self.box, self.bounded, self.levels = box, bounded, levels

    @classmethod
    def of(cls, data: Dataset) -> Support:
        train = torch.as_tensor(data.train)
        bounded = data.is_image or data.levels is not None
        low, high = (torch.zeros_like(train[0]), torch.ones_like(train[0])) if bounded else data_box(train, BOX_MARGIN)
        return cls(Uniform(low, high), bounded, data.levels)

    @property
    def bounds(self) -> Bounds:
        """The box chains must stay in, or None on ``R^D``."""
        return (0.0, 1.0) if self.bounded else None

    def describe(self) -> str:
        return "the cube [0, 1]^D" if self.bounded else "R^D"

    def noise(self, n: int) -> torch.Tensor:
        """``n`` uniform starting points ``(n, *shape)``: over ``[0, 1]^D``, or the data's widened box."""
        return self.box.sample(n)

    def to_data(self, x: torch.Tensor) -> torch.Tensor:
        """Chain states as data: the stored value of the cell a point lies in for data with levels
        (:func:`benchbench.nn.quantize`), clamped into ``[0, 1]`` for other images, as they are otherwise."""
        if self.levels:
            return quantize(x, self.levels)
        return x.clamp(0, 1) if self.bounded else x
