"""Who provides what: the specs every plugin returned, checked once, with helpful look-ups."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..api.specs import DatasetSpec, MetricSpec, ModelSpec
from ..errors import UsageError, suggest
from .manager import PluginManager, make_plugin_manager

KINDS: dict[str, tuple[str, type]] = {
    "model": ("benchbench_models", ModelSpec),
    "metric": ("benchbench_metrics", MetricSpec),
    "dataset": ("benchbench_datasets", DatasetSpec),
}


@dataclass(frozen=True)
class Provided:
    """A spec and the plugin it came from."""

    spec: Any
    plugin: str
    origin: str


@dataclass
class Registry:
    manager: PluginManager
    entries: dict[str, dict[str, Provided]] = field(default_factory=dict)

    @property
    def problems(self) -> dict[str, str]:
        return self.manager.problems

    def names(self, kind: str) -> list[str]:
        return sorted(self.entries[kind])

    def get(self, kind: str, name: str, where: str = "") -> Any:
        """The spec of ``kind`` named ``name``, or a :class:`UsageError` with close matches."""
        try:
            return self.entries[kind][name].spec
        except KeyError:
            prefix = f"{where}: " if where else ""
            raise UsageError(f"{prefix}unknown {kind} {name!r}. {suggest(name, self.entries[kind])}{self.problem_note()}") from None

    def problem_note(self) -> str:
        if not self.problems:
            return ""
        return " (plugins that failed to load: " + ", ".join(sorted(self.problems)) + "; see `bench list`)"

    def model(self, name: str, where: str = "") -> ModelSpec:
        return self.get("model", name, where)

    def metric(self, name: str, where: str = "") -> MetricSpec:
        return self.get("metric", name, where)

    def dataset(self, name: str, where: str = "") -> DatasetSpec:
        return self.get("dataset", name, where)


def build_registry(manager: PluginManager | None = None) -> Registry:
    """Call every discovery hook plugin by plugin, rejecting invalid specs and duplicate names."""
    manager = manager or make_plugin_manager()
    registry = Registry(manager, {kind: {} for kind in KINDS})
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
        if spec.name in table:
            first = table[spec.name]
            manager.problems[f"{plugin}:{spec.name}"] = (
                f"plugin {plugin!r} ({manager.origin(plugin)}) registers {kind} {spec.name!r}, already provided by "
                f"plugin {first.plugin!r} ({first.origin}); the second one is ignored"
            )
            continue
        table[spec.name] = Provided(spec, plugin, manager.origin(plugin))
