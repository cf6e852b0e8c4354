"""How a diffusion model sees the data, and its decoder ``p_θ(x_0 | x_1)`` there.

Images and data with levels live in ``[0, 1]``; the model works on ``2x − 1`` in ``[−1, 1]``, as
Ho et al. 2020 (§3.3, "scaled linearly to [−1, 1]"), so that the data have about unit scale
like the noise, and clips ``x̂_0`` to ``[−1, 1]``. Samples come back to ``[0, 1]``, at the nearest
stored level for data with levels (the mode of the discretised decoder's bin). Such data with
levels is modelled as a mass over its levels (``density = "discrete"``, so the host does not
dequantise it); images without levels get a Gaussian density, ``D log 2`` nats added for the
factor 2 of the map to ``[−1, 1]``.

Other data (the toy 2-D sets) are used as they are: no scaling, and no clipping of ``x̂_0``, since
a density on ``R^D`` has no range to clip to; the decoder is a Gaussian density in nats.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from benchbench import Dataset
from benchbench.nn import gaussian_log_prob, to_levels

from .bound import discretised_gaussian_log_likelihood
from .process import Clip


@dataclass(frozen=True)
class DataSpace:
    """``bounded``: the data lie in ``[0, 1]`` (images, data with ``levels``)."""

    bounded: bool
    levels: int | None

    @classmethod
    def of(cls, data: Dataset) -> DataSpace:
        return cls(data.is_image or data.levels is not None, data.levels)

    @property
    def density(self) -> str:
        return "discrete" if self.levels else "continuous"

    @property
    def clip(self) -> Clip:
        """Where ``x̂_0`` is clipped to when sampling and in the bound."""
        return (-1.0, 1.0) if self.bounded else None

    def to_model(self, x: torch.Tensor) -> torch.Tensor:
        return 2 * x - 1 if self.bounded else x

    def to_data(self, x: torch.Tensor) -> torch.Tensor:
        """A sample in the model's coordinates as data: ``[0, 1]``, at the nearest level when there are levels."""
        if not self.bounded:
            return x
        x = ((x + 1) / 2).clamp(0, 1)
        return to_levels(x, self.levels) / (self.levels - 1) if self.levels else x

    def decoder(self, x0: torch.Tensor, mean: torch.Tensor, variance: float) -> torch.Tensor:
        """``log p_θ(x_0 | x_1)`` ``(B,)`` in nats, of ``x_0`` as the data (module docstring)."""
        if self.levels:
            return discretised_gaussian_log_likelihood(x0, mean, math.sqrt(variance), self.levels)
        log_var = torch.full_like(mean, math.log(variance), dtype=torch.float64)
        jacobian = x0[0].numel() * math.log(2) if self.bounded else 0.0
        return gaussian_log_prob(x0.double(), mean.double(), log_var) + jacobian

    def describe(self) -> dict[str, str]:
        """The decoder and the coordinates, for the bound's protocol."""
        if self.levels:
            decoder = f"discretised Gaussian over {self.levels} levels (Ho et al. 2020, eq. 13), a mass"
        else:
            decoder = "Gaussian density" + (", D log 2 nats for the map to [-1, 1]" if self.bounded else "")
        return {"decoder": f"{decoder}, variance beta-tilde_2 (the posterior's at step 2)",
                "coordinates": "2x - 1 in [-1, 1]" if self.bounded else "the data as they are"}
