"""Build a plugin manager: built-ins and third-party packages load the same way, through the
``benchbench`` entry-point group. A factory, never an import-time global, so tests get a manager
holding only the plugins they name.

Broken plugins do not stop the program: a plugin that fails to import or defines an unknown hook
is left out and its problem recorded (``manager.problems``), so commands that do not need it work.
"""

from __future__ import annotations

import importlib.metadata
import os
import sys
import traceback
from collections.abc import Iterable
from types import ModuleType

import pluggy

from ..errors import suggest
from . import hookspecs

DISABLE_ENV = "BENCHBENCH_DISABLE_PLUGINS"
TRACE_ENV = "BENCHBENCH_TRACE_PLUGINS"
HOOK_NAMES = frozenset(n for n in dir(hookspecs) if n.startswith(f"{hookspecs.PROJECT}_"))


class PluginManager(pluggy.PluginManager):
    """pluggy's manager plus what benchbench tracks about each plugin."""

    def __init__(self) -> None:
        super().__init__(hookspecs.PROJECT)
        self.add_hookspecs(hookspecs)
        self.problems: dict[str, str] = {}
        self.distributions: dict[str, tuple[str, str]] = {}

    def add(self, plugin: object, name: str, dist: tuple[str, str] = ("", "")) -> None:
        """Register ``plugin`` unless blocked; a plugin with unknown hooks is recorded, not added."""
        if self.is_blocked(name):
            self.trace("blocked", name)
            return
        problem = hook_problem(plugin)
        if problem:
            self.problems[name] = problem
            self.trace("problem", name, problem)
            return
        self.register(plugin, name=name)
        self.distributions[name] = dist
        self.trace("loaded", name, "from", self.origin(name))

    def origin(self, name: str) -> str:
        dist, version = self.distributions.get(name, ("", ""))
        return f"{dist} {version}".strip() or "(registered directly)"


def hook_problem(plugin: object) -> str:
    """Why a plugin's hooks are wrong (misspelt, or not marked as implementations), or ''."""
    for attribute in dir(plugin):
        # An imported module (``import benchbench_other``) is not a hook implementation.
        if not attribute.startswith(f"{hookspecs.PROJECT}_") or isinstance(getattr(plugin, attribute), ModuleType):
            continue
        if attribute not in HOOK_NAMES:
            return f"unknown hook {attribute!r}. {suggest(attribute, HOOK_NAMES)}"
        if not hasattr(getattr(plugin, attribute), f"{hookspecs.PROJECT}_impl"):
            return f"{attribute!r} is not marked with @benchbench.hookimpl"
    return ""


def disabled_from_env() -> set[str]:
    return {n.strip() for n in os.environ.get(DISABLE_ENV, "").split(",") if n.strip()}


def make_plugin_manager(
    disabled: Iterable[str] = (), plugins: Iterable[tuple[str, object]] = (), entry_points: bool = True
) -> PluginManager:
    """A manager with the named ``plugins`` plus, if ``entry_points``, every installed one.

    Blocking happens before loading, so a disabled plugin is never imported.
    """
    manager = PluginManager()
    if os.environ.get(TRACE_ENV):  # before loading, so that loading is traced too
        manager.trace.root.setwriter(lambda text: sys.stderr.write(f"[plugins] {text}"))
        manager.enable_tracing()
    for name in set(disabled) | disabled_from_env():
        manager.set_blocked(name)
    for name, plugin in plugins:
        manager.add(plugin, name)
    if entry_points:
        for name, group in _by_name(importlib.metadata.entry_points(group=hookspecs.PROJECT)).items():
            if len(group) == 1:
                _load_entry_point(manager, group[0])
            else:
                _refuse_shared_name(manager, name, group)
    return manager


def _by_name(entry_points: Iterable[importlib.metadata.EntryPoint]) -> dict[str, list[importlib.metadata.EntryPoint]]:
    """Entry points grouped by plugin name, one per distribution."""
    groups: dict[str, dict[str, importlib.metadata.EntryPoint]] = {}
    for entry_point in entry_points:
        groups.setdefault(entry_point.name, {}).setdefault(_origin(entry_point)[0], entry_point)
    return {name: list(group.values()) for name, group in groups.items()}


def _origin(entry_point: importlib.metadata.EntryPoint) -> tuple[str, str]:
    dist = entry_point.dist
    return (dist.name, dist.version) if dist else ("", "")


def _refuse_shared_name(manager: PluginManager, name: str, group: list[importlib.metadata.EntryPoint]) -> None:
    """Two distributions declaring one plugin name: loading either would depend on the order in
    which Python lists them, so neither is loaded and the user chooses by uninstalling one."""
    if manager.is_blocked(name):
        manager.trace("blocked", name, "(not imported)")
        return
    origins = sorted(" ".join(_origin(ep)).strip() for ep in group)
    manager.problems[name] = (f"plugin name {name!r} is declared by {len(group)} distributions ({', '.join(origins)}); "
                              f"neither is loaded, since which one would win depends on install order: uninstall one of them")
    manager.trace("problem", name, "is declared by", origins)


def _load_entry_point(manager: PluginManager, entry_point: importlib.metadata.EntryPoint) -> None:
    name = entry_point.name
    if manager.is_blocked(name):
        manager.trace("blocked", name, "(not imported)")
        return
    origin = _origin(entry_point)
    if name in manager.distributions or name in manager.problems:  # a plugin registered directly took the name
        manager.problems[f"{name} ({origin[0]})"] = f"plugin name {name!r} is already taken by {manager.origin(name)}"
        manager.trace("problem", name, "from", origin[0], "is a duplicate")
        return
    try:
        module: ModuleType = entry_point.load()
    except Exception as error:  # a third party's bug: report it with its traceback, keep going
        detail = "".join(traceback.format_exception_only(error)).strip()
        manager.problems[name] = f'Error importing plugin "{name}" ({entry_point.value}): {detail}\n{traceback.format_exc()}'
        manager.trace("problem", name, detail)
        return
    manager.add(module, name, origin)
