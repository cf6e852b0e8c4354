"""Closed forms of isotropic Gaussian mixtures, for checking score-based and diffusion samplers
without training anything.

A mixture ``p = Σ_k π_k N(μ_k, s² I)`` stays a mixture under the forward processes of diffusion
and score models: ``a x + b z`` with ``z ~ N(0, I)`` has law ``Σ_k π_k N(a μ_k, (a² s² + b²) I)``.
So the exact score ``∇ log p_t`` and the exact noise prediction
``ε*(x_t) = −b ∇ log p_t(x_t)`` are known at every noise level, and a sampler driven by them
must reproduce the mixture's mode weights and its high-quality fraction (the mass within 3
standard deviations of a mode: 98.9% in 2-D, ``1 − exp(−9/2)``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class GaussianMixture:
    """``Σ_k weights[k] N(means[k], std² I)`` in float64; ``means`` is ``(K, D)``."""

    weights: torch.Tensor  # (K,)
    means: torch.Tensor  # (K, D)
    std: float

    @classmethod
    def of(cls, weights: list[float], means: list[list[float]], std: float) -> GaussianMixture:
        w = torch.tensor(weights, dtype=torch.float64)
        return cls(w / w.sum(), torch.tensor(means, dtype=torch.float64), std)

    @property
    def dim(self) -> int:
        return self.means.shape[1]

    def noised(self, scale: float, noise_std: float) -> GaussianMixture:
        """The law of ``scale · x + noise_std · z``, ``x`` from this mixture, ``z ~ N(0, I)``."""
        return GaussianMixture(self.weights, scale * self.means, math.sqrt(scale**2 * self.std**2 + noise_std**2))

    def sample(self, n: int, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``n`` points ``(n, D)`` and the component each came from ``(n,)``."""
        labels = torch.multinomial(self.weights, n, replacement=True, generator=generator)
        noise = torch.randn(n, self.dim, generator=generator, dtype=torch.float64)
        return self.means[labels] + self.std * noise, labels

    def log_components(self, x: torch.Tensor) -> torch.Tensor:
        """``log π_k + log N(x; μ_k, s² I)``, ``(B, K)``."""
        x = x.to(torch.float64)
        sq = ((x[:, None, :] - self.means[None]) ** 2).sum(-1)
        log_norm = -0.5 * self.dim * math.log(2 * math.pi * self.std**2)
        return self.weights.log()[None] + log_norm - sq / (2 * self.std**2)

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """``log p(x)`` in nats, ``(B,)``."""
        return self.log_components(x).logsumexp(-1)

    def score(self, x: torch.Tensor) -> torch.Tensor:
        """``∇_x log p(x)``, ``(B, D)``: the responsibilities' weighted pull towards each mean."""
        x64 = x.to(torch.float64)
        responsibilities = self.log_components(x64).softmax(-1)  # (B, K)
        return ((responsibilities @ self.means - x64) / self.std**2).to(x.dtype)

    def nearest_mode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Index of the nearest mean and the distance to it, both ``(B,)``."""
        distances = torch.cdist(x.to(torch.float64), self.means)
        d, k = distances.min(-1)
        return k, d

    def high_quality_fraction(self, x: torch.Tensor, stds: float = 3.0) -> float:
        """Fraction of ``x`` within ``stds`` standard deviations of its nearest mean."""
        return (self.nearest_mode(x)[1] < stds * self.std).double().mean().item()

    def mode_weights(self, x: torch.Tensor) -> torch.Tensor:
        """Fraction of ``x`` nearest to each mean, ``(K,)``."""
        k = self.nearest_mode(x)[0]
        return torch.bincount(k, minlength=len(self.weights)).double() / len(x)


def within_three_stds(dim: int) -> float:
    """The mass of ``N(0, I_dim)`` within radius 3: chi with ``dim`` degrees of freedom, by scipy."""
    from scipy.stats import chi

    return float(chi.cdf(3.0, dim))


def biased_mmd2(a: torch.Tensor, b: torch.Tensor) -> float:
    """The V-statistic MMD² with the mmd metric's kernel (a mixture of Gaussians at its median
    bandwidth). Unlike the unbiased estimate it cannot go negative: between two draws of one law it
    sits at its finite-sample floor ``≈ (1 − E k)(1/m + 1/n)``, so a ratio to that floor means something."""
    from benchbench_plugins.metrics.two_sample.compute import median_bandwidth, mixture_kernel, squared_distances

    a, b = a.detach().double().flatten(1), b.detach().double().flatten(1)
    d2 = squared_distances(torch.cat([a, b]))
    kernel, m = mixture_kernel(d2, median_bandwidth(d2)), len(a)
    return (kernel[:m, :m].mean() + kernel[m:, m:].mean() - 2 * kernel[:m, m:].mean()).item()
