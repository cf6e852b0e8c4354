"""The density a model learned on 2-D data, on a grid, beside the true one: the picture that shows
mode dropping and smeared modes at a glance (the report draws it).

Computed once per cell by the host, right after sampling, for 2-D data and a model with
``log_prob`` (exact, or estimated as for an energy-based model's log Z, which moves the picture by
a constant only); saved as ``samples/<cell>.density.pt``. The grid spans the test split's range
with a margin, so the two pictures share axes across every model of a dataset.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..api.dataset import Dataset
from ..api.model import Model

GRID = 64     # points per axis: 4,096 evaluations, the cost of scoring a toy test split once
MARGIN = 0.1  # of the data's range, on each side


def grid_axes(dataset: Dataset, size: int = GRID) -> tuple[np.ndarray, np.ndarray]:
    """``(x, y)``: ``size`` evenly spaced points per axis over the test split's range and a margin."""
    low, high = dataset.test.min(axis=0).astype(np.float64), dataset.test.max(axis=0).astype(np.float64)
    pad = MARGIN * (high - low)
    return np.linspace(low[0] - pad[0], high[0] + pad[0], size), np.linspace(low[1] - pad[1], high[1] + pad[1], size)


@torch.no_grad()
def density_grid(model: Model, dataset: Dataset, device: str, batch_size: int) -> dict | None:
    """Model and true log-density on the grid (row i is y[i], column j is x[j]), or None when the
    data is not 2-D or the model has no ``log_prob``."""
    if dataset.shape != (2,) or not model.supports("log_prob"):
        return None
    xs, ys = grid_axes(dataset)
    points = np.stack(np.meshgrid(xs, ys), axis=-1).reshape(-1, 2)  # (G*G, 2), x varying fastest
    batches = torch.as_tensor(points, dtype=torch.float32, device=device).split(batch_size)
    log_prob = torch.cat([model.log_prob(batch).double().cpu() for batch in batches]).reshape(len(ys), len(xs))
    true = None if dataset.log_density is None else torch.as_tensor(dataset.log_density(points)).double().reshape(len(ys), len(xs))
    return {"x": torch.as_tensor(xs), "y": torch.as_tensor(ys), "log_prob": log_prob, "true_log_prob": true,
            "exactness": model.log_prob_exactness}


def save_density_grid(grid: dict, stem: Path) -> None:
    stem.parent.mkdir(parents=True, exist_ok=True)
    torch.save(grid, stem.parent / f"{stem.name}.density.pt")
