"""scikit-learn's 8x8 handwritten digits: real images that need no download and train in seconds.

``load_digits`` ships inside scikit-learn (1,797 images of 8x8 pixels, each an integer 0..16
counting the set pixels of a 4x4 block of the original 32x32 bitmap; UCI "Optical Recognition of
Handwritten Digits"). Two views of the same images, cut by the same split:

* ``digits``: 17-level discrete images, stored as k / 16 (the convention of :class:`benchbench.Dataset`).
* ``digits-binary``: a pixel is 1 when k >= 8, i.e. when at least half of its block is set.

scikit-learn is imported by the factory only, so listing plugins stays fast.
"""

from __future__ import annotations

import numpy as np

import benchbench
from benchbench import Dataset, DatasetSpec, Param, split_by_seed

LEVELS = 17  # pixel values 0..16
BINARY_THRESHOLD = 8  # of 16: half of the block's pixels set


def _load_counts() -> tuple[np.ndarray, np.ndarray]:
    """Pixel counts ``(1797, 1, 8, 8)`` as integers 0..16 and labels 0..9."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    return bunch.images.astype(np.int64)[:, None], bunch.target.astype(np.int64)


def _split(name: str, x: np.ndarray, y: np.ndarray, split_seed: int, val_fraction: float, test_fraction: float,
           **meta: object) -> Dataset:
    (train, val, test), (y_train, y_val, y_test) = split_by_seed(x, y, (val_fraction, test_fraction), split_seed)
    return Dataset(
        name=name, train=train, val=val, test=test, train_labels=y_train, val_labels=y_val, test_labels=y_test,
        num_classes=10, **meta,  # type: ignore[arg-type]
    )


def make_digits(*, split_seed: int, val_fraction: float, test_fraction: float) -> Dataset:
    counts, labels = _load_counts()
    return _split(
        "digits", counts / (LEVELS - 1), labels, split_seed, val_fraction, test_fraction,
        kind="discrete", levels=LEVELS, description="scikit-learn 8x8 digits, 17 levels stored as k/16.",
    )


def make_digits_binary(*, split_seed: int, val_fraction: float, test_fraction: float) -> Dataset:
    counts, labels = _load_counts()
    return _split(
        "digits-binary", (counts >= BINARY_THRESHOLD).astype(np.float32), labels, split_seed, val_fraction,
        test_fraction, kind="binary", description="scikit-learn 8x8 digits, pixel = 1 where k/16 >= 0.5.",
    )


PARAMS = (
    Param("split_seed", 0, "seed of the one shuffle that cuts train / val / test; the same for every cell seed"),
    Param("val_fraction", 0.1, "fraction of the 1,797 images held out for validation"),
    Param("test_fraction", 0.2, "fraction of the 1,797 images held out for testing"),
)


@benchbench.hookimpl
def benchbench_datasets() -> list[DatasetSpec]:
    return [
        DatasetSpec("digits", "scikit-learn 8x8 digits, 17 grey levels (1,797 images, labels 0-9)",
                    f"{__name__}:make_digits", PARAMS),
        DatasetSpec("digits-binary", "scikit-learn 8x8 digits binarised at k/16 >= 0.5",
                    f"{__name__}:make_digits_binary", PARAMS),
    ]
