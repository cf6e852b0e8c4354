"""Pixels drawn without matplotlib figures: orientation, the shared view, what falls outside it."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from benchbench.report.images import PIXELS, View, colour_range, density_png, scatter_png


def pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)


def test_a_scatter_keeps_the_views_aspect_and_counts_points_outside_it():
    view = View(-2.0, 2.0, -1.0, 1.0)
    assert view.size == (PIXELS, PIXELS // 2)
    points = np.array([[1.5, 0.5], [5.0, 0.0], [0.0, -9.0], [np.nan, 0.0]])
    png, outside = scatter_png(points, view)
    image = pixels(png)
    assert image.shape == (PIXELS // 2, PIXELS, 3) and outside == 3
    ys, xs = np.nonzero(image.sum(-1) < 3 * 255)  # the one point inside, in the top-right quarter
    assert len(ys) and xs.min() > PIXELS / 2 and ys.max() < PIXELS / 4


def test_the_data_is_drawn_behind_the_samples():
    view = View(0.0, 1.0, 0.0, 1.0)
    png, _ = scatter_png(np.array([[0.25, 0.25]]), view, behind=np.array([[0.75, 0.75]]))
    colours = {tuple(c) for c in pixels(png).reshape(-1, 3)} - {(255, 255, 255)}
    assert (205, 205, 205) in colours and any(b > r for r, g, b in colours)  # grey data, blue sample


def test_a_density_map_puts_its_last_row_at_the_top():
    """Row i of ``log_prob`` is y[i], y ascending: the highest y belongs at the top of the picture."""
    log_prob = np.full((4, 4), -10.0)
    log_prob[-1] = 0.0
    image = pixels(density_png(log_prob, *colour_range(log_prob)))
    assert image[0].mean() > image[-1].mean() + 50  # yellow above dark purple


def test_the_colour_scale_spans_twelve_nats_below_the_peak_and_ignores_minus_infinity():
    assert colour_range(np.array([[-np.inf, -3.0], [0.5, np.nan]])) == (-11.5, 0.5)
    assert View.of_grid(np.array([-1.0, 0.0, 2.0]), np.array([3.0, 4.0])) == View(-1.0, 2.0, 3.0, 4.0)
