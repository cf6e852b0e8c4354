"""Markov chains on an unnormalised density, and annealed importance sampling of its normaliser.

Shared by the families that sample by gradients of a log-density: energy-based models pass
``log f(x) = -E(x)``, score-based models their score network. Every function is pure: it takes
callables and starting points, returns the chains' final states and what they cost.

* :func:`langevin`, the unadjusted Langevin algorithm (ULA; Roberts & Tweedie 1996, the sampler of
  Welling & Teh 2011 and Du & Mordatch 2019):

      x ← x + ε ∇ log f(x) + σ ξ,   ξ ~ N(0, I),   σ = √(2ε) (proper Langevin).

  A discretised diffusion whose stationary law is p only as ε → 0: its bias is O(ε) (on a Gaussian
  it inflates the covariance). One gradient per step, no density value needed: it takes a score.
  With σ < √(2ε) it samples a tempered p^(2ε/σ²), as IGEBM's chains do. With ``bounds`` the states
  are clamped into the box after each step (IGEBM, for images in [0, 1]).
* :func:`mala`, Metropolis-adjusted Langevin (Besag 1994; Roberts & Tweedie 1996): the same move as
  a proposal x', accepted with probability

      min(1, f(x') q(x | x') / (f(x) q(x' | x))),   q(x' | x) = N(x'; x + ε ∇ log f(x), 2ε I),

  so p is invariant exactly at any ε; the price is a density value beside each gradient and the
  rejected moves. Lecture 12: the correction removes ULA's O(ε) bias; the acceptance rate says how
  much of the chain's motion it costs (about 0.57 is optimal in high dimension, Roberts &
  Rosenthal 1998). With ``bounds`` a proposal outside the box is rejected: the chain then targets
  p restricted to the box, exactly.
* :func:`ais`, annealed importance sampling (Neal 2001) of ``log Z = log ∫ f``: chains start from a
  normalised base q and move through the geometric path

      log π_β(x) = (1 − β) log q(x) + β log f(x),   0 = β_0 < β_1 < … < β_K = 1,

  each by one transition that leaves π_β invariant (MALA; ULA only approximately). The weights

      log w = Σ_k (β_k − β_{k−1}) (log f(x_{k−1}) − log q(x_{k−1}))

  are unbiased for Z: ``log Z ≈ log mean w`` (a stochastic lower bound in expectation, by Jensen).
  The β_k follow the sigmoid schedule of Grosse et al. (2015, "Sandwiching the marginal
  likelihood"), dense at both ends where π_β changes fastest. The MALA step size adapts between
  intermediate distributions towards ``target_acceptance`` (as in Wu et al. 2017, "On the
  quantitative analysis of decoder-based generative models"); it depends on the chains' past,
  a bias negligible with many chains.

Shapes: states are ``(B, *shape)``, log-densities ``(B,)``. Gradient evaluations are counted per
chain: one forward and backward pass of the network at one state.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import torch

LogDensity = Callable[[torch.Tensor], torch.Tensor]
"""``x (B, *shape)`` → ``log f(x)`` ``(B,)``, unnormalised, differentiable in ``x``."""

Score = Callable[[torch.Tensor], torch.Tensor]
"""``x (B, *shape)`` → ``∇_x log f(x)``, shaped like ``x``."""

Bounds = tuple[float, float] | None
"""A box ``[low, high]`` for every coordinate that the chain must stay in, or None."""

SIGMOID_SCHEDULE_SHARPNESS = 4.0  # δ of Grosse et al. (2015): the schedule's logistic spans [-δ, δ]
STEP_ADAPTATION = 1.05  # factor by which AIS's MALA step grows or shrinks per intermediate distribution


class Base(Protocol):
    """A normalised, tractable density to start AIS from."""

    def sample(self, n: int) -> torch.Tensor: ...

    def log_prob(self, x: torch.Tensor) -> torch.Tensor: ...


@dataclass(frozen=True)
class ChainStats:
    """What a run of chains cost and did: ``gradient_evals`` per chain, the MALA acceptance rate
    (None for ULA), the mean ``‖∇ log f‖`` over chains and steps, the last step size."""

    steps: int
    step_size: float
    gradient_evals: int
    acceptance_rate: float | None
    grad_norm: float


@dataclass(frozen=True)
class AISResult:
    """``log_z`` in nats, each chain's ``log_weights`` ``(chains,)``, their effective sample size
    ``(Σw)² / Σw²``, the standard error of ``log_z`` by the delta method, and the chains' stats."""

    log_z: float
    log_weights: torch.Tensor
    ess: float
    log_z_sem: float
    stats: ChainStats


# ---- gradients --------------------------------------------------------------------------------------


def value_and_grad(log_density: LogDensity, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``log f(x)`` ``(B,)`` and ``∇_x log f(x)``, detached; works under ``torch.no_grad()``."""
    with torch.enable_grad():
        x = x.detach().requires_grad_(True)
        value = log_density(x)
        if not value.requires_grad:  # a constant, e.g. a uniform base's log-density
            return value.detach(), torch.zeros_like(x)
        (grad,) = torch.autograd.grad(value.sum(), x, allow_unused=True)
    return value.detach(), torch.zeros_like(x) if grad is None else grad


def score_of(log_density: LogDensity) -> Score:
    """The score ``∇_x log f`` of a log-density, by autograd."""
    return lambda x: value_and_grad(log_density, x)[1]


def per_chain_norm(g: torch.Tensor) -> torch.Tensor:
    """``‖g‖`` per chain, ``(B,)``."""
    return g.flatten(1).norm(dim=1)


def inside(x: torch.Tensor, bounds: Bounds) -> torch.Tensor:
    """Whether each state lies in the box, ``(B,)`` bool (all True without bounds)."""
    if bounds is None:
        return torch.ones(len(x), dtype=torch.bool, device=x.device)
    return ((x >= bounds[0]) & (x <= bounds[1])).flatten(1).all(1)


# ---- unadjusted Langevin ----------------------------------------------------------------------------


def langevin(score: Score, x: torch.Tensor, steps: int, step_size: float, noise_scale: float | None = None,
             bounds: Bounds = None) -> tuple[torch.Tensor, ChainStats]:
    """``steps`` ULA steps from ``x``; ``noise_scale`` None means σ = √(2ε). See the module docstring."""
    sigma = math.sqrt(2 * step_size) if noise_scale is None else noise_scale
    x, norms = x.detach().clone(), torch.zeros((), device=x.device)
    for _ in range(steps):
        g = score(x)
        norms = norms + per_chain_norm(g).mean()
        x = x + step_size * g + sigma * torch.randn_like(x)
        if bounds is not None:
            x = x.clamp(*bounds)
    return x, ChainStats(steps, step_size, steps, None, norms.item() / max(steps, 1))


# ---- Metropolis-adjusted Langevin -------------------------------------------------------------------
# A target is a weighted sum of log-densities: one for plain MALA, base and f on AIS's path. Each part's
# value and gradient are kept per state, so moving to the next β needs no new network evaluation.


def evaluate_parts(parts: Sequence[LogDensity], x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Every part's value ``(P, B)`` and gradient ``(P, B, *shape)`` at ``x``."""
    values, grads = zip(*(value_and_grad(part, x) for part in parts))
    return torch.stack(values), torch.stack(grads)


def combine(weights: Sequence[float], stacked: torch.Tensor) -> torch.Tensor:
    """``Σ_p w_p stacked[p]``."""
    return sum(w * s for w, s in zip(weights, stacked))  # type: ignore[return-value]


def log_proposal(to: torch.Tensor, start: torch.Tensor, grad: torch.Tensor, step_size: float) -> torch.Tensor:
    """``log q(to | start)`` up to a constant that cancels: ``−‖to − start − ε g‖² / 4ε``, ``(B,)``."""
    return -((to - start - step_size * grad) ** 2).flatten(1).sum(1) / (4 * step_size)


def mala_step(parts: Sequence[LogDensity], weights: Sequence[float], x: torch.Tensor, values: torch.Tensor,
              grads: torch.Tensor, step_size: float, bounds: Bounds
              ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """One MALA step on ``Σ w_p log f_p``: the new states, their parts' values and gradients, and
    which chains accepted, ``(B,)`` bool."""
    grad = combine(weights, grads)
    proposal = x + step_size * grad + math.sqrt(2 * step_size) * torch.randn_like(x)
    new_values, new_grads = evaluate_parts(parts, proposal)
    log_ratio = (combine(weights, new_values) - combine(weights, values)
                 + log_proposal(x, proposal, combine(weights, new_grads), step_size)
                 - log_proposal(proposal, x, grad, step_size))
    accept = inside(proposal, bounds) & (torch.rand_like(log_ratio).log() < log_ratio)
    keep = accept.view(-1, *[1] * (x.dim() - 1))
    return (torch.where(keep, proposal, x), torch.where(accept, new_values, values),
            torch.where(keep.unsqueeze(0), new_grads, grads), accept)


def mala(log_density: LogDensity, x: torch.Tensor, steps: int, step_size: float, bounds: Bounds = None
         ) -> tuple[torch.Tensor, ChainStats]:
    """``steps`` MALA steps from ``x`` (inside ``bounds`` when given); see the module docstring."""
    parts, weights = (log_density,), (1.0,)
    values, grads = evaluate_parts(parts, x)
    accepted, norms = torch.zeros((), device=x.device), torch.zeros((), device=x.device)
    for _ in range(steps):
        norms = norms + per_chain_norm(grads[0]).mean()
        x, values, grads, accept = mala_step(parts, weights, x, values, grads, step_size, bounds)
        accepted = accepted + accept.float().mean()
    rate = accepted.item() / steps if steps else None
    return x, ChainStats(steps, step_size, steps + 1, rate, norms.item() / max(steps, 1))


# ---- annealed importance sampling -------------------------------------------------------------------


def sigmoid_schedule(steps: int, sharpness: float = SIGMOID_SCHEDULE_SHARPNESS) -> list[float]:
    """β_0 = 0 < … < β_K = 1, ``K = steps``: a logistic over [−δ, δ], rescaled to [0, 1]."""
    t = torch.sigmoid(torch.linspace(-sharpness, sharpness, steps + 1, dtype=torch.float64))
    return ((t - t[0]) / (t[-1] - t[0])).tolist()


def weight_summary(log_w: torch.Tensor) -> tuple[float, float, float]:
    """``log mean w``, the effective sample size and the delta-method standard error of ``log mean w``."""
    log_w = log_w.double()
    w = (log_w - log_w.max()).exp()
    log_z = (torch.logsumexp(log_w, 0) - math.log(len(log_w))).item()
    ess = (w.sum() ** 2 / (w**2).sum()).item()
    sem = (w.std() / (w.mean() * math.sqrt(len(w)))).item() if len(w) > 1 else math.inf
    return log_z, ess, sem


def ais(log_density: LogDensity, base: Base, chains: int, steps: int, step_size: float, transition: str = "mala",
        bounds: Bounds = None, target_acceptance: float = 0.65) -> AISResult:
    """``log Z`` of ``f`` by AIS from ``base`` with ``chains`` chains and ``steps`` intermediate
    distributions, one ``transition`` ("mala" or "langevin") each; see the module docstring."""
    if transition not in ("mala", "langevin"):
        raise ValueError(f"transition must be 'mala' or 'langevin', got {transition!r}")
    betas, parts = sigmoid_schedule(steps), (base.log_prob, log_density)
    x = base.sample(chains)
    values, grads = evaluate_parts(parts, x)
    log_w = torch.zeros(chains, dtype=torch.float64, device=x.device)
    accepted, norms = torch.zeros((), device=x.device), torch.zeros((), device=x.device)
    for previous, beta in itertools.pairwise(betas):
        log_w += (beta - previous) * (values[1] - values[0]).double()
        weights = (1 - beta, beta)
        norms = norms + per_chain_norm(combine(weights, grads)).mean()
        if transition == "langevin":
            x = x + step_size * combine(weights, grads) + math.sqrt(2 * step_size) * torch.randn_like(x)
            x = x if bounds is None else x.clamp(*bounds)
            values, grads = evaluate_parts(parts, x)
            continue
        x, values, grads, accept = mala_step(parts, weights, x, values, grads, step_size, bounds)
        rate = accept.float().mean()
        accepted = accepted + rate
        step_size *= STEP_ADAPTATION if rate.item() > target_acceptance else 1 / STEP_ADAPTATION
    log_z, ess, sem = weight_summary(log_w)
    rate = accepted.item() / steps if transition == "mala" and steps else None
    stats = ChainStats(steps, step_size, steps + 1, rate, norms.item() / max(steps, 1))
    return AISResult(log_z, log_w, ess, sem, stats)
