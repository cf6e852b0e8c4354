"""The registry a ``bench`` command works with: every installed plugin less those disabled by
``bench -p no:NAME`` (or ``BENCHBENCH_DISABLE_PLUGINS``). Every command that loads a plugin (run,
report, hype prepare, eval, ...) asks here, so a disabled plugin is never imported by any of them."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from .registry import Registry


def command_registry(ctx: click.Context) -> Registry:
    from .manager import make_plugin_manager
    from .registry import build_registry

    chosen = (ctx.find_root().obj or {}).get("plugins", ())  # none when a command is invoked on its own
    blocked = [p.removeprefix("no:") for p in chosen if p.startswith("no:")]
    return build_registry(make_plugin_manager(disabled=blocked))
