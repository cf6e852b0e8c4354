"""benchbench.mcmc: the samplers against Gaussians whose moments and normalisers are known.

Each test compares with a closed form and prints the measured numbers (run with ``-s``). Many
short chains run in parallel, so each test takes a second or two.
"""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from benchbench import mcmc

pytestmark = pytest.mark.usefixtures("one_thread")

COV = torch.tensor([[1.0, 0.6], [0.6, 0.5]], dtype=torch.float64)  # eigenvalues 1.4 and 0.1
MEAN = torch.tensor([1.0, -2.0], dtype=torch.float64)
PRECISION = torch.linalg.inv(COV)


def gaussian_log_density(mean: torch.Tensor, precision: torch.Tensor) -> mcmc.LogDensity:
    """``−½ (x − μ)ᵀ P (x − μ)``, unnormalised."""
    return lambda x: -0.5 * (((x - mean) @ precision) * (x - mean)).sum(1)


def gaussian_log_z(precision: torch.Tensor) -> float:
    """``log ∫ exp(−½ (x − μ)ᵀ P (x − μ)) dx = (D/2) log 2π − ½ log det P``."""
    return 0.5 * len(precision) * math.log(2 * math.pi) - 0.5 * torch.logdet(precision).item()


def ula_stationary_covariance(precision: torch.Tensor, step_size: float) -> torch.Tensor:
    """ULA on a Gaussian is the AR(1) ``x' = (I − εP) x + √(2ε) ξ``: its stationary covariance is
    ``V (2ε / (1 − (1 − ελ)²)) Vᵀ`` in P's eigenbasis, i.e. ``1 / (λ (1 − ελ/2))`` per eigenvalue."""
    eigenvalues, vectors = torch.linalg.eigh(precision)
    return vectors @ torch.diag(1 / (eigenvalues * (1 - step_size * eigenvalues / 2))) @ vectors.T


def start(n: int, dim: int = 2) -> torch.Tensor:
    return 2 * torch.randn(n, dim, dtype=torch.float64)


def moments(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return x.mean(0), torch.cov(x.T)


# ---- Langevin and MALA ------------------------------------------------------------------------------


def test_langevin_with_a_small_step_reproduces_the_mean_and_covariance():
    torch.manual_seed(0)
    score = mcmc.score_of(gaussian_log_density(MEAN, PRECISION))
    x, stats = mcmc.langevin(score, start(8000), steps=1000, step_size=0.01)
    mean, cov = moments(x)
    print(f"\nULA eps 0.01: mean {mean.tolist()}, cov {cov.flatten().tolist()} (true {COV.flatten().tolist()})")
    assert torch.allclose(mean, MEAN, atol=0.04)  # standard errors 0.011 and 0.008
    assert torch.allclose(cov, ula_stationary_covariance(PRECISION, 0.01), rtol=0.06, atol=0.01)
    assert torch.allclose(cov, COV, rtol=0.1, atol=0.02)  # its O(eps) bias is 5% along the minor axis here
    assert stats.gradient_evals == 1000 and stats.acceptance_rate is None and stats.grad_norm > 0


def test_mala_removes_the_bias_that_langevin_has_at_a_large_step():
    """At ε = 0.1 ULA doubles the variance along the minor axis (ελ = 1); MALA's correction keeps
    p exactly invariant and pays with rejections, fewer at a smaller step."""
    torch.manual_seed(0)
    log_density = gaussian_log_density(MEAN, PRECISION)
    ula, _ = mcmc.langevin(mcmc.score_of(log_density), start(4000), steps=500, step_size=0.1)
    x, stats = mcmc.mala(log_density, start(4000), steps=500, step_size=0.1)
    _, small = mcmc.mala(log_density, start(2000), steps=100, step_size=0.01)
    minor = torch.linalg.eigh(COV)[1][:, 0]  # the direction of the smallest variance, 0.1
    ula_var, mala_var = (minor @ torch.cov(ula.T) @ minor).item(), (minor @ torch.cov(x.T) @ minor).item()
    print(f"\nminor-axis variance (true 0.1): ULA eps 0.1 {ula_var:.4f}, MALA eps 0.1 {mala_var:.4f}; MALA acceptance "
          f"eps 0.1 {stats.acceptance_rate:.3f}, eps 0.01 {small.acceptance_rate:.3f}")
    assert ula_var > 0.17  # ULA's stationary variance there is 0.2
    assert mala_var == pytest.approx(0.1, rel=0.08)  # standard error 2.2%
    mean, cov = moments(x)
    assert torch.allclose(mean, MEAN, atol=0.05) and torch.allclose(cov, COV, rtol=0.08, atol=0.015)
    assert 0 < stats.acceptance_rate < 1 and small.acceptance_rate > stats.acceptance_rate
    assert stats.gradient_evals == 501  # the start, then one per proposal


def truncated_normal_mean(mean: float, std: float, low: float, high: float) -> float:
    a, b = (low - mean) / std, (high - mean) / std
    pdf = lambda t: math.exp(-t * t / 2) / math.sqrt(2 * math.pi)
    cdf = lambda t: 0.5 * (1 + math.erf(t / math.sqrt(2)))
    return mean + std * (pdf(a) - pdf(b)) / (cdf(b) - cdf(a))


def test_mala_in_a_box_samples_the_density_restricted_to_it():
    """N(0.2, 0.5²) per coordinate restricted to [0, 1]²: proposals outside are rejected."""
    torch.manual_seed(0)
    log_density = gaussian_log_density(torch.full((2,), 0.2), torch.eye(2) / 0.25)
    x, stats = mcmc.mala(log_density, torch.rand(8000, 2), steps=300, step_size=0.02, bounds=(0.0, 1.0))
    expected = truncated_normal_mean(0.2, 0.5, 0.0, 1.0)
    print(f"\nMALA in [0, 1]^2: mean {x.mean(0).tolist()}, truncated-normal mean {expected:.4f}, "
          f"acceptance {stats.acceptance_rate:.3f}")
    assert x.min() >= 0 and x.max() <= 1
    assert torch.allclose(x.mean(0), torch.full((2,), expected), atol=0.01)  # standard error 0.003


def test_value_and_grad_works_under_no_grad_and_for_constants():
    with torch.no_grad():
        value, grad = mcmc.value_and_grad(lambda x: -(x**2).sum(1), torch.ones(3, 2))
        constant, zero = mcmc.value_and_grad(lambda x: torch.zeros(len(x)), torch.ones(3, 2))
    assert torch.equal(value, torch.full((3,), -2.0)) and torch.equal(grad, torch.full((3, 2), -2.0))
    assert torch.equal(zero, torch.zeros(3, 2)) and torch.equal(constant, torch.zeros(3))


# ---- annealed importance sampling -------------------------------------------------------------------


class StandardNormal:
    def __init__(self, dim: int):
        self.dim = dim

    def sample(self, n: int) -> torch.Tensor:
        return torch.randn(n, self.dim, dtype=torch.float64)

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        return -0.5 * (x**2).sum(1) - 0.5 * self.dim * math.log(2 * math.pi)


class UnitCube:
    def __init__(self, dim: int):
        self.dim = dim

    def sample(self, n: int) -> torch.Tensor:
        return torch.rand(n, self.dim, dtype=torch.float64)

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        return torch.zeros(len(x), dtype=torch.float64)


def test_ais_log_z_of_a_16_dimensional_gaussian_is_within_0_05_nats():
    """A non-isotropic (eigenvalues of Σ from 0.3 to about 3), non-centred Gaussian from N(0, I)."""
    torch.manual_seed(0)
    dim = 16
    a = torch.randn(dim, dim, dtype=torch.float64) / math.sqrt(dim)
    precision = torch.linalg.inv(a @ a.T + 0.3 * torch.eye(dim, dtype=torch.float64))
    mean = torch.randn(dim, dtype=torch.float64)
    result = mcmc.ais(gaussian_log_density(mean, precision), StandardNormal(dim), chains=2000, steps=500, step_size=0.1)
    exact = gaussian_log_z(precision)
    print(f"\nAIS 16-D: log Z {result.log_z:.4f}, closed form {exact:.4f}, difference {result.log_z - exact:+.4f} "
          f"(sem {result.log_z_sem:.4f}, ESS {result.ess:.0f} of 2000, acceptance {result.stats.acceptance_rate:.3f})")
    assert abs(result.log_z - exact) < 0.05
    assert 0 < result.stats.acceptance_rate < 1 and result.stats.gradient_evals == 501


def test_ais_in_a_box_integrates_the_density_over_the_box():
    """N(0.3, 0.2²) per coordinate over [0, 1]⁴ from the uniform base: Z = (√(2π) 0.2 ΔΦ)⁴."""
    torch.manual_seed(0)
    dim, mean, std = 4, 0.3, 0.2
    cdf = lambda t: 0.5 * (1 + math.erf((t - mean) / (std * math.sqrt(2))))
    exact = dim * math.log(math.sqrt(2 * math.pi) * std * (cdf(1) - cdf(0)))
    log_density = gaussian_log_density(torch.full((dim,), mean, dtype=torch.float64),
                                       torch.eye(dim, dtype=torch.float64) / std**2)
    result = mcmc.ais(log_density, UnitCube(dim), chains=1000, steps=300, step_size=0.01, bounds=(0.0, 1.0))
    print(f"\nAIS over [0, 1]^4: log Z {result.log_z:.4f}, closed form {exact:.4f}")
    assert abs(result.log_z - exact) < 0.05


def test_the_sigmoid_schedule_runs_from_0_to_1_and_is_dense_at_both_ends():
    betas = mcmc.sigmoid_schedule(100)
    assert len(betas) == 101 and betas[0] == 0 and betas[-1] == pytest.approx(1)
    gaps = [b - a for a, b in itertools.pairwise(betas)]
    assert all(g > 0 for g in gaps) and gaps[0] < gaps[50] > gaps[-1]


def test_ais_with_langevin_transitions_counts_one_gradient_per_step():
    torch.manual_seed(0)
    result = mcmc.ais(gaussian_log_density(MEAN, PRECISION), StandardNormal(2), chains=10, steps=20, step_size=0.01,
                      transition="langevin")
    assert result.stats.acceptance_rate is None and result.stats.gradient_evals == 21 and math.isfinite(result.log_z)
    with pytest.raises(ValueError, match="transition must be 'mala' or 'langevin'"):
        mcmc.ais(gaussian_log_density(MEAN, PRECISION), StandardNormal(2), chains=2, steps=2, step_size=0.1,
                 transition="hmc")
