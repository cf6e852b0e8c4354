"""2D toy densities: the standard pictures on which density models and GANs are first checked.

* ``8gaussians``: eight Gaussians on a ring, the mode-collapse test of WGAN-GP (Gulrajani et al.
  2017) and of FFJORD's toy figures (Grathwohl et al. 2019).
* ``25gaussians``: a 5 x 5 grid of Gaussians (WGAN-GP; VEEGAN, Srivastava et al. 2017; PacGAN).
* ``moons``: scikit-learn's two interleaving half circles, placed as in FFJORD's ``toy_data.py``.
* ``swissroll``: a 2D spiral (diffusion models' first picture, Sohl-Dickstein et al. 2015; FFJORD).
* ``checkerboard``: uniform on 8 of the 16 squares of a 4 x 4 board (FFJORD's ``toy_data.py``).

The mixtures and the checkerboard have an exact density, so a model's NLL can be compared with
the data's own entropy; moons and the swiss roll have none (their noise is added to a curve).
Each split is drawn from its own stream of ``data_seed``, so every cell seed sees the same data and
changing ``n_test`` does not change the training set. Only numpy is imported.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial

import numpy as np

import benchbench
from benchbench import Dataset, DatasetSpec, Param

Sampler = Callable[[np.random.Generator, int], tuple[np.ndarray, np.ndarray | None]]
BOARD_CELL = 2.0  # side of one checkerboard square; the board spans [-4, 4]^2


# -------------------------------------------------------------------------------------------------
# Gaussian mixtures: equal weights, isotropic, one std for every component.
# -------------------------------------------------------------------------------------------------


def ring_centres(k: int = 8, radius: float = 2.0) -> np.ndarray:
    """``(k, 2)`` points evenly spaced on a circle, the first on the positive x axis."""
    angles = 2 * np.pi * np.arange(k) / k
    return radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)


def grid_centres(side: int = 5, spacing: float = 1.0) -> np.ndarray:
    """``(side**2, 2)`` points of a square grid centred at the origin, row by row."""
    ticks = spacing * (np.arange(side) - (side - 1) / 2)
    return np.stack(np.meshgrid(ticks, ticks, indexing="ij"), axis=-1).reshape(-1, 2)


def mixture_log_density(x: np.ndarray, centres: np.ndarray, std: float) -> np.ndarray:
    """Exact log p(x) in nats, ``(N, 2) -> (N,)``: log (1/K) sum_k N(x; mu_k, std^2 I)."""
    from scipy.special import logsumexp

    sq = ((x[:, None, :] - centres[None, :, :]) ** 2).sum(-1)  # (N, K)
    log_norm = -math.log(len(centres)) - math.log(2 * math.pi * std**2)
    return logsumexp(-sq / (2 * std**2), axis=1) + log_norm


def _sample_mixture(rng: np.random.Generator, n: int, centres: np.ndarray, std: float) -> tuple[np.ndarray, np.ndarray]:
    labels = rng.integers(len(centres), size=n)
    return centres[labels] + std * rng.standard_normal((n, 2)), labels


# -------------------------------------------------------------------------------------------------
# Curves with noise: no closed-form density.
# -------------------------------------------------------------------------------------------------


def _sample_moons(rng: np.random.Generator, n: int, noise: float) -> tuple[np.ndarray, None]:
    """scikit-learn's ``make_moons`` with random angles, then FFJORD's ``2x + (-1, -0.2)``."""
    t = rng.uniform(0, np.pi, size=n)
    upper = rng.random(n) < 0.5
    outer, inner = np.stack([np.cos(t), np.sin(t)], 1), np.stack([1 - np.cos(t), 0.5 - np.sin(t)], 1)
    curve = np.where(upper[:, None], outer, inner)
    points = curve + noise * rng.standard_normal((n, 2))
    return 2 * points + np.array([-1.0, -0.2]), None


def _sample_swissroll(rng: np.random.Generator, n: int, noise: float) -> tuple[np.ndarray, None]:
    """scikit-learn's ``make_swiss_roll`` seen from above, divided by 5 as in FFJORD."""
    t = 1.5 * np.pi * (1 + 2 * rng.random(n))
    return np.stack([t * np.cos(t), t * np.sin(t)], 1) / 5 + noise * rng.standard_normal((n, 2)), None


# -------------------------------------------------------------------------------------------------
# Checkerboard: uniform on the 8 squares (i, j) of {-2, ..., 1}^2 with i + j even, scaled by 2.
# -------------------------------------------------------------------------------------------------


def _board_cells() -> np.ndarray:
    cells = np.stack(np.meshgrid(np.arange(-2, 2), np.arange(-2, 2), indexing="ij"), -1).reshape(-1, 2)
    return cells[cells.sum(1) % 2 == 0]


def checkerboard_log_density(x: np.ndarray) -> np.ndarray:
    """Exact log p(x) in nats: -log(32) on the filled squares (8 of area 4), -inf elsewhere.

    Squares are taken as closed, so a sample rounded onto an edge when stored as float32 still
    counts as inside; edges have measure zero, so the density still integrates to one.
    """
    low = _board_cells() * BOARD_CELL  # (8, 2) lower-left corners
    offset = x[:, None, :] - low[None]  # (N, 8, 2)
    inside = ((offset >= 0) & (offset <= BOARD_CELL)).all(-1).any(-1)
    return np.where(inside, -math.log(len(low) * BOARD_CELL**2), -np.inf)


def _sample_checkerboard(rng: np.random.Generator, n: int) -> tuple[np.ndarray, None]:
    cells = _board_cells()[rng.integers(8, size=n)]
    return (cells + rng.random((n, 2))) * BOARD_CELL, None


# -------------------------------------------------------------------------------------------------
# Factories: called with every parameter of the spec (defaults overridden by the suite).
# -------------------------------------------------------------------------------------------------


def _build(name: str, sample: Sampler, sizes: tuple[int, int, int], data_seed: int, **meta: object) -> Dataset:
    """Draw each split from its own stream ``(data_seed, split index)``."""
    (train, y_train), (val, y_val), (test, y_test) = (
        sample(np.random.default_rng([data_seed, i]), n) for i, n in enumerate(sizes)
    )
    return Dataset(
        name=name, train=train, val=val, test=test, kind="continuous",
        train_labels=y_train, val_labels=y_val, test_labels=y_test, **meta,  # type: ignore[arg-type]
    )


def _mixture(name: str, centres: np.ndarray, std: float, sizes: tuple[int, int, int], data_seed: int) -> Dataset:
    return _build(
        name, partial(_sample_mixture, centres=centres, std=std), sizes, data_seed,
        num_classes=len(centres), modes=centres.astype(np.float32),
        log_density=partial(mixture_log_density, centres=centres, std=std),
        description=f"{len(centres)} equally weighted Gaussians of std {std}; labels: the component; exact density.",
    )


def make_8gaussians(*, n_train: int, n_val: int, n_test: int, data_seed: int, std: float, radius: float) -> Dataset:
    return _mixture("8gaussians", ring_centres(8, radius), std, (n_train, n_val, n_test), data_seed)


def make_25gaussians(*, n_train: int, n_val: int, n_test: int, data_seed: int, std: float, spacing: float) -> Dataset:
    return _mixture("25gaussians", grid_centres(5, spacing), std, (n_train, n_val, n_test), data_seed)


def make_moons(*, n_train: int, n_val: int, n_test: int, data_seed: int, noise: float) -> Dataset:
    return _build(
        "moons", partial(_sample_moons, noise=noise), (n_train, n_val, n_test), data_seed,
        description=f"Two moons with Gaussian noise {noise} (before the x2 scaling); no closed-form density.",
    )


def make_swissroll(*, n_train: int, n_val: int, n_test: int, data_seed: int, noise: float) -> Dataset:
    return _build(
        "swissroll", partial(_sample_swissroll, noise=noise), (n_train, n_val, n_test), data_seed,
        description=f"2D swiss roll with Gaussian noise {noise}; no closed-form density.",
    )


def make_checkerboard(*, n_train: int, n_val: int, n_test: int, data_seed: int) -> Dataset:
    return _build(
        "checkerboard", _sample_checkerboard, (n_train, n_val, n_test), data_seed,
        log_density=checkerboard_log_density,
        description="Uniform on 8 squares of side 2 in [-4, 4]^2; exact log-density -log 32 inside.",
    )


# -------------------------------------------------------------------------------------------------
# Plugin hook
# -------------------------------------------------------------------------------------------------

SIZES = (
    Param("n_train", 20_000, "training points"),
    Param("n_val", 5_000, "validation points"),
    Param("n_test", 5_000, "test points"),
    Param("data_seed", 0, "seed of the generator that draws every split; the same for every cell seed"),
)


def _spec(name: str, summary: str, *extra: Param) -> DatasetSpec:
    factory = f"{__name__}:make_{name}"
    return DatasetSpec(name=name, summary=summary, factory=factory, params=SIZES + extra)


@benchbench.hookimpl
def benchbench_datasets() -> list[DatasetSpec]:
    # Mixture widths keep neighbouring modes >= 7 std apart, so mode coverage is unambiguous while
    # a small flow can still fit them (WGAN-GP's std 0.02 is much sharper).
    return [
        _spec("8gaussians", "8 Gaussians on a ring of radius 2 (exact density, 8 modes)",
              Param("std", 0.2, "std of each component"),
              Param("radius", 2.0, "radius of the ring of centres")),
        _spec("25gaussians", "5x5 grid of Gaussians (exact density, 25 modes)",
              Param("std", 0.1, "std of each component"),
              Param("spacing", 1.0, "distance between neighbouring centres")),
        _spec("moons", "two interleaving half circles (no closed-form density)",
              Param("noise", 0.1, "std of the noise, before the x2 scaling")),
        _spec("swissroll", "2D swiss roll spiral (no closed-form density)",
              Param("noise", 0.2, "std of the noise (FFJORD's 1.0, divided by 5 like the roll)")),
        _spec("checkerboard", "uniform on a 4x4 checkerboard's filled squares (exact density)"),
    ]
