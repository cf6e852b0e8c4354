"""How a trained diffusion model draws samples: the sampler and its settings, one frozen value that
travels into the protocol of every number computed from the samples.

One trained network serves every setting, so a benchmark can sample it at 10, 50 and 1000 steps:
``model.sample_with(replace(model.sampling, sampler="ddim", sample_steps=10), n)``. The fields are
named after the model's parameters, so a problem names the parameter to change.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from .process import (
    SPACINGS,
    Clip,
    NoisePrediction,
    ancestral_sample,
    ddim_sample,
    ddim_timesteps,
)
from .schedules import Schedule

SAMPLERS = ("ancestral", "ddim")
VARIANCES = ("large", "small")
GUIDANCE_RULE = "eps = (1 + w) eps(x, y) - w eps(x, null) (Ho & Salimans 2022)"


@dataclass(frozen=True)
class Sampling:
    """``sampler``: ``ancestral`` (Ho et al. 2020, every step, ``variance`` ``large`` σ² = β or
    ``small`` σ² = β̃) or ``ddim`` (Song et al. 2021, ``sample_steps`` steps of the ``spacing``
    subsequence, noise scale ``eta``); ``guidance``: the weight ``w`` of classifier-free guidance,
    used by class-conditional models only."""

    sampler: str = "ancestral"
    sample_steps: int = 50
    spacing: str = "uniform"
    eta: float = 0.0
    variance: str = "large"
    guidance: float = 0.0

    def problem(self, timesteps: int) -> str:
        """What is wrong with these settings for a model of ``timesteps`` steps, or ''."""
        for name, allowed in (("sampler", SAMPLERS), ("spacing", SPACINGS), ("variance", VARIANCES)):
            if getattr(self, name) not in allowed:
                return f"{name} must be one of {', '.join(allowed)}, got {getattr(self, name)!r}"
        if not 1 <= self.sample_steps <= timesteps:
            return (f"sample_steps must lie in [1, timesteps = {timesteps}]: DDIM visits a subsequence of the "
                    f"training steps, got {self.sample_steps}")
        if not 0 <= self.eta <= 1:
            return f"eta must lie in [0, 1], got {self.eta}"
        if self.guidance < 0:
            return f"guidance must not be negative, got {self.guidance}"
        return ""

    def timesteps(self, timesteps: int) -> torch.Tensor:
        """The steps visited, latest first, ``(S,)`` long."""
        if self.sampler == "ancestral":
            return torch.arange(timesteps).flip(0)
        return ddim_timesteps(timesteps, self.sample_steps, self.spacing)

    def run(self, predict: NoisePrediction, s: Schedule, x: torch.Tensor, clip: Clip) -> torch.Tensor:
        """``x_0`` from ``x = x_T``."""
        if self.sampler == "ancestral":
            return ancestral_sample(predict, s, x, self.variance, clip)
        return ddim_sample(predict, s, x, self.timesteps(len(s)), self.eta, clip)

    def network_evals(self, timesteps: int, conditional: bool) -> int:
        """Forward passes per sample: one per step, two with guidance (conditional and unconditional)."""
        return len(self.timesteps(timesteps)) * (2 if conditional and self.guidance > 0 else 1)

    def protocol(self, timesteps: int, clip: Clip, conditional: bool) -> dict[str, Any]:
        """Every setting that defines the samples, in words a record can hold."""
        steps = len(self.timesteps(timesteps))
        clipping = f"x0 clipped to [{clip[0]:g}, {clip[1]:g}]" if clip else "none (data on R^D)"
        if self.sampler == "ancestral":
            variance = "beta_t" if self.variance == "large" else "beta-tilde_t, the posterior's"
            settings = {"spacing": "every step", "eta": None, "variance": f"{self.variance}: sigma_t^2 = {variance}",
                        "final_step": "mu_theta(x_1, 1), no noise added"}
        else:
            settings = {"spacing": self.spacing, "eta": self.eta, "requested_steps": self.sample_steps,
                        "variance": f"sigma^2 = eta^2 beta-tilde(t, s), eta = {self.eta:g}",
                        "final_step": "x0 prediction (alphabar = 1 after the last step)"}
        guidance = {"guidance": GUIDANCE_RULE, "guidance_weight": self.guidance} if conditional else {
            "guidance": "none (unconditional model)", "guidance_weight": None}
        return {"sampler": self.sampler, "steps": steps, **settings, "clipping": clipping, **guidance}
