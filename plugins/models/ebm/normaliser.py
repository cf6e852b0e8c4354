"""The normaliser ``log Z = log ∫ exp(−E(x)) dx`` of a trained energy, computed once after training.

Its estimate is what makes ``log p(x) = −E(x) − log Z`` an ``estimate``; how it was made goes into
the protocol of every likelihood number (:meth:`Normaliser.__call__` returns both).

* **Grid quadrature** (data of 1 or 2 dimensions): the midpoint rule on ``grid`` cells per axis
  over the train data's range widened by ``grid_margin`` of the range on each side,

      Z_in = Σ_cells exp(−E(c)) · ΔA                (``logsumexp`` of −E plus log of the cell area).

  The mass outside that box is estimated on a second grid of twice the span (cells twice as
  wide), counting only its cells outside the first box, and added: ``Z = Z_in + Z_out``; the
  fraction ``Z_out / Z`` is reported as ``grid_mass_outside``. What lies beyond the wide grid is
  missed. For a smooth, decaying integrand the midpoint rule's error falls faster than any power of
  the cell size; a density restricted to ``[0, 1]^D`` is integrated over exactly that cube.
* **Annealed importance sampling** (more dimensions; Neal 2001, :func:`benchbench.mcmc.ais`): from
  a tractable base along the geometric path to ``exp(−E)``. For images and data with levels the
  base is the uniform density on the cube (the model's support, ``log Z_base = 0``), and the chains
  run in logit coordinates ``u = logit(x)``, where the integrand is ``exp(−E(σ(u))) Π σ'(u)`` with the
  same ``Z`` and the base the standard logistic: a MALA proposal in ``x`` would have to keep all D
  coordinates in the cube, and digits lie on its faces, so almost every one would be rejected.
  Otherwise the base is the full-covariance Gaussian fitted to the train split. ``ais_steps``
  intermediate distributions, ``ais_chains`` chains, one MALA step each whose size starts at the
  sampler's and adapts. AIS's estimate of ``log Z`` is biased low in expectation (Jensen), so its ``log p`` is
  biased high; the effective sample size and standard error of the weights are reported with it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from benchbench import Dataset, mcmc

from .densities import Gaussian, Logistic, log_sigmoid_jacobian
from .support import Support, data_box

GRID_CHUNK = 65_536  # grid points per forward pass of the energy


@dataclass(frozen=True)
class LogZ:
    """``log Z`` in nats and how it was obtained (``log_z_method`` and its settings)."""

    value: float
    protocol: dict[str, Any] = field(default_factory=dict)


def cell_midpoints(low: list[float], high: list[float], grid: int) -> tuple[torch.Tensor, float]:
    """The ``grid^D`` midpoints ``(grid^D, D)`` of a regular grid on the box, and log of one cell's volume."""
    axes = [torch.linspace(a, b, grid + 1, dtype=torch.float64) for a, b in zip(low, high)]
    mids = [(t[:-1] + t[1:]) / 2 for t in axes]
    points = torch.stack(torch.meshgrid(*mids, indexing="ij"), -1).reshape(-1, len(low))
    return points, sum(math.log((b - a) / grid) for a, b in zip(low, high))


@torch.no_grad()
def log_integrand(log_density: mcmc.LogDensity, points: torch.Tensor, shape: tuple[int, ...],
                  like: torch.Tensor) -> torch.Tensor:
    """``log f`` at ``points`` ``(M, D)`` as examples of ``shape``, chunked, float64 on the CPU."""
    values = [log_density(chunk.to(like).view(len(chunk), *shape)).double().cpu() for chunk in points.split(GRID_CHUNK)]
    return torch.cat(values)


def widened(low: list[float], high: list[float], factor: float) -> tuple[list[float], list[float]]:
    """The box of ``factor`` times the span, with the same centre."""
    centre = [(a + b) / 2 for a, b in zip(low, high)]
    half = [factor * (b - a) / 2 for a, b in zip(low, high)]
    return [c - h for c, h in zip(centre, half)], [c + h for c, h in zip(centre, half)]


class Normaliser(nn.Module):
    """Computes ``log Z`` of ``log f = −E`` (a callable on examples); the model caches the result."""

    def forward(self, log_density: mcmc.LogDensity, like: torch.Tensor) -> LogZ:  # like: device and dtype
        raise NotImplementedError


class GridNormaliser(Normaliser):
    """Grid quadrature on ``[low, high]`` (per dimension), plus the ring of a twice-as-wide grid
    unless ``bounded`` (the density lives only in the box); see the module docstring."""

    def __init__(self, shape: tuple[int, ...], low: list[float], high: list[float], grid: int, bounded: bool):
        super().__init__()
        self.shape, self.low, self.high, self.grid, self.bounded = shape, low, high, grid, bounded

    def forward(self, log_density: mcmc.LogDensity, like: torch.Tensor) -> LogZ:
        points, log_cell = cell_midpoints(self.low, self.high, self.grid)
        log_z = torch.logsumexp(log_integrand(log_density, points, self.shape, like), 0).item() + log_cell
        protocol = {"log_z_method": "grid", "grid": self.grid, "grid_low": self.low, "grid_high": self.high,
                    "grid_rule": "midpoint"}
        if self.bounded:
            return LogZ(log_z, {**protocol, "grid_mass_outside": 0.0})  # the density lives in the cube
        log_outside = self.log_mass_outside(log_density, like)
        total = float(torch.logaddexp(torch.tensor(log_z), torch.tensor(log_outside)))
        wide_low, wide_high = widened(self.low, self.high, 2.0)
        return LogZ(total, {**protocol, "grid_mass_outside": math.exp(log_outside - total),
                            "outside_grid_low": wide_low, "outside_grid_high": wide_high})

    def log_mass_outside(self, log_density: mcmc.LogDensity, like: torch.Tensor) -> float:
        """log of the mass between the grid's box and the box of twice its span, on a grid as fine."""
        wide_low, wide_high = widened(self.low, self.high, 2.0)
        points, log_cell = cell_midpoints(wide_low, wide_high, self.grid)
        outside = ((points < torch.tensor(self.low, dtype=points.dtype))
                   | (points > torch.tensor(self.high, dtype=points.dtype))).any(1)
        values = log_integrand(log_density, points[outside], self.shape, like)
        return torch.logsumexp(values, 0).item() + log_cell


def in_logits(log_density: mcmc.LogDensity) -> mcmc.LogDensity:
    """``log f`` on the cube seen in ``u = logit(x)``: ``log f(σ(u)) + Σ log σ'(u)``, the same integral."""
    return lambda u: log_density(torch.sigmoid(u)) + log_sigmoid_jacobian(u)


class AISNormaliser(Normaliser):
    """AIS from ``base`` (a module with ``sample`` and a normalised ``log_prob``); see the module docstring."""

    def __init__(self, base: nn.Module, base_name: str, steps: int, chains: int, step_size: float, logits: bool):
        super().__init__()
        self.base, self.base_name, self.steps, self.chains = base, base_name, steps, chains
        self.step_size, self.logits = step_size, logits

    def forward(self, log_density: mcmc.LogDensity, like: torch.Tensor) -> LogZ:
        target = in_logits(log_density) if self.logits else log_density
        result = mcmc.ais(target, self.base, self.chains, self.steps, self.step_size, "mala")  # type: ignore[arg-type]
        return LogZ(result.log_z, {
            "log_z_method": "ais", "ais_steps": self.steps, "ais_chains": self.chains, "ais_base": self.base_name,
            "ais_coordinates": "u = logit(x)" if self.logits else "x",
            "ais_transition": "mala, one step per distribution, step size adapted towards acceptance 0.65",
            "ais_schedule": "sigmoid (Grosse et al. 2015)", "ais_initial_step_size": self.step_size,
            "ais_acceptance_rate": result.stats.acceptance_rate, "ais_ess": result.ess,
            "ais_log_z_sem": result.log_z_sem})


def for_data(data: Dataset, support: Support, grid: int, grid_margin: float, ais_steps: int, ais_chains: int,
             step_size: float) -> Normaliser:
    """A grid on data of at most 2 dimensions (over the cube, or the train data's widened box), AIS otherwise."""
    train = torch.as_tensor(data.train)
    if data.dim <= 2:
        low, high = (torch.zeros_like(train[0]), torch.ones_like(train[0])) if support.bounded else data_box(train, grid_margin)
        return GridNormaliser(data.shape, low.flatten().tolist(), high.flatten().tolist(), grid, support.bounded)
    if support.bounded:
        return AISNormaliser(Logistic(data.shape), "uniform on the cube [0, 1]^D", ais_steps, ais_chains, step_size,
                             logits=True)
    return AISNormaliser(Gaussian.fit(train), "full-covariance Gaussian fitted to the train split", ais_steps,
                         ais_chains, step_size, logits=False)
