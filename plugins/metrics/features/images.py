"""From float images to the uint8 tensors every feature extractor reads, the same way for real and
generated images, and a content hash that names a set of images in the caches.

The conversion is the protocol's first step, recorded with every number (:data:`CONVERSION`):
``clamp(x, 0, 1) × 255``, rounded to the nearest integer (ties to even), as ``uint8``. Rounding, not
truncation: truncation maps 0.999 to 254 and shifts every image by half a grey level on average.
"""

from __future__ import annotations

import hashlib
import weakref

import numpy as np
import torch

from benchbench import NotApplicable
from benchbench_plugins.metrics.two_sample.compute import check_samples

CONVERSION = "clamp to [0, 1], ×255, round (ties to even), uint8"
RGB_CONVERSION = CONVERSION + "; grey repeated to RGB"
# Outside this interval a sample is not a slightly overshooting [0, 1] image but another convention
# ([-1, 1] or [0, 255]); clamping it would give a silently wrong number.
PLAUSIBLE_RANGE = (-0.5, 1.5)


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """``(N, C, H, W)`` floats in [0, 1] → uint8 on the CPU: clamp → ×255 → round."""
    return (images.detach().to("cpu", torch.float32).clamp(0, 1) * 255).round().to(torch.uint8)


def to_rgb(images: torch.Tensor) -> torch.Tensor:
    """Grey ``(N, 1, H, W)`` → ``(N, 3, H, W)`` by repeating the channel; RGB unchanged."""
    if images.shape[1] == 3:
        return images
    if images.shape[1] != 1:
        raise NotApplicable(f"Inception reads grey or RGB images, these have {images.shape[1]} channels")
    return images.expand(-1, 3, -1, -1).contiguous()


def require_images(shape: tuple[int, ...], name: str) -> None:
    """Feature metrics compare images; other data gets an n/a with the reason."""
    if len(shape) != 3:
        raise NotApplicable(f"feature metrics need images shaped (C, H, W); {name!r} has examples shaped {shape}")


def checked_samples(samples: torch.Tensor | None, shape: tuple[int, ...]) -> torch.Tensor:
    """The cell's samples, if shaped like the data, finite and in a [0, 1] convention."""
    samples = check_samples(samples, shape)
    low, high = float(samples.min()), float(samples.max())
    if low < PLAUSIBLE_RANGE[0] or high > PLAUSIBLE_RANGE[1]:
        raise ValueError(f"samples range over [{low:.3g}, {high:.3g}]; images must be floats in [0, 1] (values "
                         f"within {list(PLAUSIBLE_RANGE)} are clamped), not [-1, 1] or [0, 255]")
    return samples


def clamped_fraction(samples: torch.Tensor) -> float:
    """Share of sample values the conversion clamps (outside [0, 1]), for the protocol."""
    return float(((samples < 0) | (samples > 1)).float().mean())


def content_sha256(array: torch.Tensor | np.ndarray) -> str:
    """SHA-256 of an array's dtype, shape and bytes: what a cache entry for these images is keyed by."""
    array = np.ascontiguousarray(array.numpy() if isinstance(array, torch.Tensor) else array)
    digest = hashlib.sha256(f"{array.dtype.str}{array.shape}".encode())
    digest.update(memoryview(array).cast("B"))
    return digest.hexdigest()


_converted: dict[tuple[int, bool], tuple[weakref.ref, torch.Tensor, str]] = {}


def converted(array: torch.Tensor | np.ndarray, rgb: bool = False) -> tuple[torch.Tensor, str]:
    """uint8 images of ``array`` (grey repeated to RGB if ``rgb``) and their SHA-256, remembered for
    as long as ``array`` lives: a cell's samples and a dataset's splits are converted and hashed once
    per process, not once per metric."""
    key = (id(array), rgb)
    found = _converted.get(key)
    if found is not None and found[0]() is array:
        return found[1], found[2]
    images = to_uint8(torch.as_tensor(array))
    images = to_rgb(images) if rgb else images
    sha256 = content_sha256(images)
    _converted[key] = (weakref.ref(array, lambda _: _converted.pop(key, None)), images, sha256)
    return images, sha256


class UInt8Images(torch.utils.data.Dataset):
    """A uint8 image tensor as the :class:`~torch.utils.data.Dataset` torch-fidelity reads."""

    def __init__(self, images: torch.Tensor):
        self.images = images

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> torch.Tensor:
        return self.images[index]
