"""Fixtures of the executor tests: the environment the driver shares with Ray's workers, and one
Ray head for most tests (``ray_cluster.Cluster``)."""

from __future__ import annotations

import os

import pytest

from ray_cluster import ENVIRONMENT, Cluster


@pytest.fixture(scope="session")
def ray_environment():
    """The variables the driver (this process) shares with the clusters' workers."""
    saved = {key: os.environ.get(key) for key in ENVIRONMENT}
    os.environ.update(ENVIRONMENT)
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="session")
def ray_head(ray_environment):
    """One head for most tests: 2 CPUs and 1 declared GPU (no real one: Ray only counts it)."""
    cluster = Cluster(cpus=2, gpus=1)
    yield cluster.address
    cluster.stop()
