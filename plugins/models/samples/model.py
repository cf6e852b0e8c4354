"""Samples made elsewhere as a model: its "training" is loading, its sampling hands them out.

A model trained somewhere else is scored by benchbench's own metrics under exactly the protocols
of the built-in families, so it sits in the same leaderboard (what torch-fidelity's and clean-fid's
users do with a folder of images). :func:`build` reads the file (:mod:`.files`) when the model is
built, so ``bench validate`` and the runner's preflight report a bad file before anything runs, and
converts what it read to the dataset's convention in three steps:

1. **Layout** → ``(N, *dataset.shape)``: ``NCHW``, ``NHWC`` (an image folder always), ``NHW`` (grey
   images without a channel axis) or ``NC`` (vectors; images flattened in C, H, W order). ``auto``
   goes by the number of axes and, for four, by which end axis holds the data's channel count (else
   the end axis of at most 4). A wrong size, channel count or dimension is an error naming both.
2. **Range** → [0, 1]: the interval ``0-1``, ``0-255`` or ``-1-1`` (image files: their pixel depth)
   is mapped linearly onto [0, 1]. A value outside the interval by more than 1e-6 of its width (float
   noise, clipped) is an error giving the values' span and a range that holds them; NaN and
   infinities are errors. Continuous vector data has no [0, 1] convention: its samples are taken
   in data units, as they are.
3. **Levels**: on data with ``L`` levels (binary: 2) each value is rounded to the nearest level
   ``k / (L - 1)`` (ties to even). Samples stored between the levels (an 8-bit PNG of the 17-level
   digits is off by up to 0.5/255; a continuous model's output by up to half a level) are scored
   as the level they are closest to, and the largest such offset is in the protocol
   (``level_offset_max``): zero for samples saved at the levels.

``sample(n)`` returns the **first** n samples in file order, whatever the cell's seed: a cell's saved
``samples/<cell>.pt`` scored again gives that cell's own numbers. Asking for more than the file
holds is an error naming the file, its count and the count asked. With labels (``labels`` or
``labels_key``) the model is ``conditional``: ``sample(n, labels)`` takes for each requested label, in
order, the next unused sample of that class in file order, and fails when a class runs out.

``sampling_protocol()`` holds the SHA-256 of the bytes read (and of the labels file), the format,
the layout, range and levels used: the host writes it into the protocol of every sample-based
number, so ``bench compare`` finds numbers from two different files not comparable. It names no
path: the same bytes elsewhere are the same samples.

Nothing is trained: ``train_step`` does nothing and reports ``{"loaded": 1.0}``. Budgets must be
positive, so a suite gives ``budget = { steps = 1 }`` (as ``bench eval`` does). The samples are a
non-persistent buffer: the checkpoint does not copy the file, which the factory reads again.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchbench import CapabilityError, Dataset, Model
from benchbench.settings import checked_config

from .files import Stored, read_labels, read_samples

INTERVALS = {"0-1": (0.0, 1.0), "-1-1": (-1.0, 1.0), "0-255": (0.0, 255.0), "0-65535": (0.0, 65535.0)}
RANGE_CHOICES = ("0-1", "-1-1", "0-255")  # what a suite may set; 0-65535 is a 16-bit image's own
TOLERANCE = 1e-6  # of the interval's width: float noise at the ends, clipped
AXES = {"NCHW": 4, "NHWC": 4, "NHW": 3, "NC": 2}
LABEL = "model 'samples'"


@dataclass(frozen=True)
class Settings:
    """The spec's parameters (see its help)."""

    path: str = ""
    key: str = ""
    layout: str = "auto"
    range: str = "auto"
    labels: str = ""
    labels_key: str = ""


# ---- layout: (N, *dataset.shape) -------------------------------------------------------------------


def resolve_layout(layout: str, shape: tuple[int, ...], data: Dataset) -> str:
    """``layout``, or for ``auto`` the one the array's axes say."""
    if layout != "auto":
        return layout
    if len(shape) == 4:
        first, last, channels = shape[1], shape[-1], data.shape[0] if data.is_image else None
        if first == channels != last:
            return "NCHW"
        if last == channels != first:
            return "NHWC"
        return "NHWC" if first > 4 >= last else "NCHW"
    return {3: "NHW", 2: "NC"}.get(len(shape), "auto")


def arranged(array: np.ndarray, data: Dataset, layout: str, where: str) -> tuple[np.ndarray, str]:
    """``array`` shaped ``(N, *data.shape)``, and the layout it was read in."""
    layout = resolve_layout(layout, array.shape, data)
    if AXES.get(layout) != array.ndim:
        expected = f"the {AXES[layout]} axes of layout {layout}" if layout in AXES else \
            "(N, C, H, W), (N, H, W, C), (N, H, W) or (N, D)"
        raise CapabilityError(f"{where}: an array shaped {tuple(array.shape)}; expected {expected}")
    if len(array) == 0:
        raise CapabilityError(f"{where}: holds no samples")
    array = array.transpose(0, 3, 1, 2) if layout == "NHWC" else array[:, None] if layout == "NHW" else array
    if data.is_image:
        return checked_image_shape(array, data, layout, where), layout
    if len(data.shape) != 1 or layout != "NC":
        raise CapabilityError(f"{where}: images shaped {tuple(array.shape[1:])} ({layout}); dataset {data.name!r} "
                              f"holds examples shaped {data.shape}")
    if array.shape[1] != data.dim:
        raise CapabilityError(f"{where}: vectors of {array.shape[1]} values; dataset {data.name!r} has {data.dim} "
                              "(wrong dimension)")
    return array, layout


def checked_image_shape(array: np.ndarray, data: Dataset, layout: str, where: str) -> np.ndarray:
    """``(N, C, H, W)`` images (or flattened ``(N, C·H·W)`` vectors) of the data's size and channels."""
    channels, height, width = data.shape
    if layout == "NC":
        if array.shape[1] != data.dim:
            raise CapabilityError(f"{where}: vectors of {array.shape[1]} values (layout NC); dataset {data.name!r} "
                                  f"has images of {channels}x{height}x{width} = {data.dim} values (wrong dimension)")
        return array.reshape(len(array), *data.shape)
    c, h, w = array.shape[1:]
    if c != channels:
        raise CapabilityError(f"{where}: images with {c} channels ({layout}); dataset {data.name!r} has {channels} "
                              "(wrong channel count)")
    if (h, w) != (height, width):
        raise CapabilityError(f"{where}: images of {w}x{h} pixels; dataset {data.name!r} has {width}x{height} "
                              "(wrong size)")
    return array


# ---- range: onto [0, 1] -----------------------------------------------------------------------------


def interval_name(requested: str, stored: Stored, data: Dataset, where: str) -> str | None:
    """The interval the values span, or None for continuous vectors (taken in data units)."""
    if stored.pixel_depth is not None:
        if requested != "auto":
            raise CapabilityError(f"{where}: the images' pixel depth fixes the range; leave range = 'auto'")
        return f"0-{stored.pixel_depth}"
    if not (data.is_image or data.levels):
        if requested != "auto":
            raise CapabilityError(f"{where}: range applies to images and data with levels; dataset {data.name!r} is "
                                  "continuous vectors, taken in data units (leave range = 'auto')")
        return None
    return "0-1" if requested == "auto" else requested


def in_unit_interval(x: np.ndarray, name: str, where: str) -> np.ndarray:
    """``x`` (float64) mapped from the interval ``name`` onto [0, 1], or an error for values outside it."""
    low, high = INTERVALS[name]
    slack = TOLERANCE * (high - low)
    outside = (x < low - slack) | (x > high + slack)
    if outside.any():
        span = (float(x.min()), float(x.max()))
        fits = next((n for n in RANGE_CHOICES if INTERVALS[n][0] <= span[0] and span[1] <= INTERVALS[n][1]), None)
        hint = f"; set range = {fits!r}" if fits else ""
        raise CapabilityError(f"{where}: values outside the range {name}: they span [{span[0]:.4g}, {span[1]:.4g}] "
                              f"({int(outside.sum())} of {x.size} outside){hint}")
    return ((x - low) / (high - low)).clip(0.0, 1.0)


def onto_levels(x: np.ndarray, levels: int) -> tuple[np.ndarray, float]:
    """Each value rounded to the nearest ``k / (L - 1)`` (ties to even), and the largest distance moved."""
    on = np.round(x * (levels - 1)) / (levels - 1)
    return on, float(np.abs(on - x).max())


def converted(stored: Stored, data: Dataset, settings: Settings, where: str) -> tuple[torch.Tensor, dict[str, Any]]:
    """The samples in the data's convention, ``(N, *shape)`` float32, and how they were made so."""
    if stored.layout and settings.layout not in ("auto", stored.layout):
        raise CapabilityError(f"{where}: image files are read as {stored.layout}; leave layout = 'auto'")
    array, layout = arranged(stored.array, data, stored.layout or settings.layout, where)
    x = array.astype(np.float64)
    bad = int((~np.isfinite(x)).sum())
    if bad:
        raise CapabilityError(f"{where}: {bad} values are NaN or infinite")
    interval = interval_name(settings.range, stored, data, where)
    protocol: dict[str, Any] = {"sampler": "external samples", "format": stored.format, "sha256": stored.sha256,
                                "samples_in_file": len(x), "layout": layout, "range": interval or "data units"}
    if interval is not None:
        x = in_unit_interval(x, interval, where)
    if data.levels:
        x, offset = onto_levels(x, data.levels)
        protocol.update(levels=data.levels, level_offset_max=float(f"{offset:.6g}"))
    return torch.as_tensor(x, dtype=torch.float32), protocol


# ---- labels -------------------------------------------------------------------------------------------


def labels_of(settings: Settings, stored: Stored, path: Path) -> tuple[np.ndarray, str, dict[str, str]] | None:
    """The labels array, where it came from (for errors) and what the protocol says of it; None without labels."""
    if settings.labels:
        labels_path = Path(settings.labels).expanduser()
        labels, sha = read_labels(labels_path, settings.labels_key)
        return labels, str(labels_path), {"labels_sha256": sha}
    if settings.labels_key:
        return stored.labels, f"{path} [{settings.labels_key}]", {"labels_key": settings.labels_key}
    return None


def checked_labels(labels: np.ndarray, n: int, data: Dataset, where: str) -> torch.Tensor:
    """``(n,)`` int64 class labels in ``0..K-1`` for a dataset with ``K`` classes."""
    if not (data.has_labels and data.num_classes):
        raise CapabilityError(f"{where}: labels given, but dataset {data.name!r} has no labels to condition on")
    if labels.shape != (n,):
        raise CapabilityError(f"{where}: labels shaped {tuple(labels.shape)} for {n} samples; expected ({n},)")
    if labels.dtype.kind == "f" and not (np.isfinite(labels).all() and (labels == np.round(labels)).all()):
        raise CapabilityError(f"{where}: labels must be whole numbers (class indices)")
    if labels.min() < 0 or labels.max() >= data.num_classes:
        raise CapabilityError(f"{where}: labels span {int(labels.min())}..{int(labels.max())}; dataset "
                              f"{data.name!r} has classes 0..{data.num_classes - 1}")
    return torch.as_tensor(labels.astype(np.int64))


# ---- the model ------------------------------------------------------------------------------------------


class ExternalSamples(Model):
    """Samples read from a file, handed out first to last; nothing to train."""

    def __init__(self, samples: torch.Tensor, protocol: dict[str, Any], source: str):
        super().__init__()
        self.register_buffer("held", samples, persistent=False)  # (N, *shape): the file, not the checkpoint, keeps them
        self.protocol, self.source = protocol, source

    @property
    def count(self) -> int:
        """How many samples the file holds (``bench eval`` draws them all by default)."""
        return len(self.held)

    @property
    def device(self) -> torch.device:
        return self.held.device  # no parameters to ask

    def train_step(self, x: torch.Tensor, y: torch.Tensor | None = None) -> dict[str, float]:
        return {"loaded": 1.0}

    def check_count(self, n: int) -> None:
        if n > self.count:
            raise CapabilityError(f"{self.source}: holds {self.count} samples, {n} asked for (the suite's samples); "
                                  "give a file with more samples or ask for fewer")

    @torch.no_grad()
    def sample(self, n: int, labels: torch.Tensor | None = None) -> torch.Tensor:
        """The first ``n`` samples, ``(n, *shape)``."""
        self.check_count(n)
        return self.held[:n].clone()

    def sampling_protocol(self) -> dict[str, Any]:
        return dict(self.protocol)


class LabelledSamples(ExternalSamples):
    """Samples with a class label each: ``sample(n, labels)`` gives samples of the requested classes."""

    capabilities = frozenset({"conditional"})

    def __init__(self, samples: torch.Tensor, labels: torch.Tensor, protocol: dict[str, Any], source: str):
        super().__init__(samples, protocol, source)
        self.register_buffer("labels", labels, persistent=False)  # (N,) int64

    @torch.no_grad()
    def sample(self, n: int, labels: torch.Tensor | None = None) -> torch.Tensor:
        """For each of ``labels`` in turn, the next unused sample of its class in file order."""
        if labels is None:
            return super().sample(n)
        self.check_count(n)
        picked = torch.empty(n, dtype=torch.long, device=self.held.device)
        for c in labels.unique().tolist():
            wanted, have = (labels == c).nonzero().squeeze(1), (self.labels == c).nonzero().squeeze(1)
            if len(wanted) > len(have):
                raise CapabilityError(f"{self.source}: holds {len(have)} samples of class {c}, {len(wanted)} asked for")
            picked[wanted] = have[:len(wanted)]
        return self.held[picked]


def build(data: Dataset, variant: str = "default", **params: str) -> ExternalSamples:
    settings = checked_config(LABEL, Settings, ("default",), variant, params,
                              lambda s: "" if s.path else "give path = a folder of PNG / JPEG images, a .npy / .npz "
                                                          "array or a .pt tensor file")
    path = Path(settings.path).expanduser()
    stored = read_samples(path, settings.key, "" if settings.labels else settings.labels_key)
    samples, protocol = converted(stored, data, settings, str(path))
    found = labels_of(settings, stored, path)
    if found is None:
        return ExternalSamples(samples, protocol, str(path))
    labels, where, said = found
    return LabelledSamples(samples, checked_labels(labels, len(samples), data, where), {**protocol, **said}, str(path))
