"""The score models' settings, checked against the data before anything is built.

The defaults are the spec's (``__init__.py``, where each is explained for the user); the comments
here say why they are what they are. The network's settings, with their defaults and checks, are
inherited from ``benchbench.denoiser_settings.DenoiserSettings``, which the diffusion model shares.
:func:`checked` turns a suite's parameters into a :class:`Config` or raises
:class:`benchbench.CapabilityError` naming model, variant and parameter.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from benchbench import Dataset
from benchbench.denoiser_settings import DenoiserSettings
from benchbench.score_matching import PROJECTIONS
from benchbench.settings import bounds_problem, checked_config

from .samplers import PREDICTORS

NOISE_CONDITIONAL = ("ncsn", "ssm")
SDE_VARIANTS = ("sde-ve", "sde-vp")
VARIANTS = NOISE_CONDITIONAL + SDE_VARIANTS
SAMPLERS = {  # sampler → the variants that can use it
    "annealed-langevin": NOISE_CONDITIONAL,
    "reverse-diffusion": SDE_VARIANTS,
    "euler-maruyama": SDE_VARIANTS,
    "pc": SDE_VARIANTS,
    "ode": SDE_VARIANTS,
}
CHOICES = {
    "sampler": tuple(SAMPLERS),
    "predictor": PREDICTORS,
    "projection": PROJECTIONS,
    "divergence": ("auto", "exact", "hutchinson"),
}
EXACT_MAX_DIM = 8  # divergence auto: the exact trace costs one backward pass per dimension


@dataclass(frozen=True)
class Config(DenoiserSettings):
    # optimisation: Adam; Song et al. use 2e-4 with 5,000 warm-up steps on large U-Nets, NCSNv2 1e-4;
    # the small networks and budgets of a CPU suite take a larger step
    lr: float = 1e-3
    grad_clip: float = 1.0  # Song et al.'s gradient-norm clipping
    ema_decay: float = 0.999  # NCSNv2 technique 5 and Song et al.'s NCSN++ (DDPM++: 0.9999)
    # noise
    sigma_min: float = 0.01  # NCSNv2's σ_L and Song et al.'s VE σ_min
    sigma_max: float | None = None  # None: technique 1, the largest pairwise distance of the train split
    max_noise_levels: int = 30  # technique 2 asks 24 levels on digits; in 2-D it asks none and this sets L
    beta_min: float = 0.1  # Song et al.'s VP (Ho et al.'s β_1 = 1e-4 times N = 1000)
    beta_max: float = 20.0  # Ho et al.'s β_N = 0.02 times N
    eps: float = 1e-5  # Song et al.'s smallest time: training, sampling and likelihood
    # ssm: Song et al. 2019 find one projection enough
    projections: int = 1
    projection: str = "rademacher"
    # sampling
    sampler: str = "annealed-langevin"
    langevin_steps: int = 5  # NCSNv2's T on CIFAR-10 (and most of their datasets)
    step_size: float | None = None  # None: technique 4's ε for T and the levels' ratio
    denoise: bool = True  # NCSNv2's final step; Song et al.'s noise removal
    sample_steps: int = 1000  # Song et al.'s N
    predictor: str = "reverse-diffusion"
    corrector_steps: int = 1
    snr: float = 0.16  # Song et al.'s for VE on CIFAR-10
    rtol: float = 1e-5  # Song et al.'s ODE sampler and likelihood
    atol: float = 1e-5
    # likelihood
    divergence: str = "auto"
    probes: int = 1  # Song et al. use one Rademacher probe per solve

    def exact_divergence(self, dim: int) -> bool:
        """Whether the likelihood takes the exact trace (``auto``: up to ``EXACT_MAX_DIM`` dimensions)."""
        return self.divergence == "exact" or (self.divergence == "auto" and dim <= EXACT_MAX_DIM)


POSITIVE = ("lr", "grad_clip", "sigma_min", "snr", "rtol", "atol")
AT_LEAST_ONE = ("langevin_steps", "sample_steps", "projections", "probes")
NON_NEGATIVE = ("corrector_steps", "beta_min")


def range_problem(config: Config) -> str:
    """What is wrong with one number on its own, or ''."""
    if problem := bounds_problem(config, positive=POSITIVE, at_least_one=AT_LEAST_ONE, non_negative=NON_NEGATIVE):
        return problem
    if config.max_noise_levels < 2:
        return f"max_noise_levels must be at least 2, got {config.max_noise_levels}"
    if not 0 <= config.ema_decay < 1:
        return f"ema_decay must be in [0, 1) (0: no average), got {config.ema_decay}"
    if not 0 < config.eps < 1:
        return f"eps must be in (0, 1), the SDEs' time range, got {config.eps}"
    if config.step_size is not None and not config.step_size > 0:
        return f"step_size must be None (technique 4) or positive, got {config.step_size}"
    return ""


def order_problem(config: Config) -> str:
    """Settings that must come in order, or ''."""
    if config.sigma_max is not None and not config.sigma_max > config.sigma_min:
        return f"sigma_max ({config.sigma_max}) must be above sigma_min ({config.sigma_min})"
    if not config.beta_max > config.beta_min:
        return f"beta_max ({config.beta_max}) must be above beta_min ({config.beta_min})"
    return ""


def choice_problem(config: Config, variant: str) -> str:
    """A choice outside its list, or a sampler this variant cannot use, or ''."""
    for name, allowed in CHOICES.items():
        if getattr(config, name) not in allowed:
            return f"{name} must be one of {', '.join(allowed)}, got {getattr(config, name)!r}"
    if variant not in SAMPLERS[config.sampler]:
        usable = ", ".join(s for s, variants in SAMPLERS.items() if variant in variants)
        return (f"sampler {config.sampler!r} is for variants {', '.join(SAMPLERS[config.sampler])}; "
                f"{variant} can use {usable}")
    if config.sampler == "pc" and config.corrector_steps < 1:
        return "sampler 'pc' needs corrector_steps of at least 1 (without a corrector, choose its predictor as sampler)"
    return ""


def checked(label: str, data: Dataset, variant: str, params: dict[str, Any]) -> Config:
    """The :class:`Config` of ``params``, or a CapabilityError naming what is wrong."""
    return checked_config(label, Config, VARIANTS, variant, params,
                          lambda c: (c.denoiser_problem(data.shape, data.name, "parameters levels, channels")
                                     or range_problem(c) or order_problem(c) or choice_problem(c, variant)))
