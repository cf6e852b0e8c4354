"""Samplers driven by a score, as pure functions: each takes a score callable and starting points
and returns samples and how many score evaluations each sample cost. Written once for any model
that exposes ``s(x, σ)`` or ``s(x, t)`` (after score_sde_pytorch's ``sampling.py``).

* :func:`annealed_langevin` (Song & Ermon 2019, Algorithm 1): ``T`` unadjusted Langevin steps at
  each of the noise levels ``σ_1 > … > σ_L`` in turn, of size ``α_i = ε σ_i² / σ_L²`` so that the
  signal-to-noise ratio of each step is the same at every level (their §4.3), from
  :func:`benchbench.mcmc.langevin`. Large noise first mixes between modes in proportion to their
  weight; each level starts where the last one left off (their Figure 3: without annealing,
  Langevin from noise finds the modes but not their weights).
* Predictors for the reverse SDE on the grid ``T = t_0 > t_1 > … > t_N = eps``, ``Δ = (T − eps)/N``
  (Song et al. 2021, §4.2): :func:`euler_maruyama_step`, ``x ← x − [f − g² s] Δ + g √Δ z``, and
  :func:`reverse_diffusion_step`, ``x ← x − f_i + G_i² s + G_i z`` with the forward chain's
  ``f_i, G_i`` (:meth:`SDE.discretize`; SMLD's and DDPM's ancestral steps).
* :func:`langevin_corrector_step` (their Algorithm 5): a Langevin step at ``t`` whose size makes
  ``‖ε s‖ / ‖√(2ε) z‖`` equal the signal-to-noise ratio ``snr``: ``ε = 2 a (snr ‖z‖ / ‖s‖)²``, the
  norms averaged over the batch as in their code, ``a`` the forward step's ``1 − β_i`` (1 for VE).
* :func:`reverse_sde_sample`: predictor-corrector sampling, ``corrector_steps`` corrector steps
  before each predictor step (0: the predictor alone).
* :func:`probability_flow_sample`: the probability-flow ODE from the prior at ``T`` to ``eps`` by
  scipy's ``solve_ivp`` (RK45 by default, as Song et al.); the cost is the solver's ``nfev``.
* :func:`tweedie`: the final denoising step ``E[x_0 | x_t] = (x_t + std² ∇ log p_t(x_t)) / scale``
  (Tweedie's formula, Efron 2011; NCSNv2's ``x + σ_L² s(x, σ_L)``, Jolicoeur-Martineau et al.
  2021, which removes the last level's noise that Langevin leaves in).

Shapes: states ``(B, *shape)``; times and noise levels are 0-d float64 tensors, one per batch.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from scipy.integrate import solve_ivp

from benchbench import mcmc

from .sdes import SDE, T_END, per_example

Score = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
"""``(x (B, *shape), σ or t (0-d))`` → ``s(x)`` shaped like ``x``."""

PREDICTORS = ("reverse-diffusion", "euler-maruyama")


def tweedie(x: torch.Tensor, score: torch.Tensor, scale: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """``(x + std² s) / scale``: the posterior mean of the clean point given ``x ~ N(scale x_0, std²)``."""
    return (x + per_example(std**2, x) * score) / per_example(scale, x)


# ---- annealed Langevin dynamics ---------------------------------------------------------------------


def annealed_langevin(score: Score, x: torch.Tensor, sigmas: torch.Tensor, steps: int, step_size: float,
                      denoise: bool) -> tuple[torch.Tensor, int]:
    """``steps`` Langevin steps of size ``step_size σ_i² / σ_L²`` at each level of ``sigmas``
    (decreasing), then the Tweedie step at ``σ_L`` when ``denoise``. Returns the samples and the
    score evaluations per sample, ``L T (+ 1)``."""
    smallest = sigmas[-1]
    for sigma in sigmas:
        alpha = step_size * float(sigma**2 / smallest**2)
        x, _ = mcmc.langevin(lambda y, sigma=sigma: score(y, sigma), x, steps, alpha)
    evals = len(sigmas) * steps
    if denoise:
        x, evals = tweedie(x, score(x, smallest), torch.ones_like(smallest), smallest), evals + 1
    return x, evals


# ---- the reverse SDE ----------------------------------------------------------------------------------


def time_grid(steps: int, eps: float) -> torch.Tensor:
    """``T = t_0 > … > t_N = eps``, ``(N + 1,)`` float64."""
    return torch.linspace(T_END, eps, steps + 1, dtype=torch.float64)


def euler_maruyama_step(sde: SDE, score: Score, x: torch.Tensor, t: torch.Tensor, dt: float) -> torch.Tensor:
    """``x − [f − g² s] dt + g √dt z``: Euler-Maruyama for the reverse SDE, from ``t`` to ``t − dt``."""
    drift = sde.reverse_drift(x, t, score(x, t))
    _, diffusion = sde.sde(x, t)
    return x - drift * dt + per_example(diffusion * dt**0.5, x) * torch.randn_like(x)


def reverse_diffusion_step(sde: SDE, score: Score, x: torch.Tensor, t: torch.Tensor, dt: float) -> torch.Tensor:
    """``x − f_i + G_i² s + G_i z`` with the forward step from ``t − dt`` to ``t`` (:meth:`SDE.discretize`)."""
    f, g = sde.discretize(x, t, dt)
    return x - f + per_example(g**2, x) * score(x, t) + per_example(g, x) * torch.randn_like(x)


def langevin_corrector_step(sde: SDE, score: Score, x: torch.Tensor, t: torch.Tensor, dt: float,
                            snr: float) -> torch.Tensor:
    """One Langevin step at ``t`` sized by the signal-to-noise ratio (module docstring)."""
    s, z = score(x, t), torch.randn_like(x)
    a = (sde.scale(t) / sde.scale(t - dt)) ** 2  # the forward step's 1 − β_i; 1 for VE
    step = 2 * a * (snr * z.flatten(1).norm(dim=1).mean() / s.flatten(1).norm(dim=1).mean()) ** 2
    return x + per_example(step, x) * s + per_example((2 * step).sqrt(), x) * z


def reverse_sde_sample(sde: SDE, score: Score, x: torch.Tensor, steps: int, eps: float, predictor: str,
                       corrector_steps: int, snr: float, denoise: bool) -> tuple[torch.Tensor, int]:
    """Predictor-corrector sampling from ``x`` at ``T`` (prior draws) down to ``eps`` in ``steps``
    predictor steps, each after ``corrector_steps`` corrector steps; then the Tweedie step at
    ``eps`` when ``denoise``. Returns samples and score evaluations per sample."""
    if predictor not in PREDICTORS:
        raise ValueError(f"predictor must be one of {', '.join(PREDICTORS)}, got {predictor!r}")
    step = reverse_diffusion_step if predictor == "reverse-diffusion" else euler_maruyama_step
    grid = time_grid(steps, eps)
    dt = float(grid[0] - grid[1])
    for t in grid[:-1]:
        for _ in range(corrector_steps):
            x = langevin_corrector_step(sde, score, x, t, dt, snr)
        x = step(sde, score, x, t, dt)
    evals = steps * (1 + corrector_steps)
    if denoise:
        t = grid[-1]
        x, evals = tweedie(x, score(x, t), sde.scale(t), sde.std(t)), evals + 1
    return x, evals


# ---- the probability-flow ODE -------------------------------------------------------------------------


OdeDrift = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
"""``(state (B, ...) float64, t 0-d)`` → its time derivative, shaped like the state."""


def integrate(drift: OdeDrift, y: torch.Tensor, t_span: tuple[float, float], rtol: float, atol: float,
              method: str = "RK45") -> tuple[torch.Tensor, int]:
    """Solve ``dy/dt = drift(y, t)`` over ``t_span`` with scipy's ``solve_ivp``, the whole batch as one
    system (as Song et al.); returns ``y`` at the end, in ``y``'s dtype and device, and ``nfev``."""
    def flat(t: float, state: np.ndarray) -> np.ndarray:
        current = torch.as_tensor(state, device=y.device).reshape(y.shape)
        return drift(current, torch.tensor(t, dtype=torch.float64)).double().cpu().numpy().reshape(-1)

    start = y.detach().double().cpu().numpy().reshape(-1)
    solution = solve_ivp(flat, t_span, start, method=method, rtol=rtol, atol=atol)
    if not solution.success:
        raise RuntimeError(f"solve_ivp ({method}, rtol {rtol:g}, atol {atol:g}) failed: {solution.message}")
    end = torch.as_tensor(solution.y[:, -1], device=y.device).reshape(y.shape).to(y.dtype)
    return end, int(solution.nfev)


def probability_flow_sample(sde: SDE, score: Score, x: torch.Tensor, eps: float, rtol: float, atol: float,
                            denoise: bool) -> tuple[torch.Tensor, int]:
    """The probability-flow ODE from prior draws ``x`` at ``T`` to ``eps``, then the Tweedie step when
    ``denoise``. Returns samples and score evaluations per sample (the solver's ``nfev`` (+ 1))."""
    dtype = x.dtype

    def drift(y: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        y = y.to(dtype)
        return sde.reverse_drift(y, t, score(y, t), probability_flow=True)

    x, evals = integrate(drift, x, (T_END, eps), rtol, atol)
    if denoise:
        t = torch.tensor(eps, dtype=torch.float64)
        x, evals = tweedie(x, score(x, t), sde.scale(t), sde.std(t)), evals + 1
    return x, evals
