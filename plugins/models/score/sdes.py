"""The forward SDEs of continuous-time score models (Song, Sohl-Dickstein, Kingma, Kumar, Ermon &
Poole 2021, "Score-based generative modeling through stochastic differential equations", §3.4),
after score_sde_pytorch's ``sde_lib.py``.

A diffusion ``dx = f(x, t) dt + g(t) dw`` on ``t ∈ [0, T]``, ``T = 1``, carries the data to a
tractable prior. Both SDEs here are linear, so the perturbation kernel is Gaussian,

    x_t | x_0 ~ N(scale(t) x_0, std(t)² I),

which is all that training (denoising score matching at ``x_t = scale(t) x_0 + std(t) z``), the
samplers and the likelihood need besides ``f`` and ``g``. Time runs backwards through

    dx = [f(x, t) − g(t)² ∇ log p_t(x)] dt + g(t) dw̄            (reverse SDE, Anderson 1982)
    dx/dt = f(x, t) − ½ g(t)² ∇ log p_t(x)                        (probability-flow ODE, §4.3)

both with the marginals ``p_t`` of the forward process (:meth:`SDE.reverse_drift`).

* :class:`VESDE` (variance exploding; SMLD's continuum, Song & Ermon 2019): ``f = 0``,
  ``σ(t) = σ_min (σ_max / σ_min)^t``, ``g = σ(t) √(2 log(σ_max / σ_min))``, ``scale = 1``,
  ``std = σ(t)``: as in Song et al. the data are seen already perturbed by ``σ_min`` (the SDE adds
  ``σ(t)² − σ(s)²`` between ``s`` and ``t``); prior ``N(0, σ_max² I)``.
* :class:`VPSDE` (variance preserving; DDPM's continuum, Ho et al. 2020): ``β(t) = β_min + t (β_max −
  β_min)``, ``f = −½ β(t) x``, ``g = √β(t)``, ``log scale = −¼ t² (β_max − β_min) − ½ t β_min``,
  ``std = √(1 − scale²)``; prior ``N(0, I)``.

:meth:`SDE.discretize` gives the one-step forward chain between two grid times from the kernels
themselves, so the reverse-diffusion predictor is SMLD's ancestral step for VE and DDPM's for VP
(Song et al., Appendix E) without a second schedule to keep in step. Times are tensors, ``()`` or
``(B,)``; shapes ``x (B, *shape)``.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod

import torch

T_END = 1.0  # the SDEs' horizon T, as Song et al.'s


def per_example(v: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``v`` of shape ``()`` or ``(B,)`` viewed to broadcast against ``x (B, *shape)``, in x's dtype
    and on its device."""
    return v.to(device=x.device, dtype=x.dtype).reshape(-1, *[1] * (x.dim() - 1))


class SDE(ABC):
    """A linear forward SDE; subclasses give ``sde``, the kernel's ``scale`` and ``std``, and the
    prior's ``prior_std`` (the prior is ``N(0, prior_std² I)``)."""

    prior_std: float = 1.0

    @abstractmethod
    def sde(self, x: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The drift ``f(x, t)`` (like ``x``) and the diffusion ``g(t)`` (like ``t``)."""

    @abstractmethod
    def scale(self, t: torch.Tensor) -> torch.Tensor:
        """The mean coefficient of the kernel: ``E[x_t | x_0] = scale(t) x_0``."""

    @abstractmethod
    def std(self, t: torch.Tensor) -> torch.Tensor:
        """The kernel's standard deviation per coordinate."""

    def marginal_prob(self, x: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean ``scale(t) x_0`` and std of ``x_t`` given ``x_0 = x``."""
        return per_example(self.scale(t), x) * x, self.std(t)

    def prior_sampling(self, shape: tuple[int, ...], device: torch.device | str = "cpu") -> torch.Tensor:
        """``N(0, prior_std² I)`` draws, ``shape = (B, *shape)``."""
        return self.prior_std * torch.randn(shape, device=device)

    def prior_logp(self, z: torch.Tensor) -> torch.Tensor:
        """``log N(z; 0, prior_std² I)`` in nats, ``(B,)``."""
        variance = self.prior_std**2
        return -0.5 * z[0].numel() * math.log(2 * math.pi * variance) - (z.flatten(1) ** 2).sum(1) / (2 * variance)

    def discretize(self, x: torch.Tensor, t: torch.Tensor, dt: float) -> tuple[torch.Tensor, torch.Tensor]:
        """The forward step ``x_t = x_{t−dt} + f_i + G_i z`` read off the kernels: ``x_t | x_{t−dt}``
        is ``N(a x_{t−dt}, G²)`` with ``a = scale(t) / scale(t − dt)``, ``G² = std(t)² − a² std(t − dt)²``.
        Returns ``f_i = (a − 1) x`` and ``G_i`` (like ``t``)."""
        a = self.scale(t) / self.scale(t - dt)
        g2 = self.std(t) ** 2 - a**2 * self.std(t - dt) ** 2
        return (per_example(a, x) - 1) * x, g2.clamp_min(0).sqrt()

    def reverse_drift(self, x: torch.Tensor, t: torch.Tensor, score: torch.Tensor,
                      probability_flow: bool = False) -> torch.Tensor:
        """``f − g² s`` of the reverse SDE, or ``f − ½ g² s`` of the probability-flow ODE."""
        drift, diffusion = self.sde(x, t)
        weight = 0.5 if probability_flow else 1.0
        return drift - weight * per_example(diffusion**2, x) * score


class VESDE(SDE):
    """Variance exploding: ``dx = σ(t) √(2 log(σ_max/σ_min)) dw``, ``σ(t) = σ_min (σ_max/σ_min)^t``."""

    def __init__(self, sigma_min: float, sigma_max: float):
        self.sigma_min, self.sigma_max = sigma_min, sigma_max
        self.prior_std = sigma_max
        self.log_ratio = math.log(sigma_max / sigma_min)

    def sde(self, x: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.zeros_like(x), self.std(t) * math.sqrt(2 * self.log_ratio)

    def scale(self, t: torch.Tensor) -> torch.Tensor:
        return torch.ones_like(t)

    def std(self, t: torch.Tensor) -> torch.Tensor:
        return self.sigma_min * torch.exp(t * self.log_ratio)


class VPSDE(SDE):
    """Variance preserving: ``dx = −½ β(t) x dt + √β(t) dw``, ``β(t) = β_min + t (β_max − β_min)``."""

    def __init__(self, beta_min: float, beta_max: float):
        self.beta_min, self.beta_max = beta_min, beta_max

    def beta(self, t: torch.Tensor) -> torch.Tensor:
        return self.beta_min + t * (self.beta_max - self.beta_min)

    def sde(self, x: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return -0.5 * per_example(self.beta(t), x) * x, self.beta(t).sqrt()

    def log_scale(self, t: torch.Tensor) -> torch.Tensor:
        """``−½ ∫_0^t β = −¼ t² (β_max − β_min) − ½ t β_min``."""
        return -0.25 * t**2 * (self.beta_max - self.beta_min) - 0.5 * t * self.beta_min

    def scale(self, t: torch.Tensor) -> torch.Tensor:
        return self.log_scale(t).exp()

    def std(self, t: torch.Tensor) -> torch.Tensor:
        return (-torch.expm1(2 * self.log_scale(t))).sqrt()  # √(1 − e^{2 log scale}), exact near t = 0
