"""The training objectives of an energy ``E``, ``p(x) = exp(−E(x)) / Z``, as pure functions.

* **Contrastive divergence** (Hinton 2002; the IGEBM form of Du & Mordatch 2019, §3.3): the
  likelihood's gradient is ``−∇_θ E(x+) + E_{x−∼p}[∇_θ E(x−)]``; with ``x−`` from short-run MCMC
  (gradient stopped through the chain) it is the gradient of

      L = mean E(x+) − mean E(x−) + α · mean(E(x+)² + E(x−)²),

  the last term IGEBM's energy-magnitude regulariser, which keeps ``E`` near zero where the
  difference alone leaves it free to drift.
* **Score matching** (Hyvärinen 2005): with ``s = ∇ log p = −∇E``, the Fisher divergence to the
  data equals, up to a constant, by integration by parts (data vanishing at the boundary),

      J = E_data[ tr ∇s(x) + ½ ‖s(x)‖² ] = E_data[ −tr ∇²E(x) + ½ ‖∇E(x)‖² ],

  its trace exact by one more backward pass per dimension (``exact``), or **sliced** (Song et al.
  2019, the variance-reduced SSM-VR): ``tr ∇s = E_v[vᵀ ∇s v]`` for random ``v`` with
  ``E[v vᵀ] = I`` (Rademacher or Gaussian), one Hessian-vector product per projection, the ``½‖s‖²``
  kept exact; written once for any score in :mod:`benchbench.score_matching`, called here with
  ``s = −∇E``.
* **Noise-contrastive estimation** (Gutmann & Hyvärinen 2010, 2012): with ``log p_θ = −E − c``,
  ``c`` learned, noise ``q`` and ``ν`` noise samples per data point, logistic regression of data
  against noise on ``G = log p_θ − log q − log ν``:

      L = −E_data[log σ(G(x))] − ν E_q[log σ(−G(y))],

  whose minimiser is ``p_θ = p_data`` with ``c = log Z`` when the model family holds the data.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from benchbench import score_matching


def contrastive_divergence(e_data: torch.Tensor, e_model: torch.Tensor, alpha: float) -> torch.Tensor:
    """IGEBM's loss from energies of data ``(B,)`` and of chain samples ``(B',)``; see the module docstring."""
    return e_data.mean() - e_model.mean() + alpha * ((e_data**2).mean() + (e_model**2).mean())


def energy_and_grad(energy: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``x`` made differentiable, ``E(x)`` ``(B,)`` and ``∇_x E`` with its graph kept (for second derivatives)."""
    x = x.detach().requires_grad_(True)
    e = energy(x)
    (grad,) = torch.autograd.grad(e.sum(), x, create_graph=True)
    return x, e, grad


def exact_score_matching(energy: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Hyvärinen's ``−tr ∇²E + ½‖∇E‖²`` per example ``(B,)``, the trace by one backward pass per
    dimension, and ``E(x)``."""
    x, e, grad = energy_and_grad(energy, x)
    flat = grad.flatten(1)
    trace = torch.zeros_like(e)
    for i in range(flat.shape[1]):
        (row,) = torch.autograd.grad(flat[:, i].sum(), x, create_graph=True)  # ∂/∂x of ∂E/∂x_i
        trace = trace + row.flatten(1)[:, i]
    return -trace + 0.5 * (flat**2).sum(1), e


def sliced_score_matching(energy: nn.Module, x: torch.Tensor, projections: int, kind: str = "rademacher"
                          ) -> tuple[torch.Tensor, torch.Tensor]:
    """SSM-VR's ``−vᵀ ∇²E v + ½‖∇E‖²`` per example ``(B,)``, averaged over ``projections`` vectors,
    and ``E(x)``: :func:`benchbench.score_matching.sliced_score_matching` of the score ``−∇E``."""
    x, e, grad = energy_and_grad(energy, x)
    return score_matching.sliced_score_matching(x, -grad, projections, kind), e


def noise_contrastive(log_model_data: torch.Tensor, log_noise_data: torch.Tensor, log_model_noise: torch.Tensor,
                      log_noise_noise: torch.Tensor, ratio: float) -> torch.Tensor:
    """NCE's loss from the model's and the noise's log-densities at the data ``(B,)`` and at the
    noise samples ``(M,)``, ``M ≈ ν B``; a noise sample outside the model's support has
    ``log_model_noise = −inf`` and adds nothing. See the module docstring."""
    g_data = log_model_data - log_noise_data - math.log(ratio)
    g_noise = log_model_noise - log_noise_noise - math.log(ratio)
    return F.softplus(-g_data).mean() + ratio * F.softplus(g_noise).mean()
