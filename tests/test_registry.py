"""The registry checks every spec once, when it is registered, and names the plugin at fault."""

from __future__ import annotations

import numpy as np
import pytest

import benchbench
from benchbench import Dataset, DatasetSpec, MetricSpec, ModelSpec, Requirements
from benchbench.plugin.manager import make_plugin_manager
from benchbench.plugin.registry import build_registry


class Declares:
    """A plugin whose specs declare whatever the test gives it."""

    def __init__(self, models=(), metrics=(), datasets=()):
        self.models, self.metrics, self.datasets = list(models), list(metrics), list(datasets)

    @benchbench.hookimpl
    def benchbench_models(self):
        return self.models

    @benchbench.hookimpl
    def benchbench_metrics(self):
        return self.metrics

    @benchbench.hookimpl
    def benchbench_datasets(self):
        return self.datasets


def registry_of(plugin: Declares):
    return build_registry(make_plugin_manager(plugins=[("author", plugin)], entry_points=False))


def test_a_misspelt_data_kind_of_a_model_is_refused_naming_the_plugin() -> None:
    good = ModelSpec("good", "ok", "x:y")
    bad = ModelSpec("gmm", "mixture", "x:y", data_kinds=frozenset({"continous"}))
    registry = registry_of(Declares(models=[good, bad]))
    assert registry.problems == {"author:gmm": "model 'gmm' data_kinds has unknown 'continous'; known: binary, continuous, "
                                               "discrete; the spec is ignored"}
    assert registry.names("model") == ["good"]


@pytest.mark.parametrize(("requires", "field", "unknown"), [
    (Requirements(data_kinds=frozenset({"images"})), "requires.data_kinds", "'images'"),
    (Requirements(capabilities=frozenset({"logprob"})), "requires.capabilities", "'logprob'"),
    (Requirements(any_capabilities=frozenset({"elbo", "sampel"})), "requires.capabilities", "'sampel'"),
])
def test_a_metric_requiring_an_unknown_kind_or_capability_is_refused(requires, field, unknown) -> None:
    registry = registry_of(Declares(metrics=[MetricSpec("energy", "energy distance", "x:y", requires=requires)]))
    assert registry.problems["author:energy"].startswith(f"metric 'energy' {field} has unknown {unknown}; known: ")
    assert registry.names("metric") == []


def test_a_model_without_variants_is_refused() -> None:
    registry = registry_of(Declares(models=[ModelSpec("empty", "no variants", "x:y", variants={})]))
    assert "declares no variants" in registry.problems["author:empty"]


def test_a_dataset_of_a_misspelt_kind_is_refused_when_built() -> None:
    x = np.zeros((4, 2))
    with pytest.raises(ValueError, match=r"dataset 'ring': kind must be one of binary, continuous, discrete, got 'continous'"):
        Dataset("ring", x, x, x, "continous")


def test_a_dataset_plugin_building_a_misspelt_kind_is_named_before_any_cell(tmp_path) -> None:
    from benchbench.engine.runner import run_suite

    def ring() -> Dataset:
        x = np.zeros((8, 2))
        return Dataset("ring", x, x, x, "continous")

    suite = tmp_path / "s.toml"
    suite.write_text('[[datasets]]\nname = "ring"\n\n[[models]]\nfamily = "good"\nbudget = { steps = 1 }\n')
    registry = registry_of(Declares(models=[ModelSpec("good", "ok", "x:y")], datasets=[DatasetSpec("ring", "a ring", ring)]))
    with pytest.raises(benchbench.PluginError, match=r"dataset 'ring' from plugin 'author' \(\(registered directly\)\) failed to build: "
                                                     r"ValueError: dataset 'ring': kind must be one of"):
        run_suite(suite, results_root=tmp_path / "results", registry=registry, progress=False, echo=lambda s: None)
    assert not (tmp_path / "results").exists()
