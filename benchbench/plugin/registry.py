"""Who provides what: the specs every plugin returned, checked once, with helpful look-ups.

A name two plugins register is a clash, and a clash is never resolved by load order: the name
stays listed, and every command that uses it stops with both plugins and their distributions
named, until the user disables one (``-p no:PLUGIN``). Commands that do not use it are unaffected.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..api.specs import DatasetSpec, ExecutorSpec, MetricSpec, ModelSpec, Param, spec_problem
from ..errors import PluginError, UsageError, suggest
from .manager import PluginManager, make_plugin_manager

KINDS: dict[str, tuple[str, type]] = {
    "model": ("benchbench_models", ModelSpec),
    "metric": ("benchbench_metrics", MetricSpec),
    "dataset": ("benchbench_datasets", DatasetSpec),
    "executor": ("benchbench_executors", ExecutorSpec),
}


HOST = "benchbench"  # the plugin name of what the host provides itself
LOCAL_EXECUTOR = ExecutorSpec(
    name="local",
    summary="cells one after another in the driver, or `jobs` at once in worker processes of this machine",
    factory="benchbench.engine.executors:local_executor",
    params=(Param("jobs", 1, "cells at once, each in a process of its own (1: in the driver process)"),
            Param("threads", 0, "torch threads per cell (0: the machine's cores shared equally among the jobs)")),
)
"""The host's own executor, in every registry, so a run never depends on an executor plugin."""


@dataclass(frozen=True)
class Provided:
    """A spec and the plugin it came from."""

    spec: Any
    plugin: str
    origin: str  # the distribution and its version, e.g. "benchbench 0.1.0"

    def __str__(self) -> str:
        return f"plugin {self.plugin!r} ({self.origin})"


@dataclass
class Registry:
    manager: PluginManager
    entries: dict[str, dict[str, Provided]] = field(default_factory=dict)
    clashes: dict[str, dict[str, list[Provided]]] = field(default_factory=dict)  # kind -> name -> every provider

    @property
    def problems(self) -> dict[str, str]:
        return self.manager.problems

    def names(self, kind: str) -> list[str]:
        return sorted(self.entries[kind])

    def provider(self, kind: str, name: str, where: str = "") -> Provided:
        """Who provides ``kind`` ``name``: a :class:`UsageError` with close matches when nobody
        does, a :class:`PluginError` naming every provider when several do."""
        prefix = f"{where}: " if where else ""
        if name in self.clashes[kind]:
            raise PluginError(f"{prefix}{self.clash_text(kind, name)}")
        try:
            return self.entries[kind][name]
        except KeyError:
            raise UsageError(f"{prefix}unknown {kind} {name!r}. {suggest(name, self.entries[kind])}{self.problem_note()}") from None

    def get(self, kind: str, name: str, where: str = "") -> Any:
        """The spec of ``kind`` named ``name``; see :meth:`provider`."""
        return self.provider(kind, name, where).spec

    def clash_text(self, kind: str, name: str) -> str:
        providers = sorted(self.clashes[kind][name], key=lambda p: p.plugin)
        disable = " or ".join(f"`bench -p no:{p.plugin} ...`" for p in providers)
        return (f"{kind} {name!r} is provided by {len(providers)} plugins: {', '.join(map(str, providers))}. "
                f"benchbench does not choose between them; disable the one you do not want ({disable}, "
                f"or BENCHBENCH_DISABLE_PLUGINS)")

    def clash_notes(self) -> list[str]:
        return [self.clash_text(kind, name) for kind in KINDS for name in sorted(self.clashes[kind])]

    def problem_note(self) -> str:
        if not self.problems:
            return ""
        return " (plugins that failed to load: " + ", ".join(sorted(self.problems)) + "; see `bench list`)"

    def model(self, name: str, where: str = "") -> ModelSpec:
        return self.get("model", name, where)

    def metric(self, name: str, where: str = "") -> MetricSpec:
        return self.get("metric", name, where)

    def executor(self, name: str, where: str = "") -> ExecutorSpec:
        return self.get("executor", name, where)

    def dataset(self, name: str, where: str = "") -> DatasetSpec:
        return self.get("dataset", name, where)


def build_registry(manager: PluginManager | None = None) -> Registry:
    """Call every discovery hook plugin by plugin, rejecting invalid specs and duplicate names."""
    manager = manager or make_plugin_manager()
    registry = Registry(manager, {kind: {} for kind in KINDS}, {kind: {} for kind in KINDS})
    registry.entries["executor"]["local"] = Provided(LOCAL_EXECUTOR, HOST, f"benchbench {_host_version()}")
    for kind, (hook_name, spec_type) in KINDS.items():
        for impl in getattr(manager.hook, hook_name).get_hookimpls():
            try:
                specs = impl.function()
            except Exception as error:
                manager.problems[impl.plugin_name] = f"{hook_name}() raised {error!r}"
                continue
            manager.trace(hook_name, impl.plugin_name, "->", [getattr(spec, "name", spec) for spec in specs or ()])
            _add_specs(registry, kind, spec_type, specs, impl.plugin_name)
    return registry


def _add_specs(registry: Registry, kind: str, spec_type: type, specs: Iterable[Any], plugin: str) -> None:
    manager, table = registry.manager, registry.entries[kind]
    for spec in specs or ():
        if not isinstance(spec, spec_type):
            manager.problems[plugin] = f"returned {type(spec).__name__} from its {kind} hook, expected {spec_type.__name__}"
            continue
        problem = spec_problem(spec)
        if problem:
            manager.problems[f"{plugin}:{spec.name}"] = f"{kind} {spec.name!r} {problem}; the spec is ignored"
            continue
        provided = Provided(spec, plugin, manager.origin(plugin))
        if spec.name in table:
            registry.clashes[kind].setdefault(spec.name, [table[spec.name]]).append(provided)
            continue
        table[spec.name] = provided


def _host_version() -> str:
    from .. import __version__

    return __version__
