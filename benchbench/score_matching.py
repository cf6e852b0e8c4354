"""Sliced score matching, written once for every family that fits a score ``s(x) ≈ ∇_x log p(x)``:
energy-based models pass ``s = −∇E``, score-based models their network's output.

Score matching (Hyvärinen 2005) minimises the Fisher divergence ``½ E_p ‖s(x) − ∇ log p(x)‖²``,
which integration by parts turns into ``E_p[tr ∇s(x) + ½ ‖s(x)‖²]`` plus a constant. The trace
costs one backward pass per dimension. Sliced score matching (Song, Garg, Shi & Ermon 2019,
"Sliced score matching: a scalable approach to density and score estimation") compares the fields
along random directions ``v`` with ``E[v vᵀ] = I`` instead; in its variance-reduced form SSM-VR
(their Eq. 8) the ``½‖s‖²`` term is kept exact and only the trace is sliced:

    J(x) = E_v[vᵀ ∇s(x) v] + ½ ‖s(x)‖²,   vᵀ ∇s v = vᵀ ∇_x (vᵀ s(x)),

one vector-Jacobian product per projection. Rademacher ``v`` (±1) gives a lower-variance trace
estimate than Gaussian ``v`` for the same ``E[v vᵀ] = I`` (Hutchinson 1990).

Shapes: ``x`` and ``s`` are ``(B, *shape)``; per-example values are ``(B,)``.
"""

from __future__ import annotations

import torch

PROJECTIONS = ("rademacher", "gaussian")


def projection_vectors(like: torch.Tensor, kind: str) -> torch.Tensor:
    """Random ``v`` shaped like ``like`` with ``E[v vᵀ] = I``: ±1 (Rademacher) or standard normal."""
    if kind == "rademacher":
        return torch.randint(0, 2, like.shape, device=like.device).to(like.dtype) * 2 - 1
    if kind == "gaussian":
        return torch.randn_like(like)
    raise ValueError(f"projection must be one of {', '.join(PROJECTIONS)}, got {kind!r}")


def sliced_score_matching(x: torch.Tensor, score: torch.Tensor, projections: int = 1, kind: str = "rademacher"
                          ) -> torch.Tensor:
    """SSM-VR's ``vᵀ ∇s v + ½ ‖s‖²`` per example ``(B,)``, the first term averaged over
    ``projections`` vectors. ``x`` requires grad and ``score = s(x)`` was computed from it with
    its graph (``create_graph=True`` where it is itself a gradient), so the loss can be descended."""
    curvature = torch.zeros(len(x), dtype=score.dtype, device=score.device)
    for _ in range(projections):
        v = projection_vectors(x, kind)
        (jv,) = torch.autograd.grad((score * v).sum(), x, create_graph=True)  # vᵀ ∇s, shaped like x
        curvature = curvature + (jv * v).flatten(1).sum(1)
    return curvature / projections + 0.5 * (score.flatten(1) ** 2).sum(1)
