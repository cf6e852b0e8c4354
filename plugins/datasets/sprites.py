"""dSprites-like sprites (procedural): binary images generated from five known factors of variation.

dSprites (Matthey et al. 2017) is the standard test bed of disentanglement (Higgins et al. 2017,
"beta-VAE"; Kim & Mnih 2018, "FactorVAE"; Locatello et al. 2019, "Challenging common assumptions"):
a white shape on black, 64 x 64, every combination of

* ``shape``: square, ellipse, heart;
* ``scale``: ``scales`` values evenly spaced in [0.5, 1] (dSprites: 6);
* ``orientation``: ``orientations`` angles ``2 pi k / orientations`` (dSprites: 40 in [0, 2 pi], both
  ends included; here 2 pi is left out, since it draws what 0 draws);
* ``position_x``, ``position_y``: ``positions`` places each (dSprites: 32), ``position_y`` counted in
  rows from the top.

These datasets are generated here, with numpy, from that grid: **dSprites-like, not the published
file**. Shapes, sizes and the range of positions are our own drawing, so numbers on them sit beside
published dSprites numbers only as ranges, never as the same measurement.

Drawing: each (shape, scale, orientation) is rasterised once onto a square canvas that holds the
largest shape at any angle, ``SUPERSAMPLE`` x ``SUPERSAMPLE`` points per pixel, a pixel set when at
least half of its points fall inside (so the data is binary, without anti-aliasing, and the same on
every machine). An image is that sprite pasted at a whole-pixel offset, the offsets evenly spaced
and centred in the frame, so moving a sprite never changes its pixels. The square's 90-degree and
the ellipse's 180-degree symmetries make some orientations draw the same image, as in dSprites; an
odd ``orientations`` (the CPU default, 5) avoids it.

Splits: each split's factors are drawn independently and uniformly from the grid, from its own
stream of ``data_seed`` (the generative process disentanglement_lib samples), and rendered. The
factors travel with the splits (``Dataset.train_factors``, ...), and ``Dataset.render`` draws the
images of any factors, which the BetaVAE and FactorVAE scores need. Only numpy is imported.
"""

from __future__ import annotations

import math
from functools import partial

import numpy as np

import benchbench
from benchbench import Dataset, DatasetSpec, Param

SHAPES = ("square", "ellipse", "heart")
FACTOR_NAMES = ("shape", "scale", "orientation", "position_x", "position_y")
SCALE_RANGE = (0.5, 1.0)  # as dSprites
RADIUS = 0.2  # every shape fits a disc of this radius, in image sides, at scale 1
SUPERSAMPLE = 4  # points per pixel side when a sprite is rasterised


# ---- shapes: indicator functions on the unit disc, (u, v) with v up -------------------------------


def inside_square(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    return np.maximum(np.abs(u), np.abs(v)) <= 0.62


def inside_ellipse(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    return u**2 + (v / 0.5) ** 2 <= 1.0


def inside_heart(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """The sextic heart ``(x^2 + y^2 - 1)^3 <= x^2 y^3`` (it spans y in [-1, 1.25]), scaled by 0.78
    and centred on its height."""
    x, y = u / 0.78, v / 0.78 + 0.125
    return (x**2 + y**2 - 1) ** 3 <= x**2 * y**3


INSIDE = (inside_square, inside_ellipse, inside_heart)


# ---- the grid: factor values and sprite placement -------------------------------------------------


def scale_values(scales: int) -> np.ndarray:
    return np.linspace(*SCALE_RANGE, scales) if scales > 1 else np.array([SCALE_RANGE[1]])


def orientation_values(orientations: int) -> np.ndarray:
    """Angles in radians, ``2 pi k / orientations``."""
    return 2 * math.pi * np.arange(orientations) / orientations


def canvas_side(size: int) -> int:
    """Pixels a side of the canvas that holds any shape at scale 1 and any angle."""
    return math.ceil(2 * RADIUS * size)


def offsets(size: int, positions: int) -> np.ndarray:
    """Whole-pixel offsets of the canvas's top-left corner, evenly spaced and centred in the frame."""
    room = size - canvas_side(size)
    if positions < 1 or (positions > 1 and room < positions - 1):
        raise ValueError(f"{positions} distinct positions need at least {positions - 1} pixels of room; a "
                         f"{size} x {size} image leaves {room} beside the {canvas_side(size)}-pixel sprite")
    step = room // (positions - 1) if positions > 1 else 0
    return (room - step * (positions - 1)) // 2 + step * np.arange(positions)


def rasterise(shape: int, scale: float, angle: float, side: int, radius: float) -> np.ndarray:
    """``(side, side)`` bool: the shape of ``radius * scale`` pixels (unit disc) turned by ``angle``
    anticlockwise, centred on the canvas, each pixel set when half its sub-pixel points are inside."""
    ticks = (np.arange(side * SUPERSAMPLE) + 0.5) / SUPERSAMPLE - side / 2  # (S,) from the centre
    x, y = np.meshgrid(ticks, -ticks)  # y up, rows from the top
    cos, sin = math.cos(angle), math.sin(angle)
    u, v = (cos * x + sin * y) / (radius * scale), (-sin * x + cos * y) / (radius * scale)
    hits = INSIDE[shape](u, v).reshape(side, SUPERSAMPLE, side, SUPERSAMPLE)
    return hits.mean((1, 3)) >= 0.5


def sprite_bank(size: int, scales: int, orientations: int) -> np.ndarray:
    """``(3, scales, orientations, C, C)`` bool: every sprite of the grid, drawn once."""
    side, radius = canvas_side(size), RADIUS * size
    return np.stack([
        np.stack([np.stack([rasterise(shape, scale, angle, side, radius) for angle in orientation_values(orientations)])
                  for scale in scale_values(scales)])
        for shape in range(len(SHAPES))
    ])


def render(factors: np.ndarray, bank: np.ndarray, places: np.ndarray, size: int) -> np.ndarray:
    """Images ``(N, 1, size, size)`` float32 in {0, 1} of factor indices ``(N, 5)``, in the order
    of :data:`FACTOR_NAMES`: the sprite of (shape, scale, orientation) pasted at (x, y)."""
    factors = np.asarray(factors)
    sizes = (*bank.shape[:3], len(places), len(places))
    if factors.ndim != 2 or factors.shape[1] != len(sizes) or ((factors < 0) | (factors >= np.array(sizes))).any():
        raise ValueError(f"factors must be (N, {len(sizes)}) indices within {sizes}, got {factors.shape}")
    side = bank.shape[-1]
    sprites = bank[factors[:, 0], factors[:, 1], factors[:, 2]]  # (N, C, C)
    rows = places[factors[:, 4]][:, None] + np.arange(side)  # (N, C)
    cols = places[factors[:, 3]][:, None] + np.arange(side)
    images = np.zeros((len(factors), size, size), dtype=np.float32)
    images[np.arange(len(factors))[:, None, None], rows[:, :, None], cols[:, None, :]] = sprites
    return images[:, None]


def draw_factors(rng: np.random.Generator, n: int, sizes: tuple[int, ...]) -> np.ndarray:
    """``(n, K)`` factor indices, each factor uniform and independent of the others."""
    return np.stack([rng.integers(k, size=n) for k in sizes], axis=1)


# ---- factories ------------------------------------------------------------------------------------


def make_sprites(*, size: int, scales: int, orientations: int, positions: int, n_train: int, n_val: int,
                 n_test: int, data_seed: int, name: str = "sprites") -> Dataset:
    """Each split drawn from its own stream ``(data_seed, split index)`` and rendered."""
    places = offsets(size, positions)
    draw = partial(render, bank=sprite_bank(size, scales, orientations), places=places, size=size)
    sizes = (len(SHAPES), scales, orientations, positions, positions)
    factors = [draw_factors(np.random.default_rng([data_seed, i]), n, sizes) for i, n in enumerate((n_train, n_val, n_test))]
    train, val, test = (draw(f) for f in factors)
    return Dataset(
        name=name, train=train, val=val, test=test, kind="binary",
        train_factors=factors[0], val_factors=factors[1], test_factors=factors[2],
        factor_names=FACTOR_NAMES, factor_sizes=sizes, render=draw,
        description=f"dSprites-like (procedural, not the published file): {size}x{size} binary sprites, factors "
                    f"{dict(zip(FACTOR_NAMES, sizes))}, drawn uniformly from the grid.",
    )


def make_sprites64(**params: int) -> Dataset:
    return make_sprites(size=64, name="sprites64", **params)


def _sizes(n_train: int, n_val: int, n_test: int) -> tuple[Param, ...]:
    return (
        Param("n_train", n_train, "training images, factors drawn uniformly from the grid"),
        Param("n_val", n_val, "validation images"),
        Param("n_test", n_test, "test images; the split-based disentanglement metrics use 10,000 + 5,000 of them"),
        Param("data_seed", 0, "seed of the generator that draws every split's factors; the same for every cell seed"),
    )


def _grid(scales: int, orientations: int, positions: int) -> tuple[Param, ...]:
    return (
        Param("scales", scales, "values of the scale factor, evenly spaced in [0.5, 1] (dSprites: 6)"),
        Param("orientations", orientations, "angles 2 pi k / orientations (dSprites: 40); odd avoids the square's "
                                            "and ellipse's repeated images"),
        Param("positions", positions, "places along x and along y each, whole pixels apart (dSprites: 32)"),
    )


@benchbench.hookimpl
def benchbench_datasets() -> list[DatasetSpec]:
    return [
        DatasetSpec("sprites", "dSprites-like sprites (procedural), 16x16 or 32x32 binary, 5 known factors; CPU size",
                    f"{__name__}:make_sprites",
                    (Param("size", 32, "image side in pixels", choices=(16, 32)), *_grid(4, 5, 8), *_sizes(20_000, 2_000, 15_000))),
        DatasetSpec("sprites64", "dSprites-like sprites (procedural), 64x64 binary, dSprites' grid of 3 x 6 x 40 x 32 x 32",
                    f"{__name__}:make_sprites64", (*_grid(6, 40, 32), *_sizes(100_000, 5_000, 15_000))),
    ]
