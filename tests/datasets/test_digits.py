"""scikit-learn's 8x8 digits: 17 exact levels, a faithful binarisation, and a seeded split."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_digits

from benchbench import Dataset
from benchbench_plugins.datasets import digits

SPECS = {spec.name: spec for spec in digits.benchbench_datasets()}


def load(name: str = "digits", **params: object) -> Dataset:
    spec = SPECS[name]
    return spec.resolve()(**{**spec.defaults(), **params})


def rows(*arrays: np.ndarray) -> np.ndarray:
    """All images of ``arrays`` as flat rows, sorted, to compare sets of images."""
    flat = np.concatenate([a.reshape(len(a), -1) for a in arrays])
    return flat[np.lexsort(flat.T[::-1])]


def test_digits_are_17_level_images_stored_as_k_over_16() -> None:
    data = load()
    assert data.kind == "discrete" and data.levels == 17 and data.shape == (1, 8, 8)
    k = data.train * 16
    np.testing.assert_array_equal(k, np.round(k))
    assert k.min() == 0 and k.max() == 16


def test_split_sizes_follow_the_fractions() -> None:
    data = load()
    assert (len(data.train), len(data.val), len(data.test)) == (1797 - 180 - 359, 180, 359)


def test_splits_together_are_exactly_the_scikit_learn_images() -> None:
    data = load()
    expected = load_digits().images[:, None] / 16
    np.testing.assert_array_equal(rows(data.train, data.val, data.test), rows(expected.astype(np.float32)))


def test_labels_stay_with_their_images() -> None:
    data, source = load(), load_digits()
    images = (source.images / 16).astype(np.float32)
    by_image = {image.tobytes(): label for image, label in zip(images, source.target, strict=True)}
    assert all(by_image[image[0].tobytes()] == label for image, label in zip(data.test, data.test_labels, strict=True))
    assert data.num_classes == 10 and set(np.unique(data.train_labels)) == set(range(10))


def test_split_is_fixed_by_split_seed() -> None:
    np.testing.assert_array_equal(load(split_seed=3).test, load(split_seed=3).test)
    assert not np.array_equal(load(split_seed=3).test, load(split_seed=4).test)


def test_binary_digits_are_the_grey_digits_thresholded_at_one_half() -> None:
    grey, binary = load(split_seed=5), load("digits-binary", split_seed=5)
    assert binary.kind == "binary" and binary.levels == 2
    np.testing.assert_array_equal(binary.test, (grey.test >= 0.5).astype(np.float32))
    np.testing.assert_array_equal(binary.test_labels, grey.test_labels)
    assert 0.2 < binary.train.mean() < 0.5  # neither all ink nor all paper


@pytest.mark.parametrize("name", sorted(SPECS))
def test_every_split_is_non_empty_and_in_the_unit_interval(name: str) -> None:
    data = load(name)
    for split in (data.train, data.val, data.test):
        assert len(split) and split.min() >= 0 and split.max() <= 1
