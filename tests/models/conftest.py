"""Every model-family test trains small networks: all of them run on one torch thread (the root
conftest's ``one_thread``), and share its ``digits``."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module", autouse=True)
def single_threaded(one_thread: None) -> None:
    """``one_thread`` for every module here, without each module asking for it."""
