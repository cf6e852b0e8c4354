"""Log-likelihoods of a score SDE through its probability-flow ODE (Song et al. 2021, §4.3 and
Appendix D.2), after score_sde_pytorch's ``likelihood.py``.

The ODE ``dx/dt = f̃(x, t) = f(x, t) − ½ g(t)² s(x, t)`` is a continuous normalising flow from
the data at ``eps`` to the prior at ``T``; by the instantaneous change of variables (Chen et al.
2018, "Neural ordinary differential equations", Theorem 1)

    log p_eps(x) = log p_T(x_T) + ∫_eps^T div f̃(x_t, t) dt,

the state and the integral solved jointly by scipy's ``solve_ivp`` (``(B, D + 1)`` as one
system) and ``p_T`` taken as the prior. The divergence is the exact trace of ``∂f̃/∂x`` (one
backward pass per dimension: cheap in a few dimensions) or the Hutchinson-Skilling estimate
``E_v[vᵀ (∂f̃/∂x) v]`` (Skilling 1989; Hutchinson 1990; FFJORD, Grathwohl et al. 2019) with
Rademacher probes ``v`` drawn once per solve and kept along the path, so that the solver
integrates one smooth function of ``t`` whose expectation over ``v`` is the exact integrand.

The number is ``log p_eps``: the density of the data perturbed by the kernel at ``eps`` (for VE,
by ``σ(eps) ≈ σ_min``), and exact only as far as the score is ``∇ log p_t`` and ``p_T`` is the
prior. Shapes: ``x (B, *shape)``; log-likelihoods ``(B,)`` in nats.
"""

from __future__ import annotations

import torch

from benchbench.score_matching import projection_vectors

from .samplers import Score, integrate
from .sdes import SDE, T_END


def exact_divergence(f: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``tr ∂f/∂x`` per example ``(B,)``, ``f`` computed from ``x`` with its graph; one backward
    pass per dimension."""
    flat, trace = f.flatten(1), torch.zeros(len(x), dtype=f.dtype, device=f.device)
    for i in range(flat.shape[1]):
        (row,) = torch.autograd.grad(flat[:, i].sum(), x, retain_graph=True)  # ∂f_i/∂x
        trace = trace + row.flatten(1)[:, i]
    return trace


def hutchinson_divergence(f: torch.Tensor, x: torch.Tensor, probes: torch.Tensor) -> torch.Tensor:
    """``mean_k v_kᵀ (∂f/∂x) v_k`` per example ``(B,)`` for probes ``(K, B, *shape)``; one
    vector-Jacobian product per probe."""
    total = torch.zeros(len(x), dtype=f.dtype, device=f.device)
    for v in probes:
        (vj,) = torch.autograd.grad((f * v).sum(), x, retain_graph=True)  # vᵀ ∂f/∂x
        total = total + (vj * v).flatten(1).sum(1)
    return total / len(probes)


def rademacher_probes(count: int, like: torch.Tensor) -> torch.Tensor:
    """``count`` Rademacher vectors shaped like ``like``, stacked: ``(K, B, *shape)``."""
    return torch.stack([projection_vectors(like, "rademacher") for _ in range(count)])


def ode_log_likelihood(sde: SDE, score: Score, x: torch.Tensor, eps: float, rtol: float, atol: float,
                       probes: int | None) -> tuple[torch.Tensor, int]:
    """``log p_eps(x)`` ``(B,)`` in nats and the solver's ``nfev``; the divergence exact when
    ``probes`` is None, else Hutchinson's with that many Rademacher probes."""
    dim, dtype = x[0].numel(), x.dtype
    vectors = None if probes is None else rademacher_probes(probes, x)

    def drift(state: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        with torch.enable_grad():
            y = state[:, :dim].reshape(x.shape).to(dtype).requires_grad_(True)
            f = sde.reverse_drift(y, t, score(y, t), probability_flow=True)
            div = exact_divergence(f, y) if vectors is None else hutchinson_divergence(f, y, vectors)
        return torch.cat([f.flatten(1), div[:, None]], 1).detach()

    start = torch.cat([x.detach().flatten(1).double(), torch.zeros(len(x), 1, dtype=torch.float64, device=x.device)], 1)
    end, nfev = integrate(drift, start, (eps, T_END), rtol, atol)
    z, integral = end[:, :dim].reshape(x.shape), end[:, dim]
    return sde.prior_logp(z) + integral, nfev
