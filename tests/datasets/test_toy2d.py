"""The 2D toy densities: shapes, seeding, and exact log-densities checked by integration and scipy."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import multivariate_normal

from benchbench import Dataset
from benchbench_plugins.datasets import toy2d

SPECS = {spec.name: spec for spec in toy2d.benchbench_datasets()}
SMALL = {"n_train": 2000, "n_val": 300, "n_test": 500}


def load(name: str, **params: object) -> Dataset:
    """Build through the plugin's spec, as the runner does: defaults overridden by ``params``."""
    spec = SPECS[name]
    return spec.resolve()(**{**spec.defaults(), **SMALL, **params})


def grid_integral(log_density, half_width: float, n: int = 801) -> float:
    """Riemann sum of exp(log p) over the square [-half_width, half_width]^2."""
    ticks = np.linspace(-half_width, half_width, n)
    xx, yy = np.meshgrid(ticks, ticks, indexing="ij")
    points = np.stack([xx.ravel(), yy.ravel()], 1)
    return float(np.exp(log_density(points)).sum() * (ticks[1] - ticks[0]) ** 2)


def test_the_plugin_offers_the_five_densities() -> None:
    assert set(SPECS) == {"8gaussians", "25gaussians", "moons", "swissroll", "checkerboard"}


@pytest.mark.parametrize("name", sorted(SPECS))
def test_splits_have_the_asked_sizes_and_are_continuous_2d(name: str) -> None:
    data = load(name)
    assert (data.train.shape, data.val.shape, data.test.shape) == ((2000, 2), (300, 2), (500, 2))
    assert data.kind == "continuous" and data.train.dtype == np.float32
    assert np.isfinite(data.train).all() and np.abs(data.train).max() < 6


@pytest.mark.parametrize("name", sorted(SPECS))
def test_data_is_fixed_by_its_seed(name: str) -> None:
    first, again, other = load(name), load(name), load(name, data_seed=1)
    np.testing.assert_array_equal(first.test, again.test)
    assert not np.allclose(first.test, other.test)
    assert not np.allclose(first.train[:300], first.val)  # each split has its own stream


def test_train_set_does_not_depend_on_the_test_size() -> None:
    np.testing.assert_array_equal(load("moons").train, load("moons", n_test=10).train)


@pytest.mark.parametrize(("name", "k"), [("8gaussians", 8), ("25gaussians", 25)])
def test_mixture_labels_name_the_component_each_point_came_from(name: str, k: int) -> None:
    data = load(name)
    assert data.num_classes == k and data.modes.shape == (k, 2)
    assert set(np.unique(data.train_labels)) == set(range(k))
    std = SPECS[name].defaults()["std"]
    offsets = data.train - data.modes[data.train_labels]
    assert offsets.std() == pytest.approx(std, rel=0.05)
    assert np.abs(offsets.mean(0)).max() < 0.05


def test_8gaussians_centres_lie_on_the_ring() -> None:
    modes = load("8gaussians", radius=3.0).modes
    np.testing.assert_allclose(np.linalg.norm(modes, axis=1), 3.0, rtol=1e-6)


@pytest.mark.parametrize("name", ["8gaussians", "25gaussians"])
def test_mixture_log_density_matches_scipy(name: str) -> None:
    data = load(name, std=0.3)
    components = [multivariate_normal(mean, 0.3**2 * np.eye(2)) for mean in data.modes.astype(np.float64)]
    x = np.concatenate([data.test[:100], np.random.default_rng(0).uniform(-4, 4, (100, 2))])
    expected = np.log(np.mean([c.pdf(x) for c in components], axis=0))
    np.testing.assert_allclose(data.log_density(x), expected, rtol=1e-6)


@pytest.mark.parametrize("name", ["8gaussians", "25gaussians"])
def test_mixture_density_integrates_to_one(name: str) -> None:
    assert grid_integral(load(name).log_density, half_width=4.5) == pytest.approx(1.0, abs=1e-3)


def test_mixture_nll_of_its_own_data_is_its_entropy() -> None:
    """Well separated modes: entropy = log K + log(2 pi e std^2), in nats."""
    data = load("8gaussians", n_test=20_000)
    entropy = math.log(8) + math.log(2 * math.pi * math.e * 0.2**2)
    assert -data.log_density(data.test).mean() == pytest.approx(entropy, abs=0.02)


def test_checkerboard_density_is_uniform_on_its_squares() -> None:
    data = load("checkerboard")
    assert grid_integral(data.log_density, half_width=5.0, n=1001) == pytest.approx(1.0, abs=0.01)
    np.testing.assert_allclose(data.log_density(data.train), -math.log(32))
    off_board = np.array([[1.0, -1.0], [-1.0, 1.0], [4.5, 0.0], [0.0, -4.5]])  # empty squares, outside
    assert np.isneginf(data.log_density(off_board)).all()
    assert np.isfinite(data.log_density(np.array([[1.0, 1.0], [-3.0, -3.0], [3.0, 3.0]]))).all()


@pytest.mark.parametrize("name", ["moons", "swissroll"])
def test_curves_say_they_have_no_density(name: str) -> None:
    data = load(name)
    assert data.log_density is None and data.modes is None and not data.has_labels
    assert "no closed-form density" in data.description
