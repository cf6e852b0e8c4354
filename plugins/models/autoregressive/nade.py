"""NADE: Neural Autoregressive Distribution Estimation (Larochelle & Murray 2011).

Every conditional has its own hidden layer, but they all share one weight matrix W (H, D):

    h_d = σ(c + W_{:, <d} x_{<d}),   p(x_d | x_<d) = f(V_d h_d + b_d),

so a_d = c + Σ_{k<d} W_{:,k} x_k grows by one column per dimension and all D pre-activations are a
single cumulative sum: O(DH) for the whole likelihood instead of O(D²H). With a mixture of
Gaussians for f this is RNADE (Uria et al. 2013).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from benchbench.distributions import Likelihood

from .base import Autoregressive


class NADE(Autoregressive):
    def __init__(self, shape: tuple[int, ...], likelihood: Likelihood, hidden: int = 128, lr: float = 1e-3):
        super().__init__(shape, likelihood)
        params = likelihood.params_per_dim
        self.w = nn.Parameter(torch.randn(self.dim, hidden) / math.sqrt(self.dim))  # (D, H): row k is W_{:,k}
        self.c = nn.Parameter(torch.zeros(hidden))
        self.v = nn.Parameter(torch.randn(self.dim, hidden, params) / math.sqrt(hidden))  # one readout per dimension
        self.b = nn.Parameter(torch.zeros(self.dim, params))
        self.opt = torch.optim.Adam(self.parameters(), lr=lr)

    def conditionals(self, x: torch.Tensor) -> torch.Tensor:
        x_prev = F.pad(x.flatten(1), (1, 0))[:, :-1]  # (B, D): x_{d-1}, and 0 for d = 0
        w_prev = F.pad(self.w, (0, 0, 1, 0))[:-1]  # (D, H): W_{:,d-1}
        added = x_prev.t()[:, :, None] * w_prev[:, None]  # (D, B, H), dimension first for a fast cumsum
        h = torch.sigmoid(self.c + added.cumsum(0))  # a_d = c + Σ_{k<d} W_{:,k} x_k
        return torch.bmm(h, self.v).transpose(0, 1) + self.b  # (B, D, P)

    def sample_flat(self, n: int) -> torch.Tensor:
        """O(DH) per example: after x_d is drawn, a_{d+1} = a_d + W_{:,d} x_d."""
        x = torch.empty(n, self.dim, device=self.device)
        a = self.c.expand(n, -1)  # (n, H)
        for d in range(self.dim):
            params = torch.sigmoid(a) @ self.v[d] + self.b[d]  # (n, P)
            x[:, d] = self.likelihood.sample(params)[:, 0]
            a = a + x[:, d, None] * self.w[d]
        return x
