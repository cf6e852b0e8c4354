"""The dataset contract: fixed splits as numpy arrays plus the metadata every model and metric needs.

Arrays, not tensors, so a dataset plugin can be written and listed without importing torch; the
host moves them to the cell's device. Images are floats in [0, 1] shaped ``(N, C, H, W)``;
discrete data with ``L`` levels is stored as ``k / (L - 1)``; binary data as 0.0 / 1.0.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .specs import DATA_KINDS, DataKind


@dataclass
class Dataset:
    """Train / validation / test splits of one dataset, fixed by the dataset's own split seed.

    Data generated from known factors of variation (dSprites-like sprites) also carries them, for the
    disentanglement metrics: ``train_factors`` / ``val_factors`` / ``test_factors``, ``(N, K)``
    integer indices of each example's factors (factor ``j`` takes values ``0 .. factor_sizes[j] - 1``),
    ``factor_names`` and ``factor_sizes`` (``K`` each), and optionally ``render``, which maps any
    ``(N, K)`` factor indices within ``factor_sizes`` to observations ``(N, *shape)`` stored as the
    splits are, so that a metric can fix one factor and draw the others (BetaVAE and FactorVAE scores).
    """

    name: str
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    kind: DataKind
    levels: int | None = None
    train_labels: np.ndarray | None = None
    val_labels: np.ndarray | None = None
    test_labels: np.ndarray | None = None
    num_classes: int | None = None
    log_density: Callable[[np.ndarray], np.ndarray] | None = None
    modes: np.ndarray | None = None
    description: str = ""
    dynamic_binarization: bool = False  # binary data whose train split holds intensities, binarised per batch
    train_factors: np.ndarray | None = None
    val_factors: np.ndarray | None = None
    test_factors: np.ndarray | None = None
    factor_names: tuple[str, ...] = ()
    factor_sizes: tuple[int, ...] = ()
    render: Callable[[np.ndarray], np.ndarray] | None = None

    def __post_init__(self) -> None:
        if self.kind not in DATA_KINDS:
            raise ValueError(f"dataset {self.name!r}: kind must be one of {', '.join(sorted(DATA_KINDS))}, got {self.kind!r}")
        for split in ("train", "val", "test"):
            array = getattr(self, split)
            if array.ndim < 2 or len(array) == 0:
                raise ValueError(f"dataset {self.name!r}: {split} must be (N, ...) with N > 0, got {array.shape}")
            setattr(self, split, np.ascontiguousarray(array, dtype=np.float32))
        if self.kind == "binary":
            self.levels = 2
        if self.kind == "discrete" and not self.levels:
            raise ValueError(f"dataset {self.name!r}: discrete data needs its number of levels")
        self._check_factors()

    def _check_factors(self) -> None:
        """Factors, when given, are ``(N, K)`` integers within ``factor_sizes``, one row per example."""
        self.factor_names, self.factor_sizes = tuple(self.factor_names), tuple(int(k) for k in self.factor_sizes)
        if len(self.factor_names) != len(self.factor_sizes):
            raise ValueError(f"dataset {self.name!r}: {len(self.factor_names)} factor names for {len(self.factor_sizes)} sizes")
        for split in ("train", "val", "test"):
            factors = self.factors(split)
            if factors is None:
                continue
            expected = (len(getattr(self, split)), len(self.factor_sizes))
            if factors.shape != expected or not np.issubdtype(factors.dtype, np.integer):
                raise ValueError(f"dataset {self.name!r}: {split}_factors must be integers shaped {expected}, "
                                 f"got {factors.dtype} {factors.shape}")
            if ((factors < 0) | (factors >= np.array(self.factor_sizes))).any():
                raise ValueError(f"dataset {self.name!r}: {split}_factors outside 0 .. factor_sizes - 1 {self.factor_sizes}")
            setattr(self, f"{split}_factors", np.ascontiguousarray(factors, dtype=np.int64))

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of one example, e.g. ``(2,)`` or ``(1, 8, 8)``."""
        return tuple(self.train.shape[1:])

    @property
    def dim(self) -> int:
        return int(np.prod(self.shape))

    @property
    def is_image(self) -> bool:
        return len(self.shape) == 3

    @property
    def has_labels(self) -> bool:
        return self.test_labels is not None

    def labels(self, split: str) -> np.ndarray | None:
        return getattr(self, f"{split}_labels")

    @property
    def has_factors(self) -> bool:
        return self.test_factors is not None

    def factors(self, split: str) -> np.ndarray | None:
        """``(N, K)`` factor indices of a split's examples, or ``None``."""
        factors = getattr(self, f"{split}_factors")
        return None if factors is None else np.asarray(factors)


def split_by_seed(
    x: np.ndarray, y: np.ndarray | None, sizes: tuple[float, float], seed: int
) -> tuple[tuple[np.ndarray, ...], tuple[np.ndarray | None, ...]]:
    """Shuffle once with ``seed`` and cut into train / val / test; ``sizes`` are the val and test
    fractions. The split depends on the seed only, so every cell sees the same test set.

    Returns ``((x_train, x_val, x_test), (y_train, y_val, y_test))``; the labels are ``None``
    when ``y`` is.
    """
    order = np.random.default_rng(seed).permutation(len(x))
    n_val, n_test = (int(round(f * len(x))) for f in sizes)
    cuts = np.split(order, [len(x) - n_val - n_test, len(x) - n_test])
    xs = tuple(x[c] for c in cuts)
    ys = tuple(None if y is None else y[c] for c in cuts)
    return xs, ys
