"""Arrays to small inline PNGs, without a matplotlib figure: sample grids, 2-D scatters and density
maps drawn straight into pixels.

A report shows one or two such pictures per model and dataset (a hundred or more for the quick
suite); a matplotlib figure costs about 50 ms each on a 2-core machine, pixels about 2 ms. The
pictures of one dataset share one view (:class:`View`), so only the reference panel beside them
(drawn by :mod:`.figures`, with axes) needs ticks.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..api.dataset import Dataset

PIXELS = 160  # longer side of a 2-D panel in pixels; shown at this size
DATA_GREY = np.array([205, 205, 205], dtype=np.float64)
SAMPLE_BLUE = np.array([31, 119, 180], dtype=np.float64)


@dataclass(frozen=True)
class View:
    """The region of the plane every 2-D panel of a dataset shows: the region of the host's density
    grid (the test split's range and a margin), so samples and densities share axes."""

    x0: float
    x1: float
    y0: float
    y1: float

    @classmethod
    def of_dataset(cls, dataset: Dataset) -> View:
        from ..engine.density_grid import grid_axes

        return cls.of_grid(*grid_axes(dataset, size=2))

    @classmethod
    def of_grid(cls, x: np.ndarray, y: np.ndarray) -> View:
        """The region of a saved density grid (``x``, ``y`` ascending)."""
        return cls(float(x[0]), float(x[-1]), float(y[0]), float(y[-1]))

    @classmethod
    def around(cls, points: np.ndarray, margin: float = 0.1) -> View:
        """Around the 1st to 99th percentiles of ``points`` ``(N, 2)``: a model's samples, when the
        data cannot be loaded (the percentiles keep a diverged model's outliers from setting it)."""
        low, high = np.percentile(points[np.isfinite(points).all(axis=1)], [1, 99], axis=0)
        pad = margin * np.maximum(high - low, 1e-6)
        return cls(low[0] - pad[0], high[0] + pad[0], low[1] - pad[1], high[1] + pad[1])

    @property
    def size(self) -> tuple[int, int]:
        """``(width, height)`` in pixels: the longer side :data:`PIXELS`, the aspect kept."""
        ratio = (self.y1 - self.y0) / (self.x1 - self.x0)
        if ratio <= 1:
            return PIXELS, max(round(PIXELS * ratio), PIXELS // 4)
        return max(round(PIXELS / ratio), PIXELS // 4), PIXELS

    def grid(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """``n`` pixel centres along x and along y, y ascending."""
        dx, dy = (self.x1 - self.x0) / n, (self.y1 - self.y0) / n
        return self.x0 + dx * (np.arange(n) + 0.5), self.y0 + dy * (np.arange(n) + 0.5)

    def text(self) -> str:
        return f"[{self.x0:.3g}, {self.x1:.3g}] × [{self.y0:.3g}, {self.y1:.3g}]"


def data_uri(png: bytes) -> str:
    """An inline ``src``: the report never links a file."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def file_uri(path: Path) -> str:
    return data_uri(path.read_bytes())


def png(pixels: np.ndarray) -> bytes:
    """``(H, W)`` or ``(H, W, 3)`` uint8 → PNG bytes (zlib's default level: ``optimize`` would save 7%
    of the bytes for three times the time)."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def image_grid_png(images: np.ndarray) -> bytes:
    """The first 64 of ``(N, C, H, W)`` images in [0, 1] as an 8 x 8 grid, exactly as the host saves
    ``samples/<cell>.png``, so a grid from the tensor and one from the saved file look the same."""
    import torch

    from ..engine.cell import image_grid

    buffer = io.BytesIO()
    image_grid(torch.as_tensor(np.asarray(images[:64], dtype=np.float32))).save(buffer, format="PNG")
    return buffer.getvalue()


def traversal_png(traversals: np.ndarray) -> bytes:
    """``(K, S, C, H, W)`` latent traversals in [0, 1] as K rows of S images, drawn as the sample grids are."""
    import torch

    from ..engine.cell import image_grid

    steps = traversals.shape[1]
    buffer = io.BytesIO()
    flat = torch.as_tensor(np.asarray(traversals, dtype=np.float32)).flatten(0, 1)
    image_grid(flat, columns=steps).save(buffer, format="PNG")
    return buffer.getvalue()


def _counts(points: np.ndarray, view: View) -> tuple[np.ndarray, int]:
    """Points per pixel, ``(height, width)`` with row 0 at the top, and how many fell outside the view."""
    finite = points[np.isfinite(points).all(axis=1)]
    width, height = view.size
    counts, _, _ = np.histogram2d(finite[:, 1], finite[:, 0], bins=(height, width), range=[[view.y0, view.y1], [view.x0, view.x1]])
    return counts[::-1], len(points) - int(counts.sum())


def _dilate(mask: np.ndarray) -> np.ndarray:
    """Each point 2 x 2 pixels, so a few thousand points read as a scatter, not as dust."""
    out = mask.copy()
    out[1:, :] = np.maximum(out[1:, :], mask[:-1, :])
    out[:, 1:] = np.maximum(out[:, 1:], out[:, :-1])
    return out


def scatter_png(points: np.ndarray, view: View, behind: np.ndarray | None = None) -> tuple[bytes, int]:
    """``points`` ``(N, 2)`` in blue over ``behind`` (the data, light grey) on white; returns the PNG
    and how many points lie outside the view (said in the caption, never silently dropped)."""
    width, height = view.size
    canvas = np.full((height, width, 3), 255.0)
    if behind is not None:
        grey = _dilate(_counts(behind, view)[0] > 0)
        canvas[grey] = DATA_GREY
    counts, outside = _counts(points, view)
    counts = _dilate(counts)
    alpha = np.where(counts > 0, 0.35 + 0.65 * np.log1p(counts) / np.log1p(max(counts.max(), 1)), 0.0)[..., None]
    canvas = canvas * (1 - alpha) + SAMPLE_BLUE * alpha
    return png(canvas.round().astype(np.uint8)), outside


def density_png(log_prob: np.ndarray, low: float, high: float) -> bytes:
    """``log_prob`` ``(G, G)`` (row i at y[i], y ascending) coloured from ``low`` to ``high`` nats
    with viridis; cells below ``low`` (or -inf) take its darkest colour."""
    import matplotlib

    scaled = np.clip((np.nan_to_num(log_prob, nan=low, neginf=low, posinf=high) - low) / max(high - low, 1e-12), 0, 1)
    rgba = matplotlib.colormaps["viridis"](scaled[::-1])
    return png((rgba[..., :3] * 255).round().astype(np.uint8))


def colour_range(log_prob: np.ndarray, span: float = 12.0) -> tuple[float, float]:
    """One colour scale for the maps of a dataset, from its reference map: the highest finite log p
    and ``span`` nats below it, so an untrained model's tails neither wash the picture out nor,
    below the scale, hide where it put its mass."""
    finite = log_prob[np.isfinite(log_prob)]
    high = float(finite.max()) if len(finite) else 0.0
    return high - span, high
