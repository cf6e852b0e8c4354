"""A model plugin's settings: a frozen dataclass of its parameters, checked before anything is built.

Shared by the plugins whose factories validate a suite's parameters the same way: an unknown
variant or parameter, a number out of its range, and the plugin's own checks all end in one
:class:`benchbench.CapabilityError` naming the model, the variant and the parameter (the CLI turns
it into exit status 2 before any training). No torch here: suites are validated without it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import fields
from typing import Any, TypeVar

from .errors import CapabilityError

Config = TypeVar("Config")


def checked_config(label: str, config_class: type[Config], variants: Iterable[str], variant: str,
                   params: Mapping[str, Any], problem: Callable[[Config], str]) -> Config:
    """``config_class(**params)`` for ``variant``, or a CapabilityError prefixed by ``label`` (e.g.
    "model 'ebm', variant 'cd'"): an unknown variant or parameter, or what ``problem`` finds ('' when
    nothing is wrong)."""
    variants = tuple(variants)
    if variant not in variants:
        raise CapabilityError(f"{label}: unknown variant; available: {', '.join(variants)}")
    known = {f.name for f in fields(config_class)}  # type: ignore[arg-type]
    unknown = sorted(set(params) - known)
    if unknown:
        raise CapabilityError(f"{label}: unknown parameter {', '.join(unknown)}; available: {', '.join(sorted(known))}")
    config = config_class(**params)
    found = problem(config)
    if found:
        raise CapabilityError(f"{label}: {found}")
    return config


def bounds_problem(config: object, *, positive: Iterable[str] = (), at_least_one: Iterable[str] = (),
                   non_negative: Iterable[str] = ()) -> str:
    """The first named setting outside its range, said as '<name> must be ..., got <value>', or ''."""
    for name in positive:
        if not getattr(config, name) > 0:
            return f"{name} must be positive, got {getattr(config, name)}"
    for name in at_least_one:
        if getattr(config, name) < 1:
            return f"{name} must be at least 1, got {getattr(config, name)}"
    for name in non_negative:
        if getattr(config, name) < 0:
            return f"{name} must not be negative, got {getattr(config, name)}"
    return ""
