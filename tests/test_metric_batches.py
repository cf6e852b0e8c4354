"""Every built-in metric that evaluates the model does so in batches of the cell's batch size (or
its own ``batch_size``), so that a metric over 50,000 test images never asks a U-Net for all of
them at once. Checked for every metric that applies to a model offering every evaluation the
metrics use (log_prob, elbo, encode, decode), on labelled image data."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

import benchbench
from benchbench import EvalContext, NotApplicable
from benchbench.engine.cell import unmet
from benchbench.plugin.registry import build_registry

LIMIT = 16  # the cell's batch size in this test


class BatchLimited(benchbench.Model):
    """A linear Gaussian autoencoder that fails any evaluation of more than ``LIMIT`` examples and
    counts the examples it evaluated."""

    capabilities = frozenset({"log_prob", "elbo", "encode", "decode"})

    def __init__(self, dim: int = 64, latent: int = 4):
        super().__init__()
        self.encoder, self.decoder = torch.nn.Linear(dim, latent), torch.nn.Linear(latent, dim)
        self.largest, self.evaluated = 0, 0

    def _check(self, batch: torch.Tensor) -> None:
        assert len(batch) <= LIMIT, f"evaluated {len(batch)} examples at once, more than the batch size {LIMIT}"
        self.largest, self.evaluated = max(self.largest, len(batch)), self.evaluated + len(batch)

    def _gaussian(self, x: torch.Tensor, mean: torch.Tensor) -> torch.Tensor:
        return -0.5 * ((x.flatten(1) - mean.flatten(1)) ** 2).sum(1) - 0.5 * mean[0].numel() * math.log(2 * math.pi)

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        self._check(x)
        return self._gaussian(x, torch.zeros_like(x))

    def elbo(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        self._check(x)
        reconstruction = self._gaussian(x, self.decoder(self.encoder(x.flatten(1))))
        return {"elbo": reconstruction, "reconstruction": reconstruction, "kl": torch.zeros(len(x))}

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        self._check(x)
        return self.encoder(x.flatten(1))

    def decode(self, z: torch.Tensor, x: torch.Tensor) -> dict[str, torch.Tensor]:
        self._check(z)
        mean = self.decoder(z).view_as(x)
        return {"mean": mean, "log_prob": self._gaussian(x, mean)}


REGISTRY = build_registry()
SMALL = {"n": 300, "n_train": 200, "n_eval": 100, "n_test": 100, "n_variance": 300, "group_size": 8, "n_estimators": 5,
         "n_init": 2}  # sizes that keep the disentanglement metrics' own fits quick; the batching is the same


def _model_metrics() -> list[str]:
    """The metrics that evaluate a model: every one requiring one of the capabilities it offers."""
    return [name for name in REGISTRY.names("metric")
            if (REGISTRY.metric(name).requires.capabilities | REGISTRY.metric(name).requires.any_capabilities)
            & BatchLimited.capabilities]


@pytest.fixture(scope="module")
def sprites():
    """Small sprites with their factors, for the disentanglement metrics."""
    spec = REGISTRY.dataset("sprites")
    return spec.resolve()(**{**spec.defaults(), "size": 16, "n_train": 100, "n_val": 50, "n_test": 400})


def test_the_metrics_that_evaluate_models_are_all_checked():
    assert {"nll", "elbo", "reconstruction", "latent_clustering", "mig", "dci", "sap"} <= set(_model_metrics())


@pytest.mark.parametrize("name", _model_metrics())
def test_a_metric_evaluates_the_model_in_batches_of_the_cell(name, one_thread, digits, sprites):
    spec = REGISTRY.metric(name)
    data = sprites if "disentanglement" in str(spec.factory) else digits
    model = BatchLimited(dim=math.prod(data.shape)).eval()
    context = EvalContext(model, data, None, "cpu", 0, Path("unused-cache"), batch_size=LIMIT)
    reason = unmet(spec.requires, context)
    assert not reason, f"{name} should apply to an autoencoder with a density on labelled images: {reason}"
    params = {key: SMALL.get(key, value) for key, value in spec.defaults().items()}
    try:
        with torch.no_grad():
            values = spec.resolve()(context, **params)
    except NotApplicable as error:
        pytest.fail(f"{name} is not applicable: {error}")
    assert values and model.evaluated > LIMIT  # it evaluated more examples than one batch holds...
    assert model.largest <= LIMIT  # ...never more than the batch size at once
