"""The example plugin's own tests, written as a third party writes them: ``benchbench.testing`` and
benchbench's public face only. Run them with ``pytest`` after ``pip install -e .``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import benchbench_example
from benchbench import ContractError
from benchbench.testing import check_dataset, check_metric, check_model, eval_context, plugin_registry, tiny_datasets

REGISTRY = plugin_registry({"example": benchbench_example})


def test_the_plugin_loads_and_provides_what_it_says() -> None:
    assert REGISTRY.problems == {}
    assert (REGISTRY.names("model"), REGISTRY.names("metric"), REGISTRY.names("dataset")) == (
        ["example-gaussian"], ["example-mean-gap"], ["example-ring"])


@pytest.mark.parametrize("variant", ["full", "diagonal"])
@pytest.mark.parametrize("kind", ["continuous", "discrete", "binary"])
def test_every_variant_keeps_the_model_contract(variant: str, kind: str) -> None:
    model = check_model(REGISTRY.model("example-gaussian"), tiny_datasets()[kind], variant)
    assert model.supports("log_prob")


def test_the_metric_keeps_the_contract_and_matches_numpy() -> None:
    dataset = REGISTRY.dataset("example-ring").resolve()(n=600)
    model = check_model(REGISTRY.model("example-gaussian"), dataset, "diagonal")
    context = eval_context(model, dataset, samples=200)
    (value,) = check_metric(REGISTRY.metric("example-mean-gap"), context)
    expected = np.linalg.norm(context.samples.numpy().astype(np.float64).mean(0) - dataset.test.astype(np.float64).mean(0))
    assert value.value == pytest.approx(expected, rel=1e-9)
    assert (value.direction, value.protocol["samples"]) == ("lower", 200)


def test_the_metric_of_the_test_split_itself_is_zero() -> None:
    dataset = REGISTRY.dataset("example-ring").resolve()(n=600)
    model = check_model(REGISTRY.model("example-gaussian"), dataset, "diagonal")
    (value,) = check_metric(REGISTRY.metric("example-mean-gap"), eval_context(model, dataset, torch.as_tensor(dataset.test)))
    assert value.value == pytest.approx(0.0, abs=1e-12)


def test_the_ring_keeps_the_dataset_contract() -> None:
    ring = check_dataset(REGISTRY.dataset("example-ring"))
    radii = np.linalg.norm(ring.test, axis=1)
    assert ring.kind == "continuous" and ring.shape == (2,)
    assert abs(radii.mean() - 2.0) < 0.02 and abs(radii.std() - 0.1) < 0.02


def test_the_model_learns_the_held_out_ring() -> None:
    """Maximum likelihood on train lowers the NLL of the held-out test split to near that of the
    best Gaussian (the test split's own mean and covariance)."""
    torch.manual_seed(0)
    dataset = REGISTRY.dataset("example-ring").resolve()()
    model = check_model(REGISTRY.model("example-gaussian"), dataset, "full", steps=0, init_scale=0.3)
    test = torch.as_tensor(dataset.test)
    before = -model.log_prob(test).mean().item()
    train = torch.as_tensor(dataset.train)
    for _ in range(300):
        model.train_step(train[torch.randint(len(train), (256,))])
    after = -model.log_prob(test).mean().item()
    best = torch.distributions.MultivariateNormal(test.mean(0), torch.cov(test.T)).log_prob(test).mean().item()
    assert after < before - 5
    assert after == pytest.approx(-best, abs=0.05)


def test_a_metric_breaking_the_contract_is_caught_by_the_same_check_the_runner_applies() -> None:
    from benchbench import MetricSpec

    dataset = tiny_datasets()["continuous"]
    model = check_model(REGISTRY.model("example-gaussian"), dataset, "diagonal")
    careless = MetricSpec("careless", "returns a bare float", lambda context: math.pi)
    with pytest.raises(ContractError, match="metric 'careless': must return a list of MetricValue, got float"):
        check_metric(careless, eval_context(model, dataset, samples=10))
