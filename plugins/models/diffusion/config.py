"""The diffusion model's settings, checked against the data before anything is built.

The defaults are the spec's (``__init__.py``, where each is explained for the user); the comments
here say why they are what they are. The network's settings, with their defaults and checks, are
inherited from ``benchbench.denoiser_settings.DenoiserSettings``, which the score models share.
:func:`checked` turns a suite's parameters into a :class:`Config` or raises
:class:`benchbench.CapabilityError` naming model, variant and parameter.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from benchbench import Dataset
from benchbench.denoiser_settings import DenoiserSettings
from benchbench.settings import bounds_problem, checked_config

from .sampling import Sampling

VARIANTS = ("ddpm", "ddim", "cfg")
SCHEDULES = ("linear", "cosine")


@dataclass(frozen=True)
class Config(DenoiserSettings):
    # the forward process: Ho et al. 2020, §4
    schedule: str = "linear"
    timesteps: int = 1000
    beta_start: float = 1e-4
    beta_end: float = 0.02
    cosine_s: float = 0.008  # Nichol & Dhariwal 2021, §3.2
    max_beta: float = 0.999  # Nichol & Dhariwal 2021: avoids the singularity at t = T
    # training: Ho et al.'s Adam with lr 2e-4, gradients clipped to norm 1, EMA 0.9999
    lr: float = 2e-4
    grad_clip: float = 1.0
    ema_decay: float = 0.9999
    p_uncond: float = 0.1  # Ho & Salimans 2022: 0.1 and 0.2 beat 0.5
    # sampling
    sampler: str = "ancestral"
    variance: str = "large"  # Ho et al.'s CIFAR-10 model
    sample_steps: int = 50
    eta: float = 0.0  # Song et al. 2021: eta = 0 gives the best FID at few steps
    spacing: str = "uniform"
    guidance: float = 0.3  # Ho & Salimans 2022: small weights give the best FID, large ones the best IS
    # the bound
    bound_timesteps: int = 0

    def sampling(self) -> Sampling:
        """The sampler settings, as ``sample`` uses them."""
        return Sampling(self.sampler, self.sample_steps, self.spacing, self.eta, self.variance, self.guidance)


NON_NEGATIVE = ("grad_clip", "bound_timesteps")


def range_problem(config: Config) -> str:
    """What is wrong with a number on its own, or ''."""
    if problem := bounds_problem(config, positive=("lr",), non_negative=NON_NEGATIVE):
        return problem
    for name in ("ema_decay", "p_uncond"):
        if not 0 <= getattr(config, name) < 1:
            return f"{name} must lie in [0, 1), got {getattr(config, name)}"
    if config.schedule not in SCHEDULES:
        return f"schedule must be one of {', '.join(SCHEDULES)}, got {config.schedule!r}"
    return ""


def schedule_problem(config: Config) -> str:
    """Whether the schedule's settings give betas in (0, 1) and the sampler and the bound fit it, or ''."""
    if config.timesteps < 2:
        return f"timesteps must be at least 2, got {config.timesteps}"
    for name in ("beta_start", "beta_end", "max_beta"):
        if not 0 < getattr(config, name) < 1:
            return f"{name} must lie in (0, 1): a variance of a forward step, got {getattr(config, name)}"
    if config.beta_end < config.beta_start:
        return f"beta_end ({config.beta_end}) must not be below beta_start ({config.beta_start})"
    if config.cosine_s < 0:
        return f"cosine_s must not be negative, got {config.cosine_s}"
    if problem := config.sampling().problem(config.timesteps):
        return problem
    if config.bound_timesteps > config.timesteps - 1:
        return (f"bound_timesteps must be at most timesteps - 1 = {config.timesteps - 1} (the bound's KL "
                f"terms), got {config.bound_timesteps}; 0 takes every term")
    return ""


def variant_problem(config: Config, data: Dataset, variant: str) -> str:
    """Whether the variant fits the data, or ''."""
    if variant == "cfg" and not (data.has_labels and data.num_classes):
        return f"class-conditional training needs labels; {data.name!r} has none"
    if variant == "cfg" and config.guidance > 0 and config.p_uncond == 0:
        return "guidance > 0 needs the unconditional model that p_uncond > 0 trains"
    return ""


def checked(label: str, data: Dataset, variant: str, params: dict[str, Any]) -> Config:
    """The :class:`Config` of ``params``, or a CapabilityError naming what is wrong."""
    return checked_config(label, Config, VARIANTS, variant, params,
                          lambda c: (c.denoiser_problem(data.shape, data.name, f"U-Net for {data.name!r}")
                                     or range_problem(c) or schedule_problem(c) or variant_problem(c, data, variant)))
