"""Fixtures shared by the model-family tests."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """The models trained here are small: a second thread gains little, and on a shared, busy CPU
    it can cost three to ten times the time."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
