"""The energy-based model's settings, checked against the data before anything is built.

The defaults are the spec's (``__init__.py``, where each is explained for the user); the comments
here say why they are what they are. :func:`checked` turns a suite's parameters into a
:class:`Config` or raises :class:`benchbench.CapabilityError` naming model, variant and parameter.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from benchbench import Dataset
from benchbench.settings import bounds_problem, checked_config

VARIANTS = ("cd", "score-matching", "nce")
CHOICES = {
    "sm_method": ("auto", "exact", "sliced"),
    "projection": ("rademacher", "gaussian"),
    "noise": ("gaussian", "flow"),
    "noise_flow": ("maf", "realnvp"),
    "sampler": ("langevin", "mala"),
    "sample_init": ("noise", "base", "buffer"),
}
EXACT_MAX_DIM = 8  # sm_method auto: the exact trace costs one backward pass per dimension
MIN_GRID = 64  # cells per axis below which quadrature of a sharp learned density is not trusted
CELLS_PER_STD = 10  # a grid cell at most a tenth of the data's smallest per-dimension std


@dataclass(frozen=True)
class Config:
    # the energy network: benchbench.nn.Critic with SiLU (smooth: score matching differentiates twice)
    hidden: int = 128
    depth: int = 2
    channels: int = 32
    spectral_norm: bool = False  # Miyato et al. 2018; IGEBM uses it to keep the energy smooth
    lr: float = 1e-3
    lr_half_life: int = 0  # NCE's normaliser drifts with the energy's noisy steps; a decaying lr settles it
    energy_limit: float = 1e4  # |E| beyond this is divergence: exp(-E) is then meaningless in float32
    # cd: short-run Langevin from the replay buffer (Du & Mordatch 2019)
    langevin_steps: int = 20
    step_size: float = 0.01
    noise_scale: float | None = None  # None: sqrt(2 step_size), proper Langevin; IGEBM uses far less
    reinit: float = 0.05  # IGEBM's restart probability
    buffer_size: int = 10_000  # IGEBM's
    alpha: float = 0.1  # IGEBM's alpha = 1 flattens a 2-D density's contrast; 0.1 keeps it and bounds E
    # score matching
    sm_method: str = "auto"
    projections: int = 1  # Song et al. 2019: one projection per example already works
    projection: str = "rademacher"  # lower variance than Gaussian for the same E[v v^T] = I
    # nce
    noise: str = "gaussian"
    noise_ratio: float = 4.0  # NCE's efficiency grows with nu (Gutmann & Hyvarinen 2012); 1 left c 5-30% off
    noise_steps: int = 500
    noise_flow: str = "maf"  # Gao et al. use Glow-like flows; a MAF samples in D passes, realnvp in one
    # sampling
    sampler: str = "langevin"
    sample_steps: int = 500
    sample_step_size: float = 0.005
    sample_init: str = "noise"
    # normaliser
    grid: int = 512
    grid_margin: float = 0.25
    ais_steps: int = 500
    ais_chains: int = 100

    def exact_score_matching(self, dim: int) -> bool:
        """Whether score matching takes the exact Hessian trace (``auto``: up to ``EXACT_MAX_DIM`` dimensions)."""
        return self.sm_method == "exact" or (self.sm_method == "auto" and dim <= EXACT_MAX_DIM)


POSITIVE = ("lr", "energy_limit", "step_size", "sample_step_size", "noise_ratio")
AT_LEAST_ONE = ("hidden", "depth", "channels", "langevin_steps", "buffer_size", "projections", "sample_steps", "grid",
                "ais_steps", "ais_chains")
NON_NEGATIVE = ("lr_half_life", "alpha", "grid_margin", "noise_steps")


def value_problem(config: Config, variant: str) -> str:
    """What is wrong with one setting on its own, or ''."""
    if problem := bounds_problem(config, positive=POSITIVE, at_least_one=AT_LEAST_ONE, non_negative=NON_NEGATIVE):
        return problem
    if config.noise_scale is not None and config.noise_scale < 0:
        return f"noise_scale must be None (sqrt(2 step_size)) or non-negative, got {config.noise_scale}"
    if not 0 <= config.reinit <= 1:
        return f"reinit must be a probability in [0, 1], got {config.reinit}"
    for name, allowed in CHOICES.items():
        if getattr(config, name) not in allowed:
            return f"{name} must be one of {', '.join(allowed)}, got {getattr(config, name)!r}"
    if config.sample_init == "buffer" and variant != "cd":
        return "sample_init 'buffer' needs the replay buffer of variant 'cd'; use 'noise'"
    if config.noise == "flow" and config.noise_steps < 1:
        return "noise 'flow' is fitted in the first noise_steps steps: noise_steps must be at least 1"
    return ""


def grid_problem(config: Config, data: Dataset) -> str:
    """Whether the quadrature grid (data of at most 2 dimensions) resolves the data, or ''."""
    if data.dim > 2:
        return ""
    if config.grid < MIN_GRID:
        return f"grid must be at least {MIN_GRID} cells per axis, got {config.grid}"
    train = torch.as_tensor(data.train).flatten(1).double()
    bounded = data.is_image or data.levels is not None
    span = torch.ones(data.dim, dtype=torch.float64) if bounded else (
        (train.max(0).values - train.min(0).values) * (1 + 2 * config.grid_margin))
    cell, std = (span / config.grid).max().item(), train.std(0).min().item()
    if cell > std / CELLS_PER_STD:
        return (f"grid of {config.grid} cells is too coarse for {data.name!r}: cells of {cell:.3g} against a "
                f"smallest per-dimension std of {std:.3g} (at most 1/{CELLS_PER_STD} of it); raise grid")
    return ""


def checked(label: str, data: Dataset, variant: str, params: dict[str, Any]) -> Config:
    """The :class:`Config` of ``params``, or a CapabilityError naming what is wrong."""
    return checked_config(label, Config, VARIANTS, variant, params,
                          lambda c: value_problem(c, variant) or grid_problem(c, data))
