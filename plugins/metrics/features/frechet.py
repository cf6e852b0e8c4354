"""The Fréchet distance between two Gaussians fitted to feature sets: the last step of FID.

Heusel et al., 2017, "GANs trained by a two time-scale update rule converge to a local Nash
equilibrium" (NeurIPS): with means ``μ`` and covariances ``Σ`` of the two feature sets,

    d² = |μ₁ - μ₂|² + tr Σ₁ + tr Σ₂ - 2 tr (Σ₁^½ Σ₂ Σ₁^½)^½,

the squared 2-Wasserstein distance between N(μ₁, Σ₁) and N(μ₂, Σ₂) (Dowson & Landau, 1982).

The usual code (TTUR, pytorch-fid) takes ``scipy.linalg.sqrtm(Σ₁ Σ₂)``, a Schur decomposition of a
non-symmetric matrix; torch-fidelity sums the square roots of the eigenvalues of ``Σ₁ Σ₂``, also
non-symmetric. Both are slow for 2048 dimensions. Here only symmetric work is done: with a factor
``Σ₁ = A Aᵀ``, ``Aᵀ Σ₂ A`` is symmetric positive semi-definite and has the eigenvalues of ``Σ₁ Σ₂``
(``AB`` and ``BA`` share eigenvalues), so the trace term is ``Σ sqrt(eigvalsh(Aᵀ Σ₂ A))``. ``A`` is
the Cholesky factor when ``Σ₁`` is positive definite (more samples than dimensions), otherwise
``V diag(sqrt λ)`` from its symmetric eigendecomposition; eigenvalues only, by LAPACK's QR
iteration (``driver="ev"``), the cheapest route to all eigenvalues. Eigenvalues that are rounding
noise around zero are dropped rather than square-rooted, which makes this more accurate than the
sqrtm formula on rank-deficient covariances (checked against 40-digit arithmetic in the tests).
``benchmarks/frechet.py`` times it against the sqrtm formula.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
import torch
from torch_fidelity.metric_fid import fid_features_to_statistics


def feature_statistics(features: torch.Tensor) -> dict[str, np.ndarray]:
    """Mean ``(D,)`` and covariance ``(D, D)`` of ``(N, D)`` features, by torch-fidelity's own code,
    in float64: given float32 features it returns a float32 mean, whose rounding (about 1e-7 of
    each feature's scale) shifts a small FID by about 1e-6 of its value."""
    return fid_features_to_statistics(features.detach().cpu().double())


def rank_tolerance(eigenvalues: np.ndarray) -> float:
    """Eigenvalues at or below this are rounding noise around zero (numpy's ``matrix_rank`` rule);
    their square roots, about ``1e-8`` each, would otherwise add up to a visible error."""
    return float(eigenvalues.max(initial=0.0)) * len(eigenvalues) * np.finfo(np.float64).eps


def psd_factor(sigma: np.ndarray) -> np.ndarray:
    """``A`` with ``A Aᵀ = Σ``: the Cholesky factor when ``Σ`` is positive definite, else
    ``V diag(sqrt λ)`` over the eigenvalues above :func:`rank_tolerance` (``(D, rank)``)."""
    try:
        return scipy.linalg.cholesky(sigma, lower=True, check_finite=False)
    except np.linalg.LinAlgError:
        eigenvalues, vectors = scipy.linalg.eigh(sigma, check_finite=False)
        keep = eigenvalues > rank_tolerance(eigenvalues)
        return vectors[:, keep] * np.sqrt(eigenvalues[keep])


def trace_sqrt_product(sigma1: np.ndarray, sigma2: np.ndarray) -> float:
    """``tr (Σ₁^½ Σ₂ Σ₁^½)^½``, i.e. the sum of the square roots of the eigenvalues of ``Σ₁ Σ₂``.

    A feature constant in either set (a dead ReLU unit) has a zero row and column in that
    covariance and adds nothing; it is dropped before any decomposition, exactly."""
    active = (np.diag(sigma1) > 0) & (np.diag(sigma2) > 0)
    if not active.any():
        return 0.0
    factor = psd_factor(sigma1[np.ix_(active, active)])
    inner = factor.T @ sigma2[np.ix_(active, active)] @ factor
    inner = (inner + inner.T) / 2  # exactly symmetric; eigh reads one triangle
    eigenvalues = scipy.linalg.eigh(inner, eigvals_only=True, driver="ev", check_finite=False)
    return float(np.sqrt(eigenvalues[eigenvalues > rank_tolerance(eigenvalues)]).sum())


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """Squared Fréchet distance between N(μ₁, Σ₁) and N(μ₂, Σ₂), in float64."""
    mu1, mu2, sigma1, sigma2 = (np.asarray(a, dtype=np.float64) for a in (mu1, mu2, sigma1, sigma2))
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape or sigma1.shape != mu1.shape * 2:
        raise ValueError(f"statistics do not match: means {mu1.shape}, {mu2.shape}; covariances {sigma1.shape}, {sigma2.shape}")
    for name, array in (("mean", mu1), ("mean", mu2), ("covariance", sigma1), ("covariance", sigma2)):
        if not np.isfinite(array).all():
            raise ValueError(f"a feature {name} is not finite")
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * trace_sqrt_product(sigma1, sigma2))
