"""dSprites-like sprites: the Dataset contract, binary images of the asked shapes, factors that
render back to their split, deterministic drawing, and the geometry each factor controls; then the
factor fields of :class:`benchbench.Dataset` themselves."""

from __future__ import annotations

import itertools
import pickle

import numpy as np
import pytest

from benchbench import Dataset
from benchbench.testing import check_dataset, plugin_registry
from benchbench_plugins.datasets import sprites

REGISTRY = plugin_registry({"sprites": sprites})
SMALL = {"n_train": 300, "n_val": 50, "n_test": 100}


def load(name: str = "sprites", **params: object) -> Dataset:
    spec = REGISTRY.dataset(name)
    return spec.resolve()(**{**spec.defaults(), **SMALL, **params})


def test_the_plugin_offers_a_cpu_and_a_64_pixel_version():
    assert REGISTRY.problems == {}
    assert REGISTRY.names("dataset") == ["sprites", "sprites64"]


@pytest.mark.parametrize(("name", "params", "side"), [("sprites", {"size": 16}, 16), ("sprites", {}, 32),
                                                      ("sprites64", {}, 64)])
def test_the_dataset_contract_holds_and_images_are_binary(name, params, side):
    data = check_dataset(REGISTRY.dataset(name), **SMALL, **params)
    assert data.kind == "binary" and data.levels == 2 and data.is_image
    assert (data.train.shape, data.val.shape, data.test.shape) == ((300, 1, side, side), (50, 1, side, side),
                                                                   (100, 1, side, side))
    assert set(np.unique(data.train)) == {0.0, 1.0}
    assert data.factor_names == ("shape", "scale", "orientation", "position_x", "position_y")
    assert data.has_factors and data.train_factors.shape == (300, 5) and data.train_factors.dtype == np.int64


def test_the_64_pixel_version_has_dsprites_grid():
    assert load("sprites64").factor_sizes == (3, 6, 40, 32, 32)


def test_every_split_is_its_factors_rendered():
    data = load(size=16)
    for split in ("train", "val", "test"):
        np.testing.assert_array_equal(data.render(data.factors(split)), getattr(data, split))


def test_rendering_is_deterministic_and_survives_pickling():
    """Spawned workers receive the dataset pickled; their render must draw the same images."""
    data = load()
    factors = data.test_factors[:20]
    again = pickle.loads(pickle.dumps(data))
    np.testing.assert_array_equal(again.render(factors), data.render(factors))
    np.testing.assert_array_equal(load().render(factors), data.render(factors))


def test_factors_are_fixed_by_the_data_seed_and_each_split_has_its_own_stream():
    first, other = load(), load(data_seed=1)
    assert not np.array_equal(first.train_factors, other.train_factors)
    np.testing.assert_array_equal(first.train_factors, load(n_test=7).train_factors)
    assert not np.array_equal(first.train_factors[:50], first.val_factors)


def test_factors_are_drawn_uniformly_from_the_grid():
    data = load(n_train=20_000)
    for j, size in enumerate(data.factor_sizes):
        counts = np.bincount(data.train_factors[:, j], minlength=size)
        assert len(counts) == size and counts.min() > 0.8 * 20_000 / size


def grid_images(data: Dataset, **fixed: int) -> tuple[np.ndarray, np.ndarray]:
    """Every combination of the factors not fixed, with those fixed, and their images."""
    index = {name: j for j, name in enumerate(data.factor_names)}
    axes = [[fixed[n]] if n in fixed else range(k) for n, k in zip(data.factor_names, data.factor_sizes)]
    factors = np.array(list(itertools.product(*axes)))
    assert all((factors[:, index[n]] == v).all() for n, v in fixed.items())
    return factors, data.render(factors)[:, 0]


def test_moving_a_sprite_shifts_its_pixels_and_nothing_else():
    data = load()
    _, images = grid_images(data, shape=2, scale=3, orientation=1, position_y=4)
    columns = [np.flatnonzero(img.any(0))[0] for img in images]
    assert np.all(np.diff(columns) > 0) and len(set(np.diff(columns))) == 1  # position_x moves it right, evenly
    for image, column in zip(images, columns):
        np.testing.assert_array_equal(image, np.roll(images[0], column - columns[0], axis=1))


def test_position_y_counts_rows_from_the_top_and_scale_grows_the_sprite():
    data = load()
    _, by_row = grid_images(data, shape=0, scale=3, orientation=0, position_x=3)
    assert np.all(np.diff([np.flatnonzero(img.any(1))[0] for img in by_row]) > 0)
    for shape in range(3):
        _, by_scale = grid_images(data, shape=shape, orientation=2, position_x=3, position_y=3)
        assert np.all(np.diff(by_scale.sum((1, 2))) > 0)


def test_at_32_pixels_only_the_smallest_square_turns_into_itself():
    """The square's turns by multiples of 72 degrees differ at every scale but the smallest, where
    they rasterise alike; every other pair of factor values draws different images."""
    data = load(size=32)
    factors, images = grid_images(data, position_x=0, position_y=0)
    _, first, counts = np.unique(images.reshape(len(images), -1), axis=0, return_inverse=True, return_counts=True)
    repeated = {tuple(f[:2]) for f, c in zip(factors, counts[first.ravel()]) if c > 1}
    assert repeated == {(0, 0)}


def test_render_refuses_factors_outside_the_grid():
    data = load(size=16)
    with pytest.raises(ValueError, match="indices within"):
        data.render(np.array([[3, 0, 0, 0, 0]]))
    with pytest.raises(ValueError, match="indices within"):
        data.render(np.zeros((2, 4), dtype=int))


def test_more_positions_than_pixels_of_room_are_refused():
    with pytest.raises(ValueError, match="16 x 16 image leaves 9"):
        load(size=16, positions=11)


# ---- the Dataset's factor fields ------------------------------------------------------------------


def plain(**factors: object) -> Dataset:
    x = np.zeros((4, 2))
    return Dataset("d", x, x, x, kind="continuous", **factors)  # type: ignore[arg-type]


def test_datasets_without_factors_say_so():
    data = plain()
    assert not data.has_factors and data.factors("test") is None and data.render is None


def test_factors_must_be_integers_within_their_sizes_one_row_per_example():
    good = np.zeros((4, 2), dtype=np.int32)
    data = plain(test_factors=good, factor_names=("a", "b"), factor_sizes=(2, 3))
    assert data.test_factors.dtype == np.int64 and data.factor_sizes == (2, 3)
    with pytest.raises(ValueError, match="integers shaped"):
        plain(test_factors=good[:3], factor_names=("a", "b"), factor_sizes=(2, 3))
    with pytest.raises(ValueError, match="integers shaped"):
        plain(test_factors=good.astype(float), factor_names=("a", "b"), factor_sizes=(2, 3))
    with pytest.raises(ValueError, match="outside"):
        plain(test_factors=good + 2, factor_names=("a", "b"), factor_sizes=(2, 3))
    with pytest.raises(ValueError, match="1 factor names for 2 sizes"):
        plain(factor_names=("a",), factor_sizes=(2, 3))
