"""Standard lossless codecs on the same images, for scale: PNG at its maximum compression, WebP
lossless where Pillow has it, and gzip, bz2 and lzma at their maximum presets on the raw bytes.

Every codec gets one file holding all n images, as the model coders get one stream, so a file's
header is shared as a stream's last words are. PNG and WebP see the images tiled in a near-square
grid (zero-padded; WebP allows at most 16383 pixels a side), one byte a pixel holding the level k
(binary images as PNG's one bit a pixel); the general-purpose compressors see one byte a dimension
in the data's own order. Each file's length in bits over n·D is its bits/dim, headers included.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import math
from typing import Any

import numpy as np
from PIL import Image, features

SETTINGS = {
    "png": "Pillow, compress_level 9, optimize",
    "webp": "Pillow / libwebp, lossless, quality 100, method 6",
    "gzip": "level 9, mtime 0",
    "bz2": "level 9",
    "lzma": "xz, preset 9 | PRESET_EXTREME",
}


def grid(k: np.ndarray, shape: tuple[int, int, int], levels: int) -> Image.Image:
    """(N, D) levels of (C, H, W) images → one image of them tiled ``ceil(sqrt(N))`` to a row."""
    n, (c, h, w) = len(k), shape
    cols = math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    padded = np.zeros((rows * cols, c, h, w), dtype=np.uint8)
    padded[:n] = k.reshape(n, c, h, w)
    tiles = padded.reshape(rows, cols, c, h, w).transpose(0, 3, 1, 4, 2).reshape(rows * h, cols * w, c)
    if c == 1 and levels == 2:
        return Image.fromarray(tiles[..., 0].astype(bool))  # mode "1": PNG's bit depth 1
    return Image.fromarray(tiles[..., 0] if c == 1 else tiles)


def saved(image: Image.Image, form: str, **options: Any) -> bytes:
    """The image's file in ``form``, checked to load back to the same pixels."""
    buffer = io.BytesIO()
    image.save(buffer, form, **options)
    data = buffer.getvalue()
    back = Image.open(io.BytesIO(data)).convert(image.mode)
    if not np.array_equal(np.asarray(back), np.asarray(image)):
        raise RuntimeError(f"{form} did not give back the images it was given")
    return data


def image_shape(shape: tuple[int, ...]) -> tuple[int, int, int]:
    """The data's (C, H, W) when it is an image of 1 or 3 channels, else each example as a 1 x D row."""
    if len(shape) == 3 and shape[0] in (1, 3):
        return shape  # type: ignore[return-value]
    return (1, 1, math.prod(shape))


def codec_bits(k: np.ndarray, shape: tuple[int, ...], levels: int) -> dict[str, int]:
    """Each codec's file length in bits for the (N, D) levels ``k`` of examples shaped ``shape``;
    the image codecs need at most 256 levels, WebP a Pillow built with it."""
    raw = k.astype(np.uint8 if levels <= 256 else np.uint16).tobytes()
    files = {"gzip": gzip.compress(raw, compresslevel=9, mtime=0), "bz2": bz2.compress(raw, 9),
             "lzma": lzma.compress(raw, preset=9 | lzma.PRESET_EXTREME)}
    if levels <= 256:
        image = grid(k, image_shape(shape), levels)
        files["png"] = saved(image, "PNG", compress_level=9, optimize=True)
        if features.check("webp"):
            files["webp"] = saved(image, "WEBP", lossless=True, quality=100, method=6)
    return {name: 8 * len(data) for name, data in files.items()}
