"""Every registered model variant and metric keeps the plugin contract (benchbench.testing)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from benchbench import CapabilityError, EvalContext, NotApplicable
from benchbench.engine.cell import unmet
from benchbench.plugin.registry import build_registry
from benchbench.testing import check_metric, check_model, tiny_datasets

REGISTRY = build_registry()
DATASETS = tiny_datasets()
MODELS = [(name, variant) for name in REGISTRY.names("model") for variant in REGISTRY.model(name).variants]
# The papers' defaults make a thousand network passes per sample and per bound (T = 1000 diffusion
# steps, N = 1000 SDE steps, 1e-5 ODE tolerances); the contract is the same at a few dozen.
FEWER_STEPS = {"diffusion": {"timesteps": 50, "sample_steps": 10},
               "score": {"sample_steps": 50, "rtol": 1e-3, "atol": 1e-3}}


def test_no_built_in_plugin_has_a_problem():
    assert REGISTRY.problems == {}


def settings(name: str, dataset, folder) -> dict:
    """Parameters a model needs beyond its defaults: fewer sampler steps, or (external samples)
    a file of samples shaped like the data, here its own test split."""
    if name != "samples":
        return FEWER_STEPS.get(name, {})
    path = folder / f"{dataset.name}.npy"
    np.save(path, dataset.test)
    return {"path": str(path)}


@pytest.mark.parametrize(("name", "variant"), MODELS, ids=[f"{n}-{v}" for n, v in MODELS])
def test_model_variant_keeps_the_contract_on_every_data_kind_it_accepts(name, variant, tmp_path):
    spec = REGISTRY.model(name)
    built = []
    for kind, dataset in DATASETS.items():
        if kind not in spec.data_kinds:
            continue
        torch.manual_seed(0)
        try:
            built.append(check_model(spec, dataset, variant, **settings(name, dataset, tmp_path)))
        except CapabilityError as error:
            assert name in str(error) or variant in str(error) or dataset.name in str(error), f"unclear refusal: {error}"
    assert built, f"{name}/{variant} runs on none of the tiny datasets"


@pytest.mark.parametrize("metric", REGISTRY.names("metric"))
def test_metric_gives_values_or_a_reason_on_a_trained_model(metric, tmp_path):
    spec, dataset = REGISTRY.metric(metric), DATASETS["discrete"]
    model = check_model(REGISTRY.model("vae"), dataset, "vae")
    torch.manual_seed(0)
    context = EvalContext(model, dataset, model.sample(64), "cpu", 0, tmp_path, batch_size=16)
    if unmet(spec.requires, context):
        return
    try:
        check_metric(spec, context)
    except NotApplicable as reason:
        assert str(reason)
