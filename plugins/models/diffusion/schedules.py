"""Noise schedules of a DDPM: the variances ``β_t`` of the forward steps and what follows from them,
computed once in float64 as plain tensors indexed by the step (as Ho et al.'s
``diffusion_utils_2.py``).

Indexing. The papers count steps ``t = 1 … T``; the code, like Ho et al.'s and diffusers', stores
them at indices ``0 … T − 1``, so index ``i`` holds the paper's step ``i + 1``: ``betas[0]`` is
``β_1``, ``alphas_cumprod[i]`` is ``ᾱ_{i+1} = Π_{s ≤ i+1} (1 − β_s)``, and the network is told the
index ``i``. ``alphas_cumprod_prev[0] = ᾱ_0 = 1`` (no noise before the first step).

* **Linear** (Ho et al. 2020, §4): ``β`` evenly spaced from ``1e-4`` to ``0.02`` over ``T = 1000``.
* **Cosine** (Nichol & Dhariwal 2021, eq. 17): ``ᾱ_t = f(t) / f(0)``, ``f(t) = cos²((t/T + s) /
  (1 + s) · π/2)``, so ``β_t = 1 − f(t) / f(t − 1)``, capped at ``max_beta = 0.999`` to avoid the
  singularity at ``t = T``; the offset ``s = 0.008`` keeps ``β_1`` from being vanishingly small.
"""

from __future__ import annotations

import math

import torch


def linear_betas(timesteps: int, start: float, end: float) -> torch.Tensor:
    """``(T,)`` float64: Ho et al.'s ``np.linspace(start, end, T)``."""
    return torch.linspace(start, end, timesteps, dtype=torch.float64)


def cosine_betas(timesteps: int, s: float, max_beta: float) -> torch.Tensor:
    """``(T,)`` float64: ``min(1 − f(t) / f(t − 1), max_beta)`` for ``t = 1 … T`` (module docstring)."""
    f = torch.cos((torch.arange(timesteps + 1, dtype=torch.float64) / timesteps + s) / (1 + s) * math.pi / 2) ** 2
    return (1 - f[1:] / f[:-1]).clamp(max=max_beta)


class Schedule:
    """``betas`` ``(T,)`` (of the schedule called ``name``) and the float64 ``(T,)`` tensors derived
    from them, indexed as the module docstring says:

    * ``alphas_cumprod`` ``ᾱ_t``, and ``alphas_cumprod_prev`` ``ᾱ_{t−1}`` (``ᾱ_0 = 1``);
    * ``posterior_variance`` ``β̃_t = β_t (1 − ᾱ_{t−1}) / (1 − ᾱ_t)``, the variance of
      ``q(x_{t−1} | x_t, x_0)`` (Ho et al. 2020, eq. 7); ``β̃_1 = 0``.
    """

    def __init__(self, betas: torch.Tensor, name: str = "given"):
        self.name = name
        self.betas = betas.to(torch.float64)
        self.alphas_cumprod = torch.cumprod(1 - self.betas, 0)
        self.alphas_cumprod_prev = torch.cat([torch.ones(1, dtype=torch.float64), self.alphas_cumprod[:-1]])
        self.posterior_variance = self.betas * (1 - self.alphas_cumprod_prev) / (1 - self.alphas_cumprod)

    def __len__(self) -> int:
        return len(self.betas)

    @classmethod
    def named(cls, name: str, timesteps: int, beta_start: float, beta_end: float, cosine_s: float,
              max_beta: float) -> Schedule:
        """The ``linear`` or ``cosine`` schedule of ``timesteps`` steps."""
        if name == "linear":
            return cls(linear_betas(timesteps, beta_start, beta_end), name)
        return cls(cosine_betas(timesteps, cosine_s, max_beta), name)


def at(values: torch.Tensor, t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """``values[t]`` for step indices ``t`` ``(B,)``, as ``like``'s dtype and device, shaped
    ``(B, 1, …, 1)`` to broadcast against ``like`` ``(B, ...)``."""
    return batchwise(values.to(t.device)[t], like)


def batchwise(values: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Per-example ``values`` ``(B,)`` as ``like``'s dtype, shaped ``(B, 1, …, 1)`` to broadcast."""
    return values.to(like.dtype).view(-1, *[1] * (like.dim() - 1))
