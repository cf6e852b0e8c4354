"""``bench hype prepare``: one cell of a run folder → a HYPE study of ``n`` real and ``n`` fake images.

The fakes are the cell's own samples (``samples/<cell>.pt``, written once by ``bench run``); the reals
are the dataset's test split, loaded with the cell's own dataset parameters as the host does. Both
are picked by one seeded generator, quantised the same way (``round(255 x)``), upscaled by the same
integer nearest-neighbour factor so that small images are visible (at least ``min_size`` pixels on the
shorter side) and written as lossless PNGs under random 16-hex-digit names. Ten noise images join
them as vigilance images (obviously fake). The study is written to a hidden folder and renamed into
place at the end, so an interrupted ``prepare`` leaves no half study behind.
"""

from __future__ import annotations

import math
import os
import random
import secrets
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__
from ..errors import UsageError, suggest
from ..results.store import RECORDS, read_records
from .study import IMAGES, sha256_file, write_study

VIGILANCE_IMAGES = 10


def prepare_study(run_dir: Path, model: str, dataset: str, *, n: int = 500, seed: int | None = None,
                  selection_seed: int = 0, out: Path | None = None, min_size: int = 128, registry: Any = None) -> Path:
    """Write the study folder (default ``RUN_DIR/hype/<model>-<variant>-<dataset>-seed<S>``) and
    return it; the real images come through ``registry`` (default: every installed plugin)."""
    if registry is None:
        from ..plugin.manager import make_plugin_manager
        from ..plugin.registry import build_registry

        registry = build_registry(make_plugin_manager())
    run_dir = Path(run_dir)
    if not (run_dir / RECORDS).is_file():
        raise UsageError(f"{run_dir}: no {RECORDS}; expected a run folder made by `bench run`")
    cell = find_cell(read_records(run_dir)[0], model, dataset, seed, run_dir)
    fakes = load_samples(run_dir, cell)
    reals = load_test_images(cell, registry)
    if reals.shape[1:] != fakes.shape[1:]:
        raise UsageError(f"{samples_path(run_dir, cell['cell_id'])}: samples shaped {fakes.shape[1:]}, the test images {reals.shape[1:]}")
    _check_enough(n, len(fakes), f"samples in {samples_path(run_dir, cell['cell_id'])}")
    _check_enough(n, len(reals), f"test images of {dataset!r}")
    out = Path(out) if out else run_dir / "hype" / f"{cell['model']}-{cell['variant']}-{dataset}-seed{cell['seed']}"
    if out.exists() and any(out.iterdir()):
        raise UsageError(f"{out} already exists and is not empty; give another -o STUDY_DIR (a study holds its answers)")
    rng = np.random.default_rng(selection_seed)
    chosen = {"real": rng.choice(len(reals), n, replace=False), "fake": rng.choice(len(fakes), n, replace=False)}
    factor = upscale_factor(reals.shape[2:], min_size)
    info = {"study_id": secrets.token_hex(8), "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "run_dir": str(run_dir.resolve()),
            **{k: cell[k] for k in ("cell_id", "dataset", "model", "variant", "seed")}, "n": n, "upscale": factor,
            "image_size": [reals.shape[2] * factor, reals.shape[3] * factor], "channels": int(reals.shape[1]),
            "selection_seed": selection_seed, "benchbench_version": __version__}
    _write_atomically(out, info, _entries(reals, fakes, chosen, rng), factor)
    return out


def find_cell(records: list[dict[str, Any]], model: str, dataset: str, seed: int | None, run_dir: Path) -> dict[str, Any]:
    """The one finished cell that ``--model MODEL[/VARIANT] --dataset D [--seed S]`` names (default: the
    smallest seed); anything else is a UsageError listing what the run holds."""
    cells = list({r["cell_id"]: r for r in records if r.get("kind") == "cell"}.values())
    datasets = sorted({c["dataset"] for c in cells})
    if dataset not in datasets:
        raise UsageError(f"{run_dir}: no cell on dataset {dataset!r}. {suggest(dataset, datasets)}")
    on_data = [c for c in cells if c["dataset"] == dataset]
    name, _, variant = model.partition("/")
    matches = [c for c in on_data if c["model"] == name and variant in ("", c["variant"])]
    if not matches:
        choices = {f"{c['model']}/{c['variant']}" for c in on_data} | {c["model"] for c in on_data}
        raise UsageError(f"{run_dir}: no model {model!r} on dataset {dataset!r}. {suggest(model, choices)}")
    variants = sorted({c["variant"] for c in matches})
    if len(variants) > 1:
        raise UsageError(f"--model {model!r} is ambiguous on {dataset!r}: {', '.join(f'{name}/{v}' for v in variants)}; "
                         "name one as MODEL/VARIANT")
    seeds = sorted({c["seed"] for c in matches})
    seed = seeds[0] if seed is None else seed
    chosen = [c for c in matches if c["seed"] == seed]
    if not chosen:
        raise UsageError(f"{run_dir}: {name}/{variants[0]} on {dataset!r} has no seed {seed}; seeds: {', '.join(map(str, seeds))}")
    if len(chosen) > 1:
        raise UsageError(f"{run_dir}: several cells match {model!r} on {dataset!r} seed {seed} (different parameters): "
                         f"{', '.join(c['cell_id'] for c in chosen)}")
    return chosen[0]


def _check_enough(n: int, have: int, what: str) -> None:
    if have < n:
        raise UsageError(f"--n {n} needs {n} {what}, there are {have}; ask for fewer")


def samples_path(run_dir: Path, cell_id: str) -> Path:
    """Where ``bench run`` saved the cell's samples (its cell id with "/" as "__")."""
    return run_dir / "samples" / f"{cell_id.replace('/', '__')}.pt"


def load_samples(run_dir: Path, cell: dict[str, Any]) -> np.ndarray:
    """The cell's samples as float32 ``(N, C, H, W)``; only images (C = 1 or 3) can be shown."""
    import torch

    path = samples_path(run_dir, cell["cell_id"])
    if not path.is_file():
        raise UsageError(f"{path}: no samples for {cell['model']}/{cell['variant']} on {cell['dataset']!r} seed {cell['seed']} "
                         f"(the cell ended {cell.get('status')!r})")
    samples = torch.load(path, weights_only=True)
    if not isinstance(samples, torch.Tensor) or samples.dim() != 4 or samples.shape[1] not in (1, 3):
        shape = tuple(samples.shape) if isinstance(samples, torch.Tensor) else type(samples).__name__
        raise UsageError(f"{path}: HYPE shows images (N, C, H, W) with C = 1 or 3; these samples are {shape} "
                         f"({cell['dataset']!r} is not an image dataset)")
    return samples.detach().to(torch.float32).numpy()


def load_test_images(cell: dict[str, Any], registry: Any) -> np.ndarray:
    """The test split of the cell's dataset, loaded with the cell's parameters as the host does."""
    from ..engine.cell import load_dataset

    if cell["dataset"] not in registry.names("dataset"):
        raise UsageError(f"dataset {cell['dataset']!r} of cell {cell['cell_id']} is not installed. "
                         f"{suggest(cell['dataset'], registry.names('dataset'))}")
    data = load_dataset(registry.dataset(cell["dataset"]), cell["dataset_params"])
    if not data.is_image or data.shape[0] not in (1, 3):
        raise UsageError(f"dataset {cell['dataset']!r} is not images (examples shaped {data.shape}); HYPE shows images")
    return data.test


def upscale_factor(size: tuple[int, ...], min_size: int) -> int:
    """The smallest integer factor that brings the shorter side to at least ``min_size`` pixels."""
    return max(1, math.ceil(min_size / min(size)))


def to_pixels(image: np.ndarray, factor: int) -> np.ndarray:
    """``(C, H, W)`` floats in [0, 1] → uint8 ``(H f, W f)`` or ``(H f, W f, 3)``, nearest neighbour."""
    pixels = np.rint(np.clip(image, 0.0, 1.0) * 255).astype(np.uint8).transpose(1, 2, 0)
    pixels = pixels.repeat(factor, axis=0).repeat(factor, axis=1)
    return pixels[..., 0] if pixels.shape[2] == 1 else pixels


def _entries(reals: np.ndarray, fakes: np.ndarray, chosen: dict[str, np.ndarray],
             rng: np.random.Generator) -> list[tuple[dict[str, Any], np.ndarray]]:
    """(manifest entry, image) for every image of the study, in an order that says nothing of labels."""
    entries = [({"label": "real", "role": "study", "source": "test", "index": int(i)}, reals[i]) for i in chosen["real"]]
    entries += [({"label": "fake", "role": "study", "source": "samples", "index": int(i)}, fakes[i]) for i in chosen["fake"]]
    noise = rng.random((VIGILANCE_IMAGES, *reals.shape[1:]), dtype=np.float32)
    entries += [({"label": "fake", "role": "vigilance", "source": "noise", "index": i}, image) for i, image in enumerate(noise)]
    random.SystemRandom().shuffle(entries)
    return entries


def _write_atomically(out: Path, info: dict[str, Any], entries: list[tuple[dict[str, Any], np.ndarray]], factor: int) -> None:
    from PIL import Image

    tmp = out.with_name(f".{out.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / IMAGES).mkdir(parents=True)
    manifest: dict[str, dict[str, Any]] = {}
    for entry, image in entries:
        name = secrets.token_hex(8)
        while name in manifest:
            name = secrets.token_hex(8)
        path = tmp / IMAGES / f"{name}.png"
        Image.fromarray(to_pixels(image, factor)).save(path, format="PNG")
        manifest[name] = {**entry, "sha256": sha256_file(path)}
    write_study(tmp, info, manifest)
    if out.exists():
        out.rmdir()  # empty, checked above
    os.replace(tmp, out)
