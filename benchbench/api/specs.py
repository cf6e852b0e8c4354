"""Declarative specs that plugins return from their hooks.

A spec says what a plugin offers without building it: name, summary, parameters with defaults,
version, and a factory. The factory may be a callable or a ``"module:attribute"`` string that the
host imports only when a cell needs it, so listing plugins and validating suites never imports
torch.
"""

from __future__ import annotations

import importlib
import re
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Direction = Literal["lower", "higher"]
DataKind = Literal["binary", "discrete", "continuous"]
DATA_KINDS = frozenset({"binary", "discrete", "continuous"})
DIRECTIONS = frozenset({"lower", "higher"})
EXACTNESS = frozenset({"exact", "bound", "estimate", "measured"})
CAPABILITIES = frozenset({"log_prob", "elbo", "log_prob_bound", "encode", "decode", "conditional", "pixel_conditionals",
                          "latent_coding"})


@dataclass(frozen=True)
class Param:
    """One parameter a suite may set; its type is the default's type unless ``kind`` says so."""

    name: str
    default: Any
    help: str = ""
    choices: tuple[Any, ...] | None = None
    kind: type | None = None

    @property
    def type(self) -> type:
        return self.kind or type(self.default)


SPLIT_PARAM = Param("split", "test", "the dataset split scored", choices=("train", "val", "test"))
"""The split a data-scoring metric reads; shared so every metric names it the same way."""

BATCH_SIZE_PARAM = Param("batch_size", None, "examples per forward pass; default: the cell's batch size", kind=int)
"""Examples per forward pass of a metric; memory only, never the value."""


def _resolve(factory: Callable[..., Any] | str) -> Callable[..., Any]:
    if callable(factory):
        return factory
    module, _, attribute = factory.partition(":")
    target: Any = importlib.import_module(module)
    for part in attribute.split("."):
        target = getattr(target, part)
    return target


@dataclass(frozen=True)
class _Spec:
    name: str
    summary: str
    factory: Callable[..., Any] | str
    params: tuple[Param, ...] = ()
    version: str = "1"

    def param(self, name: str) -> Param | None:
        return next((p for p in self.params if p.name == name), None)

    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.params}

    def resolve(self) -> Callable[..., Any]:
        """The factory itself, importing its module on first use."""
        return _resolve(self.factory)


@dataclass(frozen=True)
class ModelSpec(_Spec):
    """A model family. ``variants`` maps a variant name to the parameters it overrides.

    The factory is called as ``factory(dataset, variant=..., **params)`` with the loaded
    :class:`benchbench.Dataset` and returns a :class:`benchbench.Model`; it raises
    :class:`benchbench.CapabilityError` when the data is of a kind the variant cannot model.
    ``data_kinds`` is checked before any model is built (by ``bench run`` and ``bench validate``);
    a kind outside :data:`DATA_KINDS` is refused when the spec is registered.
    """

    variants: Mapping[str, Mapping[str, Any]] = field(default_factory=lambda: {"default": {}})
    data_kinds: frozenset[str] = DATA_KINDS
    sampling_params: frozenset[str] = frozenset()
    """Parameters that change how the model samples or is scored, never how it trains (a sampler's
    steps, a guidance weight, an estimator's settings): points of a suite's sweep that differ only
    in these share one training (``benchbench/engine/sweeps.py``)."""

    @property
    def default_variant(self) -> str:
        return next(iter(self.variants))


@dataclass(frozen=True)
class Requirements:
    """What a metric needs from a cell; unmet requirements give an ``n/a`` with the reason.

    ``capabilities`` are all required; of ``any_capabilities`` (when given) one is enough.
    """

    capabilities: frozenset[str] = frozenset()
    any_capabilities: frozenset[str] = frozenset()
    samples: bool = False
    labels: bool = False
    data_kinds: frozenset[str] = DATA_KINDS
    min_samples: int = 0


@dataclass(frozen=True)
class ValueSpec:
    """One number a metric produces, declared so that the host names an ``n/a`` exactly as it would
    name the value, and lays leaderboards out, without running the metric.

    ``name`` is a template filled from the metric entry's parameters (``"fid[{extractor}]"``); the
    part in brackets says what defines the number beyond its quantity (the feature extractor, the
    representation clustered). A field that is no parameter (``"nmi[random_projection_d{d}]"``,
    ``d`` set by the model) matches any text, and such a value gets no ``n/a`` record of its own.
    ``column`` (default: the name) is the wide tables' column, when several values are one quantity
    (the exact ``nll`` and the bound ``nll_bound_k{k}``, the bound marked there); ``headline`` values
    are the wide tables' default columns; a ``reference`` value does not depend on the model (the
    clustering of a random projection of the data), so the wide tables show it once per dataset.
    """

    name: str
    direction: Direction
    unit: str
    headline: bool = False
    column: str = ""
    reference: bool = False

    def fields(self) -> list[str]:
        return [field for _, field, _, _ in string.Formatter().parse(self.name) if field is not None]

    def concrete(self, params: Mapping[str, Any]) -> str | None:
        """The name under these parameters, or None when a field is not a parameter."""
        if not all(f in params for f in self.fields()):
            return None
        return self.name.format(**params)

    def matches(self, name: str, params: Mapping[str, Any]) -> bool:
        """Whether a produced value's ``name`` is this declaration under these parameters."""
        pattern = "".join(re.escape(text) + ("" if field is None else
                                               re.escape(str(params[field])) if field in params else ".+?")
                          for text, field, _, _ in string.Formatter().parse(self.name))
        return re.fullmatch(pattern, name) is not None

    def column_name(self, name: str, params: Mapping[str, Any]) -> str:
        """The wide tables' column of a value named ``name`` under these parameters."""
        if not self.column:
            return name
        try:
            return self.column.format(**params)
        except KeyError:
            return self.column


@dataclass(frozen=True)
class MetricSpec(_Spec):
    """A metric group. The factory is called as ``factory(context, **params)`` and returns a list
    of :class:`benchbench.MetricValue`; each value names its own direction.

    ``values`` declares the numbers it produces (:class:`ValueSpec`); a metric that declares none
    has its ``n/a`` recorded under the spec's own name and no headline columns.
    """

    requires: Requirements = Requirements()
    values: tuple[ValueSpec, ...] = ()

    def declared(self, name: str, params: Mapping[str, Any]) -> ValueSpec | None:
        """The declaration a produced value of this name answers to, if any."""
        return next((v for v in self.values if v.matches(name, params)), None)


@dataclass(frozen=True)
class DatasetSpec(_Spec):
    """A dataset. The factory is called as ``factory(**params)`` and returns a
    :class:`benchbench.Dataset` with fixed splits; it must never download.
    """


@dataclass(frozen=True)
class ExecutorSpec(_Spec):
    """An executor: how a run's cells are carried out (:class:`benchbench.Executor`). The factory
    is called as ``factory(datasets, **params)`` with the datasets the driver loaded (keyed as
    ``CellJob.dataset_key``) and the parameters of the suite's ``[executor]`` table or the command
    line, and returns the executor; it imports what it needs (a cluster client) only then.
    """


def spec_problem(spec: ModelSpec | MetricSpec | DatasetSpec | ExecutorSpec) -> str:
    """What is wrong with a spec's declarations (an unknown data kind or capability), or ''."""
    if isinstance(spec, ModelSpec):
        declared = {"data_kinds": (spec.data_kinds, DATA_KINDS)}
        if not spec.variants:
            return "declares no variants; give at least one, e.g. {'default': {}}"
        if unknown := sorted(set(spec.sampling_params) - {p.name for p in spec.params}):
            return f"sampling_params names {', '.join(map(repr, unknown))}, which are not among its params"
    elif isinstance(spec, MetricSpec):
        for value in spec.values:
            if value.direction not in DIRECTIONS:
                return f"value {value.name!r} has direction {value.direction!r}; expected one of {', '.join(sorted(DIRECTIONS))}"
            try:
                value.fields()
            except ValueError as error:
                return f"value name {value.name!r} is not a valid template: {error}"
        declared = {"requires.data_kinds": (spec.requires.data_kinds, DATA_KINDS),
                    "requires.capabilities": (spec.requires.capabilities | spec.requires.any_capabilities, CAPABILITIES)}
    else:
        return ""
    for field_name, (given, known) in declared.items():
        unknown = sorted(set(given) - known)
        if unknown:
            return f"{field_name} has unknown {', '.join(map(repr, unknown))}; known: {', '.join(sorted(known))}"
    return ""
