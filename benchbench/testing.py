"""Contract checks for plugin authors: ``from benchbench.testing import check_model``.

The same checks benchbench runs over every built-in model and metric. They raise
``AssertionError`` with a message naming the plugin, so they work under any test runner.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from .api.dataset import Dataset
from .api.metric import EvalContext, MetricValue
from .api.model import Model
from .api.specs import MetricSpec, ModelSpec

CAPABILITY_CALLS = {
    "log_prob": lambda m, x: m.log_prob(x),
    "elbo": lambda m, x: m.elbo(x)["elbo"],
    "log_prob_bound": lambda m, x: m.log_prob_bound(x, 3),
}


def tiny_datasets(seed: int = 0) -> dict[str, Dataset]:
    """One small dataset of each kind: 2D continuous, 17-level 8×8 images, binary 8×8 images."""
    rng = np.random.default_rng(seed)
    labels = lambda n: rng.integers(0, 3, n)  # noqa: E731
    points = lambda n: rng.normal(size=(n, 2))  # noqa: E731
    levels = lambda n: rng.integers(0, 17, (n, 1, 8, 8)) / 16  # noqa: E731
    bits = lambda n: (rng.random((n, 1, 8, 8)) < 0.3).astype(float)  # noqa: E731
    return {
        "continuous": Dataset("tiny-2d", points(64), points(16), points(16), "continuous"),
        "discrete": Dataset("tiny-levels", levels(64), levels(16), levels(16), "discrete", levels=17,
                            train_labels=labels(64), val_labels=labels(16), test_labels=labels(16), num_classes=3),
        "binary": Dataset("tiny-binary", bits(64), bits(16), bits(16), "binary"),
    }


def check_model(spec: ModelSpec, dataset: Dataset, variant: str, steps: int = 2, **params: Any) -> Model:
    """Build ``spec``'s ``variant`` on ``dataset``, take a few steps, sample, and call every
    declared capability; returns the model. CapabilityError from the factory passes through."""
    where = f"model {spec.name!r} variant {variant!r} on {dataset.name!r}"
    model = spec.resolve()(dataset, variant=variant, **{**spec.defaults(), **spec.variants[variant], **params})
    assert isinstance(model, Model), f"{where}: factory returned {type(model).__name__}, not a benchbench.Model"
    assert model.density in ("discrete", "continuous"), f"{where}: density must be 'discrete' or 'continuous'"
    x = torch.as_tensor(dataset.train[:16])
    for _ in range(steps):
        losses = model.train_step(x, None)
        assert isinstance(losses, dict) and losses, f"{where}: train_step must return a non-empty dict of floats"
        assert all(isinstance(v, float) and math.isfinite(v) for v in losses.values()), f"{where}: losses {losses}"
    model.eval()
    with torch.no_grad():
        samples = model.sample(5)
    assert tuple(samples.shape) == (5, *dataset.shape), f"{where}: sample(5) gave {tuple(samples.shape)}"
    assert torch.isfinite(samples).all(), f"{where}: non-finite samples"
    _check_capabilities(model, x[:4], where)
    return model


def _check_capabilities(model: Model, x: torch.Tensor, where: str) -> None:
    for capability in sorted(model.capabilities):
        if capability == "encode":
            with torch.no_grad():
                z = model.encode(x)
            assert z.shape[0] == len(x) and z.dim() == 2, f"{where}: encode gave {tuple(z.shape)}, expected (B, Z)"
        elif capability == "decode":
            with torch.no_grad():
                decoded = model.decode(model.encode(x), x)
            assert decoded["mean"].shape == x.shape, f"{where}: decode mean is {tuple(decoded['mean'].shape)}"
            assert tuple(decoded["log_prob"].shape) == (len(x),), f"{where}: decode log_prob must be (B,)"
        elif capability in CAPABILITY_CALLS:
            with torch.no_grad():
                value = CAPABILITY_CALLS[capability](model, x)
            assert tuple(value.shape) == (len(x),), f"{where}: {capability} gave {tuple(value.shape)}, expected ({len(x)},)"
            assert torch.isfinite(value).all(), f"{where}: {capability} is not finite"


def check_metric(spec: MetricSpec, context: EvalContext, **params: Any) -> list[MetricValue]:
    """Evaluate ``spec`` and check what it returns: MetricValues with directions and finite values."""
    values = spec.resolve()(context, **{**spec.defaults(), **params})
    assert values and all(isinstance(v, MetricValue) for v in values), f"metric {spec.name!r} must return MetricValues"
    for v in values:
        assert v.direction in ("lower", "higher"), f"metric {spec.name!r}: {v.name} has direction {v.direction!r}"
        assert v.value is not None and math.isfinite(v.value), f"metric {spec.name!r}: {v.name} = {v.value}"
    return values
