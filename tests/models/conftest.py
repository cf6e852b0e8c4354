"""Fixtures shared by the model-family tests."""

from __future__ import annotations

import pytest
import torch

from benchbench import Dataset
from benchbench_plugins.datasets.digits import make_digits


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """The models trained here are small: a second thread gains little, and on a shared, busy CPU
    it can cost three to ten times the time."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def digits() -> Dataset:
    """scikit-learn's digits with the splits every model test uses."""
    return make_digits(split_seed=0, val_fraction=0.1, test_fraction=0.2)
