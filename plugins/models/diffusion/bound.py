"""The variational bound of a DDPM (Sohl-Dickstein et al. 2015; Ho et al. 2020, eq. 5), in nats:

    −log p_θ(x_0) ≤ L = L_T + Σ_{t=2..T} L_{t−1} + L_0,
    L_T     = KL(q(x_T | x_0) ‖ N(0, I)),
    L_{t−1} = E_q KL(q(x_{t−1} | x_t, x_0) ‖ p_θ(x_{t−1} | x_t)),   both Gaussian (``normal_kl``),
    L_0     = −E_q log p_θ(x_0 | x_1).

``p_θ(x_{t−1} | x_t) = N(μ̃_t(x̂_0, x_t), σ_t²)`` is the sampler's own reverse step (``process.py``):
the same variance choice and the same clipping of ``x̂_0``, so the bound is that of the model that
is sampled (Ho et al.'s ``calc_bpd_loop`` clips too). Each ``L_{t−1}`` is taken at one draw
``x_t ~ q(x_t | x_0)``, as in ``calc_bpd_loop``: an unbiased estimate of the expectation.

Terms: all ``T − 1`` KL terms, or ``K`` of them drawn uniformly without replacement for each
example, times ``(T − 1) / K`` — unbiased for their sum. ``L_T`` and ``L_0`` are always computed
(``L_0`` is most of the bound on data with levels; sampling it would only add variance).

Decoder ``p_θ(x_0 | x_1)``, mean ``μ_θ(x_1, 1) = x̂_0`` (with ``ᾱ_0 = 1``, ``μ̃_1(x̂_0, x_1) = x̂_0``),
variance ``β̃_2`` for both variance choices (``β̃_1 = 0``; Ho et al.'s ``posterior_log_variance_clipped``
and their ``fixedlarge`` both use it at the first step):

* data with ``L`` levels, seen in ``[−1, 1]`` at ``−1 + 2k / (L − 1)``: the discretised Gaussian of
  eq. 13, the mass of the bin ``x ± 1 / (L − 1)``, the outer bins reaching ``±∞``, a mass in nats;
* other data: the Gaussian density, in nats.

``log(Φ(b) − Φ(a))`` is computed from ``log Φ`` on the side of the tail (``log_normal_mass``),
exact to the last digits where Ho et al.'s ``log(max(Φ(b) − Φ(a), 1e-12))`` floors a bin's mass
at ``1e-12`` — a floor that would raise the bound above the model's true likelihood.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from .process import (
    Clip,
    NoisePrediction,
    posterior_mean,
    predict_x0,
    q_sample,
    reverse_variance,
)
from .schedules import Schedule, at

Decoder = Callable[[torch.Tensor, torch.Tensor, float], torch.Tensor]
"""``log p_θ(x_0 | x_1)`` ``(B,)`` in nats from ``x_0``, the decoder's mean and its variance."""


def normal_kl(mean1: torch.Tensor, var1: torch.Tensor, mean2: torch.Tensor, var2: torch.Tensor) -> torch.Tensor:
    """``KL(N(mean1, var1 I) ‖ N(mean2, var2 I))`` summed over all but the batch dimension, ``(B,)``, in float64."""
    mean1, var1, mean2, var2 = (v.double() for v in (mean1, var1, mean2, var2))
    per_dim = 0.5 * (var2.log() - var1.log() + (var1 + (mean1 - mean2) ** 2) / var2 - 1)
    return per_dim.expand_as(mean1 + mean2).flatten(1).sum(1)


def prior_kl(s: Schedule, x0: torch.Tensor) -> torch.Tensor:
    """``L_T = KL(q(x_T | x_0) ‖ N(0, I))`` ``(B,)``."""
    t = torch.full((len(x0),), len(s) - 1, dtype=torch.long, device=x0.device)
    abar = at(s.alphas_cumprod, t, x0.double())
    return normal_kl(abar.sqrt() * x0, 1 - abar, torch.zeros_like(abar), torch.ones_like(abar))


def log_normal_mass(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``log(Φ(b) − Φ(a))`` for ``a < b`` (either may be infinite), from ``log Φ`` of the two
    standardised ends on the side of the tail, where neither rounds to 1."""
    flip = (a + b) > 0  # the interval lies mostly right of 0: Φ(b) − Φ(a) = Φ(−a) − Φ(−b)
    low, high = torch.where(flip, -b, a), torch.where(flip, -a, b)
    log_high = torch.special.log_ndtr(high)
    return log_high + torch.log(-torch.expm1(torch.special.log_ndtr(low) - log_high))


def discretised_gaussian_log_likelihood(x: torch.Tensor, mean: torch.Tensor, std: torch.Tensor | float,
                                        levels: int) -> torch.Tensor:
    """Ho et al.'s eq. 13 for ``x`` at the levels ``−1 + 2k / (L − 1)`` of ``[−1, 1]``: the
    ``N(mean, std²)`` mass of each value's bin, summed in log over all but the batch dimension, ``(B,)``."""
    x, mean = x.double(), mean.double()
    half = 1 / (levels - 1)  # half a bin
    k = torch.round((x + 1) / 2 * (levels - 1))
    a = torch.where(k <= 0, -math.inf, (x - half - mean) / std)
    b = torch.where(k >= levels - 1, math.inf, (x + half - mean) / std)
    return log_normal_mass(a, b).flatten(1).sum(1)


def kl_term(predict: NoisePrediction, s: Schedule, x0: torch.Tensor, t: torch.Tensor, variance: str,
            clip: Clip) -> torch.Tensor:
    """``L_{t−1}`` ``(B,)`` at one draw of ``x_t``, for step indices ``t`` ``(B,)`` ≥ 1."""
    xt = q_sample(s, x0, t, torch.randn_like(x0))
    true_mean = posterior_mean(s, x0, xt, t)
    model_mean = posterior_mean(s, predict_x0(s, xt, t, predict(xt, t), clip), xt, t)
    return normal_kl(true_mean, at(s.posterior_variance, t, x0.double()), model_mean,
                     at(reverse_variance(s, variance), t, x0.double()))


def kl_terms(predict: NoisePrediction, s: Schedule, x0: torch.Tensor, variance: str, clip: Clip,
             sampled: int) -> torch.Tensor:
    """``Σ_{t=2..T} L_{t−1}`` ``(B,)``: every term (``sampled = 0``), or ``(T − 1) / K`` times ``K``
    terms drawn without replacement for each example."""
    b, device = len(x0), x0.device
    if not sampled:
        steps = (torch.full((b,), i, dtype=torch.long, device=device) for i in range(1, len(s)))
        return sum(kl_term(predict, s, x0, t, variance, clip) for t in steps)  # type: ignore[return-value]
    chosen = 1 + torch.rand(b, len(s) - 1).argsort(1)[:, :sampled].to(device)  # (B, K) indices 1 … T − 1
    total = sum(kl_term(predict, s, x0, chosen[:, k], variance, clip) for k in range(sampled))
    return total * (len(s) - 1) / sampled  # type: ignore[return-value]


def decoder_term(predict: NoisePrediction, s: Schedule, x0: torch.Tensor, clip: Clip, decoder: Decoder) -> torch.Tensor:
    """``log p_θ(x_0 | x_1)`` ``(B,)`` at one draw of ``x_1``, variance ``β̃_2`` (module docstring)."""
    t = torch.zeros(len(x0), dtype=torch.long, device=x0.device)
    x1 = q_sample(s, x0, t, torch.randn_like(x0))
    mean = posterior_mean(s, predict_x0(s, x1, t, predict(x1, t), clip), x1, t)
    return decoder(x0, mean, s.posterior_variance[1].item())


def variational_bound(predict: NoisePrediction, s: Schedule, x0: torch.Tensor, variance: str, clip: Clip,
                      decoder: Decoder, sampled: int) -> dict[str, torch.Tensor]:
    """``{"elbo": −L, "reconstruction": −L_0, "kl": L_T + Σ L_{t−1}}``, each ``(B,)`` float64 nats."""
    reconstruction = decoder_term(predict, s, x0, clip, decoder)
    kl = prior_kl(s, x0) + kl_terms(predict, s, x0, variance, clip, sampled)
    return {"elbo": reconstruction - kl, "reconstruction": reconstruction, "kl": kl}
