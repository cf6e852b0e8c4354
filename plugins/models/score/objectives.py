"""The training objectives of a noise-conditional score ``s(x, t)``, per example, as pure functions.

Data ``x_0`` is perturbed by a Gaussian kernel, ``x_t = scale · x_0 + std · z``, ``z ~ N(0, I)``
(NCSN: ``scale = 1``, ``std = σ_i``; the SDEs: their kernel at ``t``), and the score of the
perturbed law ``p_t`` is fitted at every noise level, weighted by ``λ = std²`` (Song & Ermon 2019,
§4.2: ``std² ‖∇ log q(x_t | x_0)‖² = ‖z‖²`` is then of order 1 at every level, so no level
dominates; Song et al. 2021 keep ``λ(t) ∝ 1 / E‖∇ log q(x_t | x_0)‖² = std² / D``):

* :func:`denoising_score_matching` (Vincent 2011): ``∇ log q(x_t | x_0) = −z / std`` is a regression
  target whose conditional mean is ``∇ log p_t(x_t)``, so ``½ E‖s(x_t) + z/std‖²`` is the Fisher
  divergence to ``p_t`` up to a constant:

      ℓ = ½ std² ‖s(x_t, t) + z / std‖² = ½ ‖std · s(x_t, t) + z‖².

* :func:`sliced_score_matching_at` (Song et al. 2019): sliced score matching (SSM-VR,
  :mod:`benchbench.score_matching`) on the perturbed points, which needs no kernel score:

      ℓ = std² (vᵀ ∇_x s(x_t, t) v + ½ ‖s(x_t, t)‖²),

  as NCSN's ``anneal_sliced_score_estimation_vr``; its minimiser is the same ``∇ log p_t``.

Shapes: ``x0, z (B, *shape)``; ``scale, std`` ``(B,)``; losses ``(B,)``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from benchbench import score_matching

from .sdes import per_example

PerturbedScore = Callable[[torch.Tensor], torch.Tensor]
"""``x_t (B, *shape)`` → ``s(x_t, t)`` at each example's own noise level, shaped like ``x_t``."""


def perturb(x0: torch.Tensor, scale: torch.Tensor, std: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """``scale · x0 + std · z``, each example at its own level."""
    return per_example(scale, x0) * x0 + per_example(std, x0) * z


def denoising_score_matching(score: PerturbedScore, x0: torch.Tensor, scale: torch.Tensor, std: torch.Tensor,
                             z: torch.Tensor) -> torch.Tensor:
    """``½ ‖std · s(x_t) + z‖²`` per example, ``x_t = scale · x0 + std · z``."""
    s = score(perturb(x0, scale, std, z))
    return 0.5 * ((per_example(std, s) * s + z) ** 2).flatten(1).sum(1)


def sliced_score_matching_at(score: PerturbedScore, x0: torch.Tensor, scale: torch.Tensor, std: torch.Tensor,
                             z: torch.Tensor, projections: int, kind: str) -> torch.Tensor:
    """``std² (vᵀ ∇s v + ½ ‖s‖²)`` at ``x_t = scale · x0 + std · z``, per example."""
    xt = perturb(x0, scale, std, z).detach().requires_grad_(True)
    per = score_matching.sliced_score_matching(xt, score(xt), projections, kind)
    return std.to(per.dtype) ** 2 * per
