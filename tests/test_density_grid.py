"""The learned density on a grid for 2-D data, beside the true one, oriented as the report draws it."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from benchbench.engine.density_grid import GRID, density_grid, grid_axes
from fakes import Gaussian, blobs


def gaussian_blobs():
    data = blobs()
    data.log_density = lambda x: -0.5 * (x ** 2).sum(1) - math.log(2 * math.pi)  # N(0, I), the blob's own
    return data


def test_row_i_is_y_i_and_column_j_is_x_j():
    model, data = Gaussian(), gaussian_blobs()
    with torch.no_grad():
        model.mean.copy_(torch.tensor([0.5, -1.0]))
    grid = density_grid(model, data, "cpu", batch_size=100)
    xs, ys = grid["x"].numpy(), grid["y"].numpy()
    assert grid["log_prob"].shape == grid["true_log_prob"].shape == (GRID, GRID)
    for i, j in [(0, 0), (3, 50), (63, 10)]:
        point = torch.tensor([[xs[j], ys[i]]], dtype=torch.float32)
        assert grid["log_prob"][i, j].item() == pytest.approx(model.log_prob(point).item(), rel=1e-6)
        assert grid["true_log_prob"][i, j].item() == pytest.approx(data.log_density(np.array([[xs[j], ys[i]]]))[0])
    assert grid["exactness"] == "exact"


def test_the_grid_covers_the_test_split_with_a_margin():
    data = gaussian_blobs()
    xs, ys = grid_axes(data)
    assert xs[0] < data.test[:, 0].min() and xs[-1] > data.test[:, 0].max()
    assert ys[0] < data.test[:, 1].min() and ys[-1] > data.test[:, 1].max()


def test_no_grid_without_a_density_or_off_the_plane():
    class NoDensity(Gaussian):
        capabilities = frozenset()

    assert density_grid(NoDensity(), gaussian_blobs(), "cpu", 64) is None
    flat = gaussian_blobs()
    flat.test = np.zeros((4, 3), dtype=np.float32)
    flat.train = flat.val = flat.test
    assert density_grid(Gaussian(), flat, "cpu", 64) is None


def test_the_runner_saves_it_beside_the_samples(tmp_path):
    from benchbench.engine.runner import run_suite
    from fakes import runnable_registry, write_runnable_suite

    path = write_runnable_suite(tmp_path / "fake.toml", steps=5)
    outcome = run_suite(path, results_root=tmp_path / "results", run_id="r", registry=runnable_registry(), progress=False,
                        echo=lambda s: None)
    saved = sorted(p.name for p in (outcome.run_dir / "samples").glob("*.density.pt"))
    assert len(saved) == 2 and all(name.startswith("blobs__gaussian__ok__seed") for name in saved)
    grid = torch.load(outcome.run_dir / "samples" / saved[0], weights_only=True)
    assert grid["log_prob"].shape == (GRID, GRID) and grid["true_log_prob"] is None
