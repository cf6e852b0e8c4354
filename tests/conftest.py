"""Shared fixtures: a registry of fake plugins, and a helper that writes suite files.

``fake_registry`` holds only :class:`FakePlugin` (no installed entry points), so tests of suites,
the CLI and the runner's bookkeeping do not depend on which real plugins are installed. Its
factories are ``"nowhere:..."`` strings: validating a suite never resolves a factory, so a test
that builds a model from this registry is a test that should fail.

What the fake plugin provides:

=========  ==============  ===========================================================
kind       name            parameters (defaults); variants
=========  ==============  ===========================================================
model      ``vae``         latent_dim=2, beta=1.0, decoder="bernoulli" (or "gaussian"),
                           k=1; variants ``vae`` {} (the default) and ``iwae`` {k: 5}
model      ``flow``        layers=4
metric     ``nll``         k=100 (lower is better)
metric     ``mmd``         (none)
dataset    ``8gaussians``  n_train=1000
dataset    ``digits``      (none)
=========  ==============  ===========================================================
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

import benchbench
from benchbench import DatasetSpec, MetricSpec, ModelSpec, Param
from benchbench.plugin.manager import DISABLE_ENV, TRACE_ENV, PluginManager, make_plugin_manager
from benchbench.plugin.registry import Registry, build_registry

FAKE_PLUGIN_NAME = "fake"


class FakePlugin:
    """A plugin object with the three discovery hooks; specs only, nothing to build."""

    @benchbench.hookimpl
    def benchbench_models(self) -> list[ModelSpec]:
        return [
            ModelSpec(
                name="vae",
                summary="fake VAE",
                factory="nowhere:build_vae",
                variants={"vae": {}, "iwae": {"k": 5}},
                params=(
                    Param("latent_dim", 2, "latent dimensions"),
                    Param("beta", 1.0, "KL weight"),
                    Param("decoder", "bernoulli", "likelihood of the decoder", choices=("bernoulli", "gaussian")),
                    Param("k", 1, "importance samples"),
                ),
            ),
            ModelSpec(name="flow", summary="fake flow", factory="nowhere:build_flow", params=(Param("layers", 4),)),
        ]

    @benchbench.hookimpl
    def benchbench_metrics(self) -> list[MetricSpec]:
        return [
            MetricSpec(name="nll", summary="fake NLL", factory="nowhere:nll", params=(Param("k", 100),)),
            MetricSpec(name="mmd", summary="fake MMD", factory="nowhere:mmd"),
        ]

    @benchbench.hookimpl
    def benchbench_datasets(self) -> list[DatasetSpec]:
        return [
            DatasetSpec(name="8gaussians", summary="fake 2-d mixture", factory="nowhere:gaussians", params=(Param("n_train", 1000),)),
            DatasetSpec(name="digits", summary="fake digits", factory="nowhere:digits"),
        ]


@pytest.fixture
def fake_manager(monkeypatch: pytest.MonkeyPatch) -> PluginManager:
    """An isolated plugin manager holding only :class:`FakePlugin` (as plugin ``"fake"``)."""
    monkeypatch.delenv(DISABLE_ENV, raising=False)
    monkeypatch.delenv(TRACE_ENV, raising=False)
    return make_plugin_manager(plugins=[(FAKE_PLUGIN_NAME, FakePlugin())], entry_points=False)


@pytest.fixture
def fake_registry(fake_manager: PluginManager) -> Registry:
    """The registry built from :func:`fake_manager`; see the module docstring for its contents."""
    registry = build_registry(fake_manager)
    assert not registry.problems, registry.problems
    return registry


@pytest.fixture
def write_suite(tmp_path: Path) -> Callable[..., Path]:
    """``write_suite(text, name="suite.toml")``: write dedented TOML under ``tmp_path``, return its path.

    ``text`` may also be ``bytes``, written as is (for encoding errors).
    """

    def write(text: str | bytes, name: str = "suite.toml") -> Path:
        path = tmp_path / name
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return write


@pytest.fixture(scope="module")
def one_thread():
    """One torch thread for a module of small networks: a second thread gains little, and on a
    shared, busy CPU it can cost three to ten times the time. Modules opt in with
    ``pytestmark = pytest.mark.usefixtures("one_thread")``."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def digits():
    """scikit-learn's digits with the splits every model and metric test uses."""
    from benchbench_plugins.datasets.digits import make_digits

    return make_digits(split_seed=0, val_fraction=0.1, test_fraction=0.2)


@pytest.fixture(scope="module")
def digits_binary():
    """The binarised digits, on the same splits."""
    from benchbench_plugins.datasets.digits import make_digits_binary

    return make_digits_binary(split_seed=0, val_fraction=0.1, test_fraction=0.2)
