"""A ring: points at a fixed radius with Gaussian noise across it, generated from a seed.

A dataset plugin never downloads: this one is generated, so it is the same on every machine. The
splits come from ``split_by_seed`` with the dataset's own ``data_seed``, never the cell's seed, so
every seed of a suite sees the same test set. Only numpy is imported.
"""

from __future__ import annotations

import numpy as np

from benchbench import Dataset, split_by_seed


def ring(n: int = 3000, radius: float = 2.0, noise: float = 0.1, data_seed: int = 0) -> Dataset:
    """The factory named in the spec: ``factory(**params)``, every parameter given."""
    rng = np.random.default_rng(data_seed)
    angle = rng.uniform(0, 2 * np.pi, n)
    r = radius + noise * rng.standard_normal(n)
    points = np.stack([r * np.cos(angle), r * np.sin(angle)], axis=1)  # (n, 2)
    (train, val, test), _ = split_by_seed(points, None, sizes=(0.1, 0.2), seed=data_seed)
    return Dataset("example-ring", train, val, test, kind="continuous",
                   description=f"{n} points on a ring of radius {radius} with noise {noise}")
