"""The f-divergences of f-GAN (Nowozin, Cseke & Tomioka 2016, "f-GAN: Training generative neural
samplers using variational divergence minimization"), Tables 1 and 2.

For a convex ``f`` (with ``f(1) = 0``, but for the ``gan`` row's ``−log 4``),
``D_f(P ‖ Q) = ∫ q(x) f(p(x) / q(x)) dx``. Its Fenchel conjugate ``f*(t) = sup_u (t u − f(u))``
gives the variational lower bound (their §2)

    D_f(P ‖ Q) ≥ sup_T  E_P[T(x)] − E_Q[f*(T(x))],

tight at ``T*(x) = f'(p(x) / q(x))``. f-GAN writes the critic as ``T = g_f(V(x))`` with an
unconstrained network ``V`` and an output activation ``g_f`` onto the domain of ``f*`` (Table 2).

Each entry holds ``f``, ``f'`` (for the tests: ``f*(f'(u)) = u f'(u) − f(u)``, the Fenchel
equality), ``g_f``, ``f*``, and ``f*(g_f(v))`` in closed form: the critic's loss uses the latter,
since composing the two loses all precision where ``g_f`` approaches the edge of ``dom f*``
(JS's ``−log(2 − e^t)`` as ``t → log 2``, i.e. ``v → ∞``).

Note on ``js``: Table 1's ``f(u) = −(u + 1) log((1 + u) / 2) + u log u`` gives
``D_f = KL(P ‖ M) + KL(Q ‖ M)``, ``M = (P + Q) / 2``: twice the Jensen–Shannon divergence. The
bound estimates ``D_f`` of the ``f`` here, in nats.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch.nn.functional import softplus

Fn = Callable[[torch.Tensor], torch.Tensor]
LOG2 = math.log(2.0)


@dataclass(frozen=True)
class Divergence:
    """One row of Nowozin et al.'s Tables 1 and 2; every function is elementwise."""

    name: str
    f: Fn  # the generator function, convex
    derivative: Fn  # f'(u): the optimal critic output g_f(V*(x)) at u = p(x) / q(x)
    activation: Fn  # g_f(v): R → dom f*
    conjugate: Fn  # f*(t), for t in dom f*
    conjugate_of_activation: Fn  # f*(g_f(v)) in closed form, numerically stable
    domain: tuple[float, float]  # dom f* as an open interval (low, high)


DIVERGENCES: dict[str, Divergence] = {d.name: d for d in (
    Divergence("kl", f=lambda u: u * u.log(), derivative=lambda u: 1 + u.log(),
               activation=lambda v: v, conjugate=lambda t: (t - 1).exp(),
               conjugate_of_activation=lambda v: (v - 1).exp(), domain=(-math.inf, math.inf)),
    Divergence("reverse-kl", f=lambda u: -u.log(), derivative=lambda u: -1 / u,
               activation=lambda v: -(-v).exp(), conjugate=lambda t: -1 - (-t).log(),
               conjugate_of_activation=lambda v: v - 1, domain=(-math.inf, 0.0)),
    Divergence("pearson", f=lambda u: (u - 1) ** 2, derivative=lambda u: 2 * (u - 1),
               activation=lambda v: v, conjugate=lambda t: t**2 / 4 + t,
               conjugate_of_activation=lambda v: v**2 / 4 + v, domain=(-math.inf, math.inf)),
    Divergence("hellinger", f=lambda u: (u.sqrt() - 1) ** 2, derivative=lambda u: 1 - 1 / u.sqrt(),
               activation=lambda v: -torch.expm1(-v), conjugate=lambda t: t / (1 - t),
               conjugate_of_activation=lambda v: torch.expm1(v), domain=(-math.inf, 1.0)),
    Divergence("js", f=lambda u: -(u + 1) * ((1 + u) / 2).log() + u * u.log(),
               derivative=lambda u: (2 * u / (1 + u)).log(),
               activation=lambda v: LOG2 - softplus(-v), conjugate=lambda t: -(2 - t.exp()).log(),
               conjugate_of_activation=lambda v: softplus(v) - LOG2, domain=(-math.inf, LOG2)),
    # the original GAN's: the bound is E_P[log D] + E_Q[log(1 − D)], D = sigmoid(V) (Table 2, last row)
    Divergence("gan", f=lambda u: u * u.log() - (u + 1) * (u + 1).log(), derivative=lambda u: (u / (u + 1)).log(),
               activation=lambda v: -softplus(-v), conjugate=lambda t: -(-t.exp()).log1p(),
               conjugate_of_activation=softplus, domain=(-math.inf, 0.0)),
)}
