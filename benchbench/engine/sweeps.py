"""Sweeps in suites: a model entry's ``sweep`` (a grid over every listed parameter) and
``sweep_zip`` (values paired by position) expand into points, each a model entry of its own,
named ``<name>[key=value,...]`` so that its cells, its leaderboard rows and ``bench compare``'s
matching all carry the swept values.

.. code-block:: toml

    [[models]]
    family = "vae"
    params = { latent_dim = 8 }
    sweep = { lr = [1e-3, 3e-4], hidden = [64, 256] }      # 4 points: every combination
    sweep_zip = { beta = [1.0, 4.0], kl_warmup = [0, 1000] } # x 2 points: (1.0, 0), (4.0, 1000)

Grid and paired parts combine as a product; the point's values override ``params``. Every value is
checked as a parameter is, with the key path of the bad one (``models[0].sweep.lr[2]``). A metric
entry sweeps alike: its values' names end in the point (``nll_bits_per_dim[k=100]``).
"""

from __future__ import annotations

import itertools
from typing import Any


def points(grid: dict[str, list[Any]], paired: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """Every combination of ``grid``'s values, times ``paired``'s values taken position by position;
    ``[{}]`` when nothing is swept. Keys keep the suite's order, grid keys first."""
    grid_points = [dict(zip(grid, values)) for values in itertools.product(*grid.values())]
    paired_points = [dict(zip(paired, values)) for values in zip(*paired.values())] if paired else [{}]
    return [{**g, **p} for g in grid_points for p in paired_points]


def label(point: dict[str, Any]) -> str:
    """``[lr=0.001,hidden=64]``, or '' for the point of an entry that sweeps nothing."""
    return f"[{','.join(f'{key}={_text(value)}' for key, value in point.items())}]" if point else ""


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return f"{value:g}" if isinstance(value, float) else str(value)
