"""``bench show NAME``: everything a suite author needs to know about one model, metric or dataset.

What a spec declares (plugin and distribution, variants, parameters with defaults, types, choices
and help, data kinds, a metric's requirements) is read without importing torch. A model's
capabilities are attributes of the class its factory builds, so they are found the only honest
way: by building each variant on benchbench's tiny test dataset of each kind it accepts.
"""

from __future__ import annotations

from typing import Any

from ..api.specs import MetricSpec, ModelSpec, Param
from .registry import Provided


def describe(kind: str, provided: Provided, build: bool = True) -> list[str]:
    """Lines describing ``provided``; for a model with ``build``, its capabilities per variant."""
    spec = provided.spec
    lines = [f"{kind} {spec.name!r}: {spec.summary}", f"  provided by {provided}, spec version {spec.version}"]
    if isinstance(spec, ModelSpec):
        lines.append(f"  suite key: family = {spec.name!r}")
        lines.append(f"  data kinds: {', '.join(sorted(spec.data_kinds))}")
        lines.append("  variants (the first is the default; each sets these parameters):")
        lines += [f"    {name:<18} {_settings(settings)}" for name, settings in spec.variants.items()]
    if isinstance(spec, MetricSpec):
        lines += ["  requires:"] + [f"    {line}" for line in _requirements(spec)]
    lines += ["  parameters:"] + ([f"    {_param(p)}" for p in spec.params] or ["    (none)"])
    if isinstance(spec, ModelSpec) and build:
        lines += ["  capabilities (from building each variant on a tiny dataset of each kind):"]
        lines += [f"    {line}" for line in _capabilities(spec)]
    return lines


def _settings(settings: Any) -> str:
    return ", ".join(f"{k} = {v!r}" for k, v in settings.items()) or "(the defaults)"


def _param(p: Param) -> str:
    choices = f"; one of {', '.join(map(repr, p.choices))}" if p.choices else ""
    help_text = f"  {p.help}" if p.help else ""
    return f"{p.name} ({p.type.__name__}, default {p.default!r}{choices}){help_text}"


def _requirements(spec: MetricSpec) -> list[str]:
    r = spec.requires
    lines = [f"capabilities: {', '.join(sorted(r.capabilities)) or '(none)'}"]
    if r.any_capabilities:
        lines.append(f"one of: {', '.join(sorted(r.any_capabilities))}")
    lines.append(f"data kinds: {', '.join(sorted(r.data_kinds))}")
    lines.append(f"samples: {'yes, at least ' + str(r.min_samples) if r.samples else 'no'}; labels: {'yes' if r.labels else 'no'}")
    return lines


def _capabilities(spec: ModelSpec) -> list[str]:
    from ..testing import tiny_datasets

    datasets = {kind: data for kind, data in tiny_datasets().items() if kind in spec.data_kinds}
    lines = []
    for variant, settings in spec.variants.items():
        found, refused = {}, []
        for kind, data in datasets.items():
            try:
                model = spec.resolve()(data, variant=variant, **{**spec.defaults(), **settings})
            except Exception as error:  # CapabilityError, or the plugin's bug: either way, say so
                refused.append(f"not on {kind}: {type(error).__name__}: {error}")
                continue
            found.setdefault((tuple(sorted(model.capabilities)), model.density), []).append(kind)
        lines += [f"{variant}: {', '.join(caps) or '(none)'}; {density} density (on {', '.join(kinds)})"
                  for (caps, density), kinds in found.items()]
        lines += [f"{variant}: {text}" for text in refused]
    return lines
