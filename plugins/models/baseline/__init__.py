"""Baselines every family must beat: each data dimension modelled independently.
The plugin spec only; the model is in ``model.py``."""

import benchbench
from benchbench import ModelSpec, Param


@benchbench.hookimpl
def benchbench_models() -> list[ModelSpec]:
    return [
        ModelSpec(
            name="independent",
            summary="Independent per-dimension Bernoulli / categorical / Gaussian, fitted by maximum likelihood",
            factory="benchbench_plugins.models.baseline.model:build",
            version="1",
            params=(Param("lr", 0.05, "Adam learning rate"),),
        )
    ]
