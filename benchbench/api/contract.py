"""What a plugin's code must hand back, checked where it crosses into the host.

A model's ``train_step`` and ``sample`` and a metric's factory are third-party code. What they
return is checked here, once, for the runner and for :mod:`benchbench.testing` alike, so that a
contract violation is a :class:`ContractError` naming the plugin and what was expected, not a
``TypeError`` deep inside the host, a whole cell lost, or a tensor's repr stored as a number.

Numbers are accepted in the forms plugin code naturally produces (``float``, ``int``, numpy
scalars, one-element tensors, detached here) and stored as ``float``; anything else is refused.
"""

from __future__ import annotations

import numbers
import sys
from collections.abc import Mapping
from typing import Any

from ..errors import ContractError
from .metric import MetricValue
from .specs import DIRECTIONS, EXACTNESS


def as_float(value: Any, what: str) -> float:
    """``value`` as a Python float, or a :class:`ContractError` saying what ``what`` should be."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return float(value)
    torch = sys.modules.get("torch")  # a tensor can only exist if torch is loaded
    if torch is not None and isinstance(value, torch.Tensor) and value.numel() == 1 and not value.is_complex():
        return float(value.detach().item())
    numpy = sys.modules.get("numpy")
    if numpy is not None and isinstance(value, numpy.ndarray) and value.size == 1 and value.dtype.kind in "fiu":
        return float(value.reshape(()))
    raise ContractError(f"{what} must be a real number (float, int or a one-element tensor), got {describe(value)}")


def describe(value: Any) -> str:
    """A short description of an unexpected value: its type and, when small, its text."""
    shape = getattr(value, "shape", None)
    if shape is not None:
        return f"{type(value).__name__} of shape {tuple(shape)}"
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 60 else text[:57] + '...'}"


def checked_losses(losses: Any, where: str) -> dict[str, float]:
    """What ``train_step`` returned, as ``{name: float}``; ``where`` names the model's plugin."""
    if not isinstance(losses, Mapping) or not losses:
        raise ContractError(f"{where}: train_step must return a non-empty dict of loss name to float, got {describe(losses)}")
    checked = {}
    for name, value in losses.items():
        if not isinstance(name, str):
            raise ContractError(f"{where}: train_step's loss names must be strings, got {describe(name)}")
        checked[name] = as_float(value, f"{where}: train_step's loss {name!r}")
    return checked


def checked_loss_values(losses: Any, where: str) -> dict[str, Any]:
    """``checked_losses`` without reading a tensor back: a one-element tensor stays a (detached)
    tensor, for the training loop to read many steps' losses in one transfer."""
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(losses, Mapping) and losses:
        tensors = {k: v for k, v in losses.items() if isinstance(k, str) and isinstance(v, torch.Tensor)
                   and v.numel() == 1 and not v.is_complex()}
        rest = checked_losses({k: v for k, v in losses.items() if k not in tensors}, where) if len(tensors) < len(losses) else {}
        return {k: tensors[k].detach() if k in tensors else rest[k] for k in losses}
    return checked_losses(losses, where)


def checked_samples(samples: Any, n: int, shape: tuple[int, ...], where: str) -> Any:
    """What ``sample(n)`` returned: a floating tensor shaped ``(n, *shape)``, the data's shape."""
    torch = sys.modules.get("torch")
    if torch is None or not isinstance(samples, torch.Tensor):
        raise ContractError(f"{where}: sample({n}) must return a torch.Tensor, got {describe(samples)}")
    if tuple(samples.shape) != (n, *shape):
        raise ContractError(f"{where}: sample({n}) must return shape {(n, *shape)} (n, *dataset.shape), got {tuple(samples.shape)}")
    if not samples.is_floating_point():
        raise ContractError(f"{where}: sample({n}) must return floats in data space, got dtype {samples.dtype}")
    return samples


def checked_values(values: Any, where: str) -> list[MetricValue]:
    """What a metric returned: a non-empty list of :class:`MetricValue` with distinct names.

    A value of ``None`` or a non-finite number is allowed through: the runner records it as that
    value's ``failed``, which is what it is.
    """
    if isinstance(values, MetricValue) or not isinstance(values, (list, tuple)):
        raise ContractError(f"{where}: must return a list of MetricValue, got {describe(values)}")
    if not values:
        raise ContractError(f"{where}: returned no values; raise benchbench.NotApplicable('why') when the metric does not apply")
    checked, names = [], set()
    for i, value in enumerate(values):
        if not isinstance(value, MetricValue):
            raise ContractError(f"{where}: item {i} must be a MetricValue, got {describe(value)}")
        checked.append(_checked_value(value, where))
        if value.name in names:
            raise ContractError(f"{where}: returned two values named {value.name!r}; a name must say what defines the number")
        names.add(value.name)
    return checked


def _checked_value(v: MetricValue, where: str) -> MetricValue:
    if not isinstance(v.name, str) or not v.name:
        raise ContractError(f"{where}: a MetricValue's name must be a non-empty string, got {describe(v.name)}")
    what = f"{where}: {v.name}"
    if v.direction not in DIRECTIONS:
        raise ContractError(f"{what}: direction must be one of {sorted(DIRECTIONS)}, got {describe(v.direction)}")
    if v.exactness not in EXACTNESS:
        raise ContractError(f"{what}: exactness must be one of {sorted(EXACTNESS)}, got {describe(v.exactness)}")
    if not isinstance(v.unit, str):
        raise ContractError(f"{what}: unit must be a string, got {describe(v.unit)}")
    if not isinstance(v.protocol, dict) or not all(isinstance(k, str) for k in v.protocol):
        raise ContractError(f"{what}: protocol must be a dict with string keys, got {describe(v.protocol)}")
    value = None if v.value is None else as_float(v.value, f"{what}: value")
    return MetricValue(v.name, value, v.direction, v.unit, v.exactness, v.protocol)
