"""A dataset of one's own from a local folder of ``.npy`` arrays, its training split memory-mapped.

The format is the one large preprocessed sets are shipped in (downsampled ImageNet, LSUN or
CelebA crops): ``train.npy`` and ``test.npy`` hold the examples, float32, ``(N, ...)``, images
``(N, C, H, W)`` in [0, 1] (discrete data with ``L`` levels stored as ``k / (L - 1)``, as every
dataset here); ``val.npy`` is optional (otherwise the last ``n_val`` training rows); labels, when
there are any, in ``train_labels.npy``, ``val_labels.npy`` and ``test_labels.npy`` (integers).

The training split is opened with ``mmap_mode="r"``: nothing is read until a batch touches it,
so it may be larger than memory, and the host streams it to the device through a DataLoader
(``placement = "auto"`` does so for memory-mapped data; see ``benchbench.engine.training_data``).
A training split of another dtype than float32 is converted, which reads it whole into memory.
Validation and test splits, which metrics evaluate whole, are read into memory.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

import benchbench
from benchbench import Dataset, DatasetSpec, Param, UsageError

KINDS = ("continuous", "discrete", "binary")


def _load(folder: Path, name: str, mmap: bool = False) -> np.ndarray | None:
    path = folder / f"{name}.npy"
    if not path.is_file():
        return None
    try:
        return np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except ValueError as error:  # not an .npy file, or one holding Python objects
        raise UsageError(f"{path}: not a numeric .npy array ({error})") from None


def _labels(folder: Path, split: str, n: int) -> np.ndarray | None:
    labels = _load(folder, f"{split}_labels")
    if labels is not None and (labels.shape != (n,) or not np.issubdtype(labels.dtype, np.integer) or (labels < 0).any()):
        raise UsageError(f"{folder / f'{split}_labels.npy'}: expected {n} integer labels >= 0 shaped ({n},), "
                         f"got {labels.dtype} {labels.shape}")
    return labels


def make_array_folder(*, root: str, kind: str, levels: int, n_val: int) -> Dataset:
    if not root:
        raise UsageError("dataset 'array-folder' needs its `root` parameter: the folder holding train.npy and test.npy")
    folder = Path(root)
    train, test, val = _load(folder, "train", mmap=True), _load(folder, "test"), _load(folder, "val")
    missing = [f"{name}.npy" for name, array in (("train", train), ("test", test)) if array is None]
    if missing:
        raise UsageError(f"missing in {folder}: {', '.join(missing)} (float32 arrays shaped (N, ...))")
    train_labels, test_labels = _labels(folder, "train", len(train)), _labels(folder, "test", len(test))
    if (train_labels is None) != (test_labels is None):
        raise UsageError(f"{folder}: labels need both train_labels.npy and test_labels.npy, or neither")
    if val is None:  # the validation rows are the training file's last n_val, and so are their labels
        if not 0 < n_val < len(train):
            raise UsageError(f"{folder} has no val.npy: n_val must be between 1 and {len(train) - 1}, got {n_val}")
        train, val = train[:-n_val], np.array(train[-n_val:])
        train_labels, val_labels = (None, None) if train_labels is None else (train_labels[:-n_val], train_labels[-n_val:])
    else:
        val_labels = _labels(folder, "val", len(val))
    shapes = {split: array.shape[1:] for split, array in (("train", train), ("val", val), ("test", test))}
    if len(set(shapes.values())) > 1:
        raise UsageError(f"{folder}: the splits' example shapes differ: {shapes}")
    labels = [y for y in (train_labels, val_labels, test_labels) if y is not None]
    return Dataset(name="array-folder", train=train, val=val, test=test, kind=kind,
                   levels=levels if kind == "discrete" else None, train_labels=train_labels, val_labels=val_labels,
                   test_labels=test_labels, num_classes=max(int(y.max()) + 1 for y in labels) if labels else None,
                   description=f"arrays from {folder}")


@benchbench.hookimpl
def benchbench_datasets() -> list[DatasetSpec]:
    return [DatasetSpec("array-folder", "your own data: train.npy / test.npy (+ val, labels) in a local folder, "
                        "the training split memory-mapped", f"{__name__}:make_array_folder", (
        Param("root", "", "the folder holding train.npy, test.npy and optionally val.npy and *_labels.npy"),
        Param("kind", "continuous", "what the values are", choices=KINDS),
        Param("levels", 256, "levels of discrete data, stored as k / (levels - 1)"),
        Param("n_val", 1000, "validation rows taken from the end of train.npy when there is no val.npy"),
    ))]
