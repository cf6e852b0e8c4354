"""benchbench-example-plugin: a model family, a metric and a dataset, written against benchbench's public API.

benchbench imports this module (the entry point ``example = "benchbench_example"``) for every
command, including ``bench list`` and ``bench validate``, which never train anything. So this
module only *describes* what the plugin offers and stays cheap to import:

- no ``import torch`` here. Importing torch takes seconds; a plugin that imports it at the top
  would slow down every command for every user who has the plugin installed, and a broken CUDA
  install would turn into "plugin failed to load" even for commands that never touch a model.
- the factories are ``"module:attribute"`` strings. benchbench imports ``benchbench_example.model``
  or ``benchbench_example.metric`` only when a cell actually builds the model or evaluates the
  metric, and by then torch is loaded anyway.

The code lives in the sibling modules ``model.py``, ``metric.py`` and ``dataset.py``; the tests in
``tests/`` use ``benchbench.testing`` only.
"""

from __future__ import annotations

from benchbench import DatasetSpec, MetricSpec, ModelSpec, Param, Requirements, hookimpl


@hookimpl
def benchbench_models() -> list[ModelSpec]:
    return [
        ModelSpec(
            name="example-gaussian",
            summary="A single Gaussian fitted by maximum likelihood with Adam (example plugin)",
            factory="benchbench_example.model:build_gaussian",
            params=(
                Param("lr", 0.05, help="Adam learning rate"),
                Param("init_scale", 1.0, help="initial standard deviation of every dimension, in data units"),
            ),
            # The first variant is the default. A variant may also override parameters, e.g.
            # {"lr": 0.1}; here the factory reads the variant name itself.
            variants={"full": {}, "diagonal": {}},
            # The kinds of data the family can model; a kind benchbench does not know is refused
            # when the spec is registered. Checked by `bench run` and `bench validate` before any
            # training. (The default is all three.)
            data_kinds=frozenset({"binary", "discrete", "continuous"}),
            # Bump when the model's outputs change for the same parameters and seed: every record
            # carries it, and `bench compare` warns when versions differ.
            version="1",
        )
    ]


@hookimpl
def benchbench_metrics() -> list[MetricSpec]:
    return [
        MetricSpec(
            name="example-mean-gap",
            summary="Euclidean distance between the sample mean and the test-set mean (example plugin)",
            factory="benchbench_example.metric:mean_gap",
            # The host draws samples once per cell and shares them with every metric; with fewer
            # than min_samples the metric is recorded as n/a with the reason, not computed.
            requires=Requirements(samples=True, min_samples=100),
            version="1",
        )
    ]


@hookimpl
def benchbench_datasets() -> list[DatasetSpec]:
    return [
        DatasetSpec(
            name="example-ring",
            summary="Points on a noisy ring, generated from a seed (example plugin)",
            factory="benchbench_example.dataset:ring",
            params=(
                Param("n", 3000, help="points in all three splits together"),
                Param("radius", 2.0, help="radius of the ring"),
                Param("noise", 0.1, help="standard deviation across the ring"),
                Param("data_seed", 0, help="seed of the points and of the split; never the cell's seed"),
            ),
        )
    ]
