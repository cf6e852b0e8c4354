"""The forward process of a DDPM, its posterior, and the two reverse samplers, as pure functions
on tensors (Lecture 16; step indices as in ``schedules.py``: index ``t`` is the paper's ``t + 1``).

Forward process (Ho et al. 2020, eqs. 2 and 4): ``q(x_t | x_{t−1}) = N(√(1 − β_t) x_{t−1}, β_t I)``,
whose ``t``-fold composition is ``q(x_t | x_0) = N(√ᾱ_t x_0, (1 − ᾱ_t) I)``, so
``x_t = √ᾱ_t x_0 + √(1 − ᾱ_t) ε`` and a network ``ε_θ(x_t, t)`` predicting ``ε`` predicts
``x̂_0 = (x_t − √(1 − ᾱ_t) ε_θ) / √ᾱ_t``.

Posterior (eqs. 6–7): ``q(x_{t−1} | x_t, x_0) = N(μ̃_t, β̃_t I)`` with
``μ̃_t = √ᾱ_{t−1} β_t / (1 − ᾱ_t) · x_0 + √α_t (1 − ᾱ_{t−1}) / (1 − ᾱ_t) · x_t``.

**Ancestral sampling** (Algorithm 2): from ``x_T ~ N(0, I)``, ``x_{t−1} ~ N(μ̃_t(x̂_0, x_t), σ_t² I)``
with ``σ_t² = β_t`` ("fixed large", the paper's CIFAR-10 choice) or ``β̃_t`` ("fixed small"), the
two extremes the paper shows to give similar samples (§3.2). ``x̂_0`` is clipped to the data's
range first when it has one (Ho et al.'s ``clip_denoised``); with ``x̂_0`` unclipped ``μ̃_t(x̂_0,
x_t)`` is eq. 11's ``(x_t − β_t / √(1 − ᾱ_t) ε_θ) / √α_t``. The last step adds no noise: the
sample is ``μ_θ(x_1, 1)`` (§3.3, "we display μ_θ(x_1, 1) noiselessly").

**DDIM** (Song et al. 2021, eq. 12), from step ``t`` to an earlier ``s`` of a subsequence:
``x_s = √ᾱ_s x̂_0 + √(1 − ᾱ_s − σ²) ε_θ + σ z`` with ``σ = η √((1 − ᾱ_s) / (1 − ᾱ_t))
√(1 − ᾱ_t / ᾱ_s)`` (eq. 16): ``η = 0`` is deterministic, ``η = 1`` over every step is ancestral
sampling with ``β̃_t``. After the last step ``s = −1`` with ``ᾱ = 1``, so the sample is ``x̂_0``.
When ``x̂_0`` is clipped, ``ε`` is re-derived from the clipped ``x̂_0`` so that the two terms stay
consistent (as ``improved-diffusion``'s ``ddim_sample``; diffusers' ``use_clipped_model_output``).
Subsequences: ``uniform`` ``0, k, 2k, …`` with ``k = T // S`` (the paper's, and diffusers'
"leading"), or ``quadratic`` ``⌊(i √(0.8 T) / (S − 1))²⌋`` (the paper's CIFAR-10 choice, §D.2).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from .schedules import Schedule, at, batchwise

NoisePrediction = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
"""``ε_θ``: ``x_t`` ``(B, ...)`` and step indices ``t`` ``(B,)`` long → predicted noise ``(B, ...)``."""

Clip = tuple[float, float] | None
"""The range ``x̂_0`` is clipped to, or None (data without bounds)."""

SPACINGS = ("uniform", "quadratic")
QUADRATIC_REACH = 0.8  # Song et al.'s quadratic subsequence stops at 0.8 T (their §D.2)


def q_sample(s: Schedule, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """``x_t = √ᾱ_t x_0 + √(1 − ᾱ_t) ε``, a draw of ``q(x_t | x_0)``."""
    abar = at(s.alphas_cumprod, t, x0)
    return abar.sqrt() * x0 + (1 - abar).sqrt() * noise


def predict_x0(s: Schedule, xt: torch.Tensor, t: torch.Tensor, eps: torch.Tensor, clip: Clip) -> torch.Tensor:
    """``x̂_0 = (x_t − √(1 − ᾱ_t) ε) / √ᾱ_t``, clipped to ``clip`` when given."""
    abar = at(s.alphas_cumprod, t, xt)
    x0 = (xt - (1 - abar).sqrt() * eps) / abar.sqrt()
    return x0 if clip is None else x0.clamp(*clip)


def eps_from_x0(s: Schedule, xt: torch.Tensor, t: torch.Tensor, x0: torch.Tensor) -> torch.Tensor:
    """The noise ``ε = (x_t − √ᾱ_t x_0) / √(1 − ᾱ_t)`` that takes ``x_0`` to ``x_t``."""
    abar = at(s.alphas_cumprod, t, xt)
    return (xt - abar.sqrt() * x0) / (1 - abar).sqrt()


def posterior_mean(s: Schedule, x0: torch.Tensor, xt: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """``μ̃_t(x_0, x_t)``, the mean of ``q(x_{t−1} | x_t, x_0)`` (its variance is ``s.posterior_variance``)."""
    abar, abar_prev, beta = (at(v, t, xt) for v in (s.alphas_cumprod, s.alphas_cumprod_prev, s.betas))
    return (abar_prev.sqrt() * beta * x0 + (1 - beta).sqrt() * (1 - abar_prev) * xt) / (1 - abar)


def reverse_variance(s: Schedule, variance: str) -> torch.Tensor:
    """``σ_t²`` ``(T,)`` of ``p_θ(x_{t−1} | x_t)``: ``β_t`` for ``large``, ``β̃_t`` for ``small``."""
    return s.betas if variance == "large" else s.posterior_variance


def ancestral_step(s: Schedule, xt: torch.Tensor, t: torch.Tensor, eps: torch.Tensor, noise: torch.Tensor,
                   variance: str, clip: Clip) -> torch.Tensor:
    """One step of Algorithm 2: ``μ̃_t(x̂_0, x_t) + σ_t z``, no noise where ``t`` is the first step."""
    mean = posterior_mean(s, predict_x0(s, xt, t, eps, clip), xt, t)
    sigma = at(reverse_variance(s, variance), t, xt).sqrt() * batchwise(t > 0, xt)
    return mean + sigma * noise


def alphas_cumprod_or_one(s: Schedule, t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """``ᾱ_t``, or 1 where ``t = −1`` (before the first step)."""
    started = batchwise(t >= 0, like)  # 1 from the first step on, 0 before it
    return started * at(s.alphas_cumprod, t.clamp(min=0), like) + (1 - started)


def ddim_sigma(s: Schedule, t: torch.Tensor, t_prev: torch.Tensor, eta: float, like: torch.Tensor) -> torch.Tensor:
    """Song et al.'s ``σ = η √((1 − ᾱ_s)/(1 − ᾱ_t)) √(1 − ᾱ_t/ᾱ_s)`` from step ``t`` to ``s = t_prev``."""
    abar, abar_prev = at(s.alphas_cumprod, t, like), alphas_cumprod_or_one(s, t_prev, like)
    return eta * ((1 - abar_prev) / (1 - abar) * (1 - abar / abar_prev)).sqrt()


def ddim_step(s: Schedule, xt: torch.Tensor, t: torch.Tensor, t_prev: torch.Tensor, eps: torch.Tensor, eta: float,
              noise: torch.Tensor | None, clip: Clip) -> torch.Tensor:
    """Song et al.'s eq. 12 from ``t`` to ``t_prev`` (−1: the end); ``noise`` is needed when ``η > 0``."""
    x0 = predict_x0(s, xt, t, eps, clip)
    if clip is not None:
        eps = eps_from_x0(s, xt, t, x0)
    abar_prev = alphas_cumprod_or_one(s, t_prev, xt)
    sigma = ddim_sigma(s, t, t_prev, eta, xt)
    x = abar_prev.sqrt() * x0 + (1 - abar_prev - sigma**2).clamp(min=0).sqrt() * eps
    return x if eta == 0 else x + sigma * noise  # type: ignore[operator]


def ddim_timesteps(timesteps: int, steps: int, spacing: str) -> torch.Tensor:
    """The subsequence DDIM visits, latest first, ``(S',)`` long. ``quadratic`` rounds down as the
    paper's code does, which repeats early steps when ``S`` exceeds about ``√(0.8 T)``; a repeated
    step is a no-op (``ᾱ_s = ᾱ_t``), so repeats are dropped and ``S' ≤ S`` steps are taken."""
    if spacing == "uniform":
        ts = torch.arange(steps) * (timesteps // steps)
    else:
        ts = (torch.linspace(0, (QUADRATIC_REACH * timesteps) ** 0.5, steps, dtype=torch.float64) ** 2).long()
    return torch.unique(ts).flip(0)


def ancestral_sample(predict: NoisePrediction, s: Schedule, x: torch.Tensor, variance: str, clip: Clip) -> torch.Tensor:
    """Algorithm 2 from ``x = x_T`` through all ``T`` steps; returns ``x_0``."""
    for i in reversed(range(len(s))):
        t = torch.full((len(x),), i, dtype=torch.long, device=x.device)
        x = ancestral_step(s, x, t, predict(x, t), torch.randn_like(x), variance, clip)
    return x


def ddim_sample(predict: NoisePrediction, s: Schedule, x: torch.Tensor, timesteps: torch.Tensor, eta: float,
                clip: Clip) -> torch.Tensor:
    """DDIM from ``x = x_T`` along ``timesteps`` (latest first) to the end; returns ``x_0``. Draws
    no random numbers when ``η = 0``."""
    previous = torch.cat([timesteps[1:], torch.tensor([-1])])
    for i, j in zip(timesteps.tolist(), previous.tolist()):
        t, t_prev = (torch.full((len(x),), k, dtype=torch.long, device=x.device) for k in (i, j))
        noise = torch.randn_like(x) if eta > 0 else None
        x = ddim_step(s, x, t, t_prev, predict(x, t), eta, noise, clip)
    return x
