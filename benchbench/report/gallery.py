"""The pictures of samples: per dataset, every model's samples side by side beside the real data.

Image datasets get one 8 x 8 grid per model (its lowest seed: the samples the host drew with its
fixed sampling seed) from ``samples/<cell>.pt`` when the run kept it, else from the saved
``samples/<cell>.png``, and a grid of real test images. 2-D datasets get a data panel (the test
split) and the true density (closed form, or a histogram of the test split when there is none),
then per model its samples over the data and, when the run saved ``samples/<cell>.density.pt``,
the learned log-density on the same colour scale. A model that encodes and decodes images also
gets its latent traversals (``samples/<cell>.traversals.pt``) beside its samples. What is missing (a dataset that cannot be loaded
here, samples not kept) is said in place of the picture.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..api.dataset import Dataset
from . import figures, images
from .images import View
from .run_folder import Configuration, RunFolder

MAX_BINS = 48  # a histogram of a few thousand test points: 48 x 48 bins fill the modes without holes
TRUE_GRID = 128  # pixels a side of a closed-form density evaluated on the view


@dataclass
class Picture:
    uri: str
    caption: str
    width: int | None = None  # CSS pixels, when the picture is shown at another size than its own
    height: int | None = None
    css_class: str | None = None  # else the gallery's: "grid" for images, "map" for 2-D pictures


@dataclass
class Panel:
    """One model's pictures on one dataset; none when the run kept none of its samples."""

    label: str
    pictures: list[Picture] = field(default_factory=list)


@dataclass
class Gallery:
    dataset: str
    kind: str  # "image", "2-d" or "other"
    reference: list[Picture] = field(default_factory=list)  # the real data
    reference_note: str = ""  # why there is no real-data panel, or what it shows
    panels: list[Panel] = field(default_factory=list)
    note: str = ""  # the view and the colour scale the panels share


class RealData:
    """Datasets loaded as the host loads them (its plugin registry, the cells' parameters), once
    each; a dataset that cannot be loaded here comes back as the reason instead."""

    def __init__(self, registry: Any = None) -> None:
        self._registry = registry  # None: every installed plugin, built on first use
        self._loaded: dict[str, tuple[Dataset | None, str]] = {}

    def load(self, name: str, params: dict[str, Any]) -> tuple[Dataset | None, str]:
        key = f"{name}:{sorted(params.items())}"
        if key not in self._loaded:
            self._loaded[key] = self._load(name, params)
        return self._loaded[key]

    def _load(self, name: str, params: dict[str, Any]) -> tuple[Dataset | None, str]:
        from ..engine.cell import load_dataset

        try:
            if self._registry is None:
                from ..plugin.manager import make_plugin_manager
                from ..plugin.registry import build_registry

                self._registry = build_registry(make_plugin_manager())
            return load_dataset(self._registry.dataset(name), params), ""
        except Exception as error:  # a missing plugin or data folder costs the panel, not the report
            return None, f"dataset {name!r} could not be loaded here ({type(error).__name__}: {error})"


def galleries(run: RunFolder, real: RealData) -> list[Gallery]:
    """One gallery per dataset of the run, in run order."""
    return [_gallery(run, real, dataset) for dataset in run.datasets]


def _gallery(run: RunFolder, real: RealData, name: str) -> Gallery:
    configurations = run.configurations(name)
    dataset, why = real.load(name, configurations[0].cells[0].get("dataset_params") or {})
    kind = _kind(run, dataset, configurations)
    if kind == "image":
        return _image_gallery(run, name, dataset, why, configurations)
    if kind == "2-d":
        return _plane_gallery(run, name, dataset, why, configurations)
    shape = f"{dataset.shape} " if dataset is not None else ""
    return Gallery(name, kind, reference_note=why, note=f"no pictures for {shape}data: only images and 2-D points are drawn")


def _kind(run: RunFolder, dataset: Dataset | None, configurations: list[Configuration]) -> str:
    """From the dataset when it loads, else from what the run saved."""
    if dataset is not None:
        return "image" if dataset.is_image else "2-d" if dataset.shape == (2,) else "other"
    cells = [c.first for c in configurations]
    if any(run.sample_file(c, "png") for c in cells):
        return "image"
    saved = next((p for p in (run.sample_file(c, "pt") for c in cells) if p), None)
    if saved is not None:
        shape = tuple(_load_tensor(saved).shape[1:])
        return "image" if len(shape) == 3 else "2-d" if shape == (2,) else "other"
    return "other"


def _load_tensor(path: Path) -> Any:
    import torch

    return torch.load(path, map_location="cpu", weights_only=True)


def _seed_text(cell: dict[str, Any]) -> str:
    return f"seed {cell['seed']}" + ("" if cell.get("status") == "ok" else f", {cell.get('status')}")


# ---- images ----------------------------------------------------------------------------------


def _image_gallery(run: RunFolder, name: str, dataset: Dataset | None, why: str,
                   configurations: list[Configuration]) -> Gallery:
    gallery = Gallery(name, "image", reference_note=why)
    if dataset is not None:
        gallery.reference.append(Picture(images.data_uri(images.image_grid_png(dataset.test)), "real test images"))
    gallery.panels = [_image_panel(run, c) for c in configurations]
    return gallery


def _image_panel(run: RunFolder, configuration: Configuration) -> Panel:
    cell = configuration.first
    caption = _seed_text(cell) + (", class-balanced labels" if run.sample_file(cell, "labels.pt") else "")
    tensor, grid = run.sample_file(cell, "pt"), run.sample_file(cell, "png")
    if tensor is not None:
        uri = images.data_uri(images.image_grid_png(_load_tensor(tensor).numpy()))
    elif grid is not None:
        uri = images.file_uri(grid)
    else:
        return Panel(configuration.label)
    panel = Panel(configuration.label, [Picture(uri, caption)])
    traversals = _saved(run, cell, "traversals.pt")
    if traversals is not None:
        panel.pictures.append(_traversal_picture(traversals))
    return panel


def _traversal_picture(traversals: dict[str, Any]) -> Picture:
    """Rows of decoded images, shown at a whole multiple of their pixels at least as wide as a sample grid."""
    rows, steps, _, height, width = traversals["images"].shape
    size = (steps * (width + 1) + 1, rows * (height + 1) + 1)
    scale = max(1, -(-160 // size[0]))
    latents = ", ".join(str(int(k)) for k in traversals["latents"])
    return Picture(images.data_uri(images.traversal_png(traversals["images"].numpy())),
                   f"latent traversals from one test image's code, a row per latent ({latents}), "
                   f"each over its 5th-95th percentile of the test codes", size[0] * scale, size[1] * scale, "traversal")


# ---- 2-D points ------------------------------------------------------------------------------


def _plane_gallery(run: RunFolder, name: str, dataset: Dataset | None, why: str,
                   configurations: list[Configuration]) -> Gallery:
    samples = {c.label: _saved(run, c.first, "pt") for c in configurations}
    densities = {c.label: _saved(run, c.first, "density.pt") for c in configurations}
    gallery = Gallery(name, "2-d", reference_note=why)
    view = _view(dataset, samples, densities)
    if view is None:
        gallery.panels = [Panel(c.label) for c in configurations]
        return gallery
    size = dict(zip(("width", "height"), view.size))
    reference = _reference_map(dataset, [d for d in densities.values() if d is not None], view)
    learned = [np.asarray(d["log_prob"]).ravel() for d in densities.values() if d is not None]
    scale = images.colour_range(reference[0] if reference else np.concatenate(learned or [np.zeros(1)]))
    if dataset is not None:
        gallery.reference.append(Picture(figures.data_panel(dataset.test, view), "the test split"))
    if reference:
        gallery.reference.append(Picture(images.data_uri(images.density_png(reference[0], *scale)), reference[1], **size))
    test = None if dataset is None else dataset.test
    gallery.panels = [_plane_panel(c, samples[c.label], densities[c.label], test, view, scale) for c in configurations]
    behind = " over the test split in grey" if test is not None else ""
    gallery.note = (f"Every panel shows {view.text()}: samples in blue{behind}; log-densities coloured from "
                    f"{scale[0]:.3g} (dark) to {scale[1]:.3g} nats (yellow), learned and true alike.")
    return gallery


def _saved(run: RunFolder, cell: dict[str, Any], suffix: str) -> Any:
    path = run.sample_file(cell, suffix)
    return None if path is None else _load_tensor(path)


def _view(dataset: Dataset | None, samples: dict[str, Any], densities: dict[str, Any]) -> View | None:
    """The host's density-grid region of the data; without the data, a saved grid's region, else
    the region of the first model's samples."""
    if dataset is not None:
        return View.of_dataset(dataset)
    grid = next((d for d in densities.values() if d is not None), None)
    if grid is not None:
        return View.of_grid(np.asarray(grid["x"]), np.asarray(grid["y"]))
    kept = [s.numpy() for s in samples.values() if s is not None]
    return View.around(kept[0]) if kept else None


def _reference_map(dataset: Dataset | None, densities: list[dict[str, Any]], view: View) -> tuple[np.ndarray, str] | None:
    """The true log-density to show beside the learned ones: a model's saved ``true_log_prob``, else
    the dataset's closed form on the view, else the log of a histogram of the test split."""
    for density in densities:
        if density.get("true_log_prob") is not None:
            return np.asarray(density["true_log_prob"]), "true log p (closed form)"
    if dataset is None:
        return None
    if dataset.log_density is not None:
        x, y = view.grid(TRUE_GRID)
        mesh = np.stack(np.meshgrid(x, y), axis=-1).reshape(-1, 2)  # row i is y[i]
        return np.asarray(dataset.log_density(mesh)).reshape(TRUE_GRID, TRUE_GRID), "true log p (closed form)"
    bins = int(np.clip(np.sqrt(len(dataset.test) / 2), 12, MAX_BINS))  # fewer points, coarser bins
    counts, _, _ = np.histogram2d(dataset.test[:, 1], dataset.test[:, 0], bins=bins,
                                  range=[[view.y0, view.y1], [view.x0, view.x1]])
    area = ((view.x1 - view.x0) / bins) * ((view.y1 - view.y0) / bins)
    with np.errstate(divide="ignore"):
        log_p = np.log(counts / (len(dataset.test) * area))
    return log_p, f"log of a {bins} x {bins} histogram of the test split (no closed form)"


def _plane_panel(configuration: Configuration, samples: Any, density: dict[str, Any] | None,
                 test: np.ndarray | None, view: View, scale: tuple[float, float]) -> Panel:
    cell = configuration.first
    if samples is None:
        return Panel(configuration.label)
    points = samples.numpy()
    picture, outside = images.scatter_png(points, view, behind=test)
    caption = f"{len(points)} samples, {_seed_text(cell)}" + (f"; {outside} outside the view" if outside else "")
    panel = Panel(configuration.label, [Picture(images.data_uri(picture), caption)])
    if density is not None:
        uri = images.data_uri(images.density_png(np.asarray(density["log_prob"]), *scale))
        width, height = view.size
        panel.pictures.append(Picture(uri, f"learned log p ({density.get('exactness', '?')})", width, height))
    return panel
