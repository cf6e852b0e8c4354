"""Tractable, normalised densities fitted to the train data: NCE's noise and AIS's base.

* :class:`Gaussian`: ``N(μ, Σ)`` with the train data's mean and full covariance (the maximum-
  likelihood fit), for data on ``R^D``.
* :class:`LogitGaussian`: for data in the open cube ``(0, 1)^D`` (images, data with levels, which
  the host dequantises): ``u = logit(x) ~ N(μ, Σ)`` fitted to the logits, so

      log q(x) = log N(logit(x); μ, Σ) − Σ_d log(x_d (1 − x_d)),

  a density on the cube itself, the energy model's support there. A Gaussian on ``R^D`` would put
  almost all of its samples outside a 64-dimensional cube.
* :class:`Uniform`: uniform on a box, ``log q = −Σ_d log(high_d − low_d)`` inside.
* :class:`Logistic`: the standard logistic on ``R^D``, ``log q(u) = Σ_d log σ'(u_d)``: the uniform
  density on the cube seen through ``u = logit(x)``.

Each has ``sample(n)`` and ``log_prob(x)`` on examples ``(B, *shape)``; parameters are buffers, so
they follow the model's device and checkpoints.
"""

from __future__ import annotations

import math

import torch
from torch import nn

JITTER = 1e-5  # added to the covariance's diagonal, relative to its mean variance: a Cholesky factor for any data
LOGIT_EPS = 1e-4  # points kept this far inside the cube before the logit, for stored values on its faces


class Gaussian(nn.Module):
    """``N(mean, L Lᵀ)`` on flattened examples, ``L`` lower triangular."""

    def __init__(self, shape: tuple[int, ...], mean: torch.Tensor, scale_tril: torch.Tensor):
        super().__init__()
        self.shape = shape
        self.register_buffer("mean", mean)
        self.register_buffer("scale_tril", scale_tril)

    @classmethod
    def fit(cls, points: torch.Tensor) -> Gaussian:
        """The maximum-likelihood Gaussian of ``points`` ``(N, *shape)``, in float64 then float32."""
        flat = points.flatten(1).double()
        cov = torch.cov(flat.T).reshape(flat.shape[1], flat.shape[1])
        cov = cov + JITTER * cov.diagonal().mean().clamp_min(1e-12) * torch.eye(len(cov), dtype=cov.dtype)
        return cls(tuple(points.shape[1:]), flat.mean(0).float(), torch.linalg.cholesky(cov).float())

    def sample(self, n: int) -> torch.Tensor:
        z = torch.randn(n, len(self.mean), device=self.mean.device)
        return (self.mean + z @ self.scale_tril.T).view(n, *self.shape)

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        d = (x.flatten(1) - self.mean).T  # (D, B)
        z = torch.linalg.solve_triangular(self.scale_tril, d, upper=False)
        log_det = self.scale_tril.diagonal().log().sum()
        return -0.5 * (z**2).sum(0) - log_det - 0.5 * len(self.mean) * math.log(2 * math.pi)


class LogitGaussian(nn.Module):
    """A :class:`Gaussian` on ``logit(x)``: a density on the open cube ``(0, 1)^D``."""

    def __init__(self, gaussian: Gaussian):
        super().__init__()
        self.gaussian = gaussian

    @classmethod
    def fit(cls, points: torch.Tensor) -> LogitGaussian:
        return cls(Gaussian.fit(torch.logit(points.clamp(LOGIT_EPS, 1 - LOGIT_EPS))))

    def sample(self, n: int) -> torch.Tensor:
        return torch.sigmoid(self.gaussian.sample(n))

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        x = x.clamp(LOGIT_EPS, 1 - LOGIT_EPS)
        log_jacobian = -(x.log() + (-x).log1p()).flatten(1).sum(1)  # |d logit(x) / dx| = 1 / (x (1 - x))
        return self.gaussian.log_prob(torch.logit(x)) + log_jacobian


class Uniform(nn.Module):
    """Uniform on the box ``[low, high]`` (tensors shaped like one example)."""

    def __init__(self, low: torch.Tensor, high: torch.Tensor):
        super().__init__()
        self.register_buffer("low", low)
        self.register_buffer("high", high)

    def sample(self, n: int) -> torch.Tensor:
        return self.low + (self.high - self.low) * torch.rand(n, *self.low.shape, device=self.low.device)

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """``−log volume`` for every point (the caller keeps points in the box)."""
        return (-(self.high - self.low).log().sum()).expand(len(x))


def log_sigmoid_jacobian(u: torch.Tensor) -> torch.Tensor:
    """``Σ_d log σ'(u_d) = Σ_d log σ(u_d) + log σ(−u_d)``, ``(B,)``: log |det ∂σ(u)/∂u|."""
    return (nn.functional.logsigmoid(u) + nn.functional.logsigmoid(-u)).flatten(1).sum(1)


class Logistic(nn.Module):
    """The standard logistic density on ``R^D`` (examples shaped ``shape``)."""

    def __init__(self, shape: tuple[int, ...]):
        super().__init__()
        self.shape = shape
        self.register_buffer("anchor", torch.zeros(()))  # follows the model's device

    def sample(self, n: int) -> torch.Tensor:
        return torch.logit(torch.rand(n, *self.shape, device=self.anchor.device).clamp(LOGIT_EPS, 1 - LOGIT_EPS))

    def log_prob(self, u: torch.Tensor) -> torch.Tensor:
        return log_sigmoid_jacobian(u)
