"""Everything a plugin author's tests need: ``from benchbench.testing import ...``.

- :func:`plugin_registry` builds a registry holding only the plugins a test names (or, with
  ``installed=True``, everything installed), the way every command builds one;
- :func:`tiny_datasets` gives one small dataset of each kind, :func:`eval_context` the context a
  metric is called with;
- :func:`check_model`, :func:`check_metric` and :func:`check_dataset` are the contract checks
  benchbench runs over its own plugins, through the same boundary checks the runner applies.

The checks raise ``AssertionError``, or :class:`benchbench.ContractError` for what the runner would
refuse, with a message naming the plugin, so they work under any test runner.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .api.contract import checked_losses, checked_values
from .api.dataset import Dataset
from .api.metric import EvalContext, MetricValue
from .api.model import Model
from .api.specs import DATA_KINDS, DatasetSpec, MetricSpec, ModelSpec
from .engine.cell import draw_samples, labels_to_sample
from .plugin.manager import make_plugin_manager
from .plugin.registry import Registry, build_registry

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


def plugin_registry(plugins: Mapping[str, object] | None = None, *, installed: bool = False,
                    disabled: Iterable[str] = ()) -> Registry:
    """A registry of ``plugins`` (plugin name → module or object with hooks), plus every installed
    plugin when ``installed`` (less ``disabled``). ``registry.problems`` says what failed to load,
    ``registry.model(name)`` / ``.metric`` / ``.dataset`` give specs."""
    manager = make_plugin_manager(disabled=disabled, plugins=(plugins or {}).items(), entry_points=installed)
    return build_registry(manager)


def eval_context(model: Model, dataset: Dataset, samples: int | torch.Tensor | None = 256, *,
                 sample_labels: torch.Tensor | None = None, seed: int = 0, cache_dir: str | Path | None = None,
                 device: str = "cpu", batch_size: int = 64) -> EvalContext:
    """The context a metric receives in a cell. ``samples`` is a count to draw from ``model`` (in
    eval mode, seeded, as the host does), the samples themselves, or ``None``. ``sample_labels``
    are the labels the samples are drawn (or were drawn) for; drawing a count without them, a
    ``conditional`` model on labelled data gets the host's class-balanced labels. ``cache_dir``
    defaults to a fresh temporary folder."""
    model.eval()
    if isinstance(samples, int):
        if sample_labels is None:
            sample_labels = labels_to_sample(model, dataset, samples, seed, device)
        torch.manual_seed(seed)
        samples = draw_samples(model, samples, sample_labels, f"model {type(model).__name__}", dataset.shape)
    cache = Path(cache_dir) if cache_dir is not None else Path(tempfile.mkdtemp(prefix="benchbench-test-"))
    return EvalContext(model, dataset, samples, device, seed, cache, batch_size=batch_size, sample_labels=sample_labels)


def check_model(spec: ModelSpec, dataset: Dataset, variant: str, steps: int = 2, **params: Any) -> Model:
    """Build ``spec``'s ``variant`` on ``dataset``, take a few steps, sample (with class-balanced
    labels for a ``conditional`` model on labelled data, as the host), and call every declared
    capability; returns the model. CapabilityError from the factory passes through."""
    where = f"model {spec.name!r} variant {variant!r} on {dataset.name!r}"
    model = spec.resolve()(dataset, variant=variant, **{**spec.defaults(), **spec.variants[variant], **params})
    assert isinstance(model, Model), f"{where}: factory returned {type(model).__name__}, not a benchbench.Model"
    assert model.density in ("discrete", "continuous"), f"{where}: density must be 'discrete' or 'continuous'"
    x = torch.as_tensor(dataset.train[:16])
    for _ in range(steps):
        losses = checked_losses(model.train_step(x, None), where)
        assert all(math.isfinite(v) for v in losses.values()), f"{where}: losses {losses}"
    model.eval()
    samples = draw_samples(model, 5, labels_to_sample(model, dataset, 5, 0, "cpu"), where, dataset.shape)
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
    """Evaluate ``spec`` and check what it returns as the runner does (a list of MetricValues with
    distinct names, directions, exactness), and that every value is finite."""
    values = checked_values(spec.resolve()(context, **{**spec.defaults(), **params}), f"metric {spec.name!r}")
    for v in values:
        assert v.value is not None and math.isfinite(v.value), f"metric {spec.name!r}: {v.name} = {v.value}"
    return values


def check_dataset(spec: DatasetSpec, **params: Any) -> Dataset:
    """Load ``spec`` twice and check the :class:`Dataset` contract: splits of one example shape,
    labels as long as their split, values in [0, 1] for data with levels, and the same splits
    both times (splits depend on the dataset's own seed only, never on the caller)."""
    where = f"dataset {spec.name!r}"
    first, second = (spec.resolve()(**{**spec.defaults(), **params}) for _ in range(2))
    assert isinstance(first, Dataset), f"{where}: factory returned {type(first).__name__}, not a benchbench.Dataset"
    assert first.kind in DATA_KINDS, f"{where}: kind {first.kind!r}"
    for split in ("train", "val", "test"):
        array, labels = getattr(first, split), first.labels(split)
        assert array.shape[1:] == first.shape, f"{where}: {split} examples are {array.shape[1:]}, train's {first.shape}"
        assert labels is None or len(labels) == len(array), f"{where}: {len(labels)} {split} labels for {len(array)} examples"
        if first.levels:
            assert array.min() >= 0 and array.max() <= 1, f"{where}: {split} outside [0, 1] for data with levels"
        assert np.array_equal(array, getattr(second, split)), f"{where}: {split} differs between two loads"
    return first
