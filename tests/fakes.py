"""Small plugins for host tests: a dataset, well-behaved and misbehaving models, a metric.

Registered directly on an isolated plugin manager, so host tests do not depend on the built-in
plugins' numbers.
"""

from __future__ import annotations

import math
import os
import time

import numpy as np
import torch

import benchbench
from benchbench import Dataset, DatasetSpec, MetricSpec, MetricValue, ModelSpec, Param, Requirements, ValueSpec
from benchbench.plugin.manager import make_plugin_manager
from benchbench.plugin.registry import Registry, build_registry


def blobs(n_train: int = 256, shift: float = 0.0, classes: int = 0) -> Dataset:
    """A Gaussian blob; with ``classes``, point i of each split is labelled ``i % classes``."""
    rng = np.random.default_rng(0)
    draw = lambda n: rng.normal(shift, 1.0, size=(n, 2))  # noqa: E731
    label = lambda n: np.arange(n) % classes if classes else None  # noqa: E731
    return Dataset("blobs", draw(n_train), draw(64), draw(128), "continuous", train_labels=label(n_train),
                   val_labels=label(64), test_labels=label(128), num_classes=classes or None)


class Gaussian(benchbench.Model):
    """Learns a mean by gradient steps; exact log_prob of N(mean, I)."""

    capabilities = frozenset({"log_prob"})

    def __init__(self, behaviour: str = "ok", diverge_at: int = 5, sleep: float = 0.0, sample_scale: float = 1.0):
        super().__init__()
        self.sample_scale = sample_scale  # a sampling-only parameter: the spread of the samples
        self.mean = torch.nn.Parameter(torch.zeros(2))
        self.opt = torch.optim.SGD(self.parameters(), lr=0.1)
        self.behaviour, self.diverge_at, self.sleep, self.steps = behaviour, diverge_at, sleep, 0

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        return -0.5 * ((x - self.mean) ** 2).sum(1) - math.log(2 * math.pi)

    def train_step(self, x: torch.Tensor, y: torch.Tensor | None = None) -> dict[str, float]:
        self.steps += 1
        time.sleep(self.sleep)
        if self.behaviour == "raise":
            raise RuntimeError("boom in train_step")
        if self.behaviour == "exit":  # the worker process dies, as one killed by the OOM killer does
            os._exit(3)
        if self.behaviour == "hog":  # a transient 256 MiB, written so that it is resident
            torch.ones(2**26).sum()
        loss = -self.log_prob(x).mean()
        if self.behaviour in ("diverge", "tensor-diverge") and self.steps >= self.diverge_at:
            loss = loss * float("nan")
        if self.behaviour == "guard" and self.steps >= self.diverge_at:
            raise benchbench.ModelDiverged("critic output 3e+09 beyond divergence_limit 1e+06")
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        if self.behaviour in ("tensor-loss", "tensor-diverge"):
            return {"loss": loss.detach()}
        return {"string-loss": {"loss": "low"}}.get(self.behaviour, {"loss": loss.item()})

    def sampling_values(self) -> list[MetricValue]:
        if self.behaviour == "self-measuring":
            return [MetricValue("network_evals_per_sample", 3.0, "lower", "evals/sample", "measured", {"sampler": "fake"})]
        return "three" if self.behaviour == "bad-sampling-values" else []  # type: ignore[return-value]

    def sampling_protocol(self) -> dict:
        return {"bad-sampling-protocol": "fast"}.get(self.behaviour, {})  # type: ignore[return-value]

    @torch.no_grad()
    def sample(self, n: int, labels: torch.Tensor | None = None) -> torch.Tensor:
        if labels is not None:
            raise RuntimeError("an unconditional model was given labels")
        samples = self.mean + self.sample_scale * torch.randn(n, 2, device=self.mean.device)
        return samples[:, :1] if self.behaviour == "bad-shape" else samples


class ConditionalGaussian(Gaussian):
    """Declares ``conditional`` and writes each sample's label into its first coordinate, so a test
    reads off the saved samples which labels the model was given."""

    capabilities = frozenset({"log_prob", "conditional"})

    def sampling_protocol(self) -> dict:
        return {"sampler": "fake-guided", "guidance": 2.0}

    @torch.no_grad()
    def sample(self, n: int, labels: torch.Tensor | None = None) -> torch.Tensor:
        samples = super().sample(n)
        if labels is not None:
            samples[:, 0] = labels
        return samples


def build_gaussian(data: Dataset, variant: str = "ok", **params: float) -> Gaussian:
    if variant == "broken":
        raise KeyError("a bug in the plugin's factory")
    if variant == "picky":
        raise benchbench.CapabilityError("picky variant models nothing")
    return (ConditionalGaussian if variant == "conditional" else Gaussian)(variant, **params)


def mean_nll(context: benchbench.EvalContext, fail: bool = False) -> list[MetricValue]:
    if fail:
        raise ValueError("metric exploded")
    value = -context.model.log_prob(context.split("test")).mean().item()
    return [MetricValue("mean_nll", value, "lower", "nats", "exact")]


def sample_mean_gap(context: benchbench.EvalContext) -> list[MetricValue]:
    gap = (context.samples.mean(0) - context.split("test").mean(0)).norm().item()
    return [MetricValue("mean_gap", gap, "lower")]


def label_match(context: benchbench.EvalContext) -> list[MetricValue]:
    """Share of samples whose first coordinate is the label in ``context.sample_labels``."""
    if context.sample_labels is None:
        raise benchbench.NotApplicable("the samples were drawn without labels")
    match = (context.samples[:, 0] == context.sample_labels.to(context.samples.dtype)).double().mean()
    return [MetricValue("label_match", match, "higher")]


def careless_metric(context: benchbench.EvalContext, returns: str = "float") -> object:
    """Breaks the metric contract in the ways plugin authors do (``returns``), or keeps it with a
    tensor value, which the host converts."""
    gap = (context.samples.mean(0) - context.split("test").mean(0)).norm()
    return {"float": gap.item(), "value": MetricValue("careless", gap.item(), "lower"),
            "tensor": [MetricValue("careless", gap, "lower")], "sideways": [MetricValue("careless", 1.0, "sideways")]}[returns]


def declared_gap(context: benchbench.EvalContext, space: str = "data", name: str = "") -> list[MetricValue]:
    """The sample mean gap under a declared name (``gap[{space}]``), or under ``name`` when given."""
    gap = (context.samples.mean(0) - context.split("test").mean(0)).norm().item()
    return [MetricValue(name or f"gap[{space}]", gap, "lower", "units"), MetricValue("gap_rank_d3", 1.0, "higher", "rank")]


DECLARED = (ValueSpec("gap[{space}]", "lower", "units", headline=True), ValueSpec("gap_rank_d{d}", "higher", "rank"))


class RunnablePlugin:
    @benchbench.hookimpl
    def benchbench_datasets(self) -> list[DatasetSpec]:
        return [DatasetSpec("blobs", "Gaussian blob", blobs,
                            params=(Param("n_train", 256), Param("shift", 0.0), Param("classes", 0)))]

    @benchbench.hookimpl
    def benchbench_models(self) -> list[ModelSpec]:
        variants = {"ok": {}, "raise": {}, "diverge": {}, "slow": {"sleep": 0.01}, "broken": {}, "picky": {},
                    "tensor-loss": {}, "string-loss": {}, "bad-shape": {}, "hog": {}, "guard": {},
                    "self-measuring": {}, "bad-sampling-values": {}, "bad-sampling-protocol": {}, "conditional": {}, "exit": {}, "tensor-diverge": {}}
        params = (Param("diverge_at", 5), Param("sleep", 0.0), Param("sample_scale", 1.0))
        return [ModelSpec("gaussian", "learned mean", build_gaussian, variants=variants, params=params,
                          sampling_params=frozenset({"sample_scale"})),
                ModelSpec("binary-only", "models binary data only", build_gaussian, data_kinds=frozenset({"binary"}))]

    @benchbench.hookimpl
    def benchbench_metrics(self) -> list[MetricSpec]:
        return [
            MetricSpec("mean_nll", "test NLL", mean_nll, params=(Param("fail", False),), requires=Requirements(frozenset({"log_prob"}))),
            MetricSpec("mean_gap", "sample mean gap", sample_mean_gap, requires=Requirements(samples=True)),
            MetricSpec("needs_encode", "never applies here", mean_nll, requires=Requirements(frozenset({"encode"}))),
            MetricSpec("label-match", "samples carry the labels the metric is given", label_match,
                       requires=Requirements(samples=True)),
            MetricSpec("careless", "breaks the metric contract", careless_metric, requires=Requirements(samples=True),
                       params=(Param("returns", "float", choices=("float", "value", "tensor", "sideways")),)),
            MetricSpec("declared", "declares its values", declared_gap, requires=Requirements(samples=True),
                       params=(Param("space", "data"), Param("name", "")), values=DECLARED),
            MetricSpec("declared_encode", "declares its values, never applies here", declared_gap,
                       requires=Requirements(frozenset({"encode"})), params=(Param("space", "latent"),), values=DECLARED),
        ]


def runnable_registry() -> Registry:
    """An isolated registry holding only :class:`RunnablePlugin`, whose factories really build things."""
    return build_registry(make_plugin_manager(plugins=[("fake", RunnablePlugin())], entry_points=False))


SUITE = """
[suite]
name = "fake"
seeds = [0, 1]
time_limit = {time_limit}
samples = 64
checkpoint_every = 10

[[datasets]]
name = "blobs"
params = {{ shift = 2.0 }}

[[models]]
family = "gaussian"
variant = "{variant}"
budget = {{ steps = {steps} }}
batch_size = 32

[[metrics]]
name = "mean_nll"

[[metrics]]
name = "mean_gap"

[[metrics]]
name = "needs_encode"
"""


def write_runnable_suite(path, variant: str = "ok", steps: int = 30, time_limit: float = 60, extra: str = ""):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(SUITE.format(variant=variant, steps=steps, time_limit=time_limit) + extra)
    return path
