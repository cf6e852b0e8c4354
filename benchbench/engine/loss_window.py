"""The losses of the last few training steps, kept as ``train_step`` returned them, so the loop does
not wait for the device on every step: a loss tensor on a GPU read back each step (``.item()``)
makes the host sit idle until the step's kernels finish, and the next step cannot be queued
behind them. The loop looks every :data:`CHECK_EVERY` steps (and before a checkpoint and at the
end), reading every pending loss back in one transfer per device; a non-finite loss is then
reported at the first step that had one, at most ``CHECK_EVERY - 1`` steps late.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from ..api.contract import checked_loss_values
from ..errors import Diverged

CHECK_EVERY = 8


@dataclass
class LossWindow:
    """Steps since the last look: ``(step, {name: float or 0-d tensor})`` in order."""

    where: str  # how contract errors name the model
    pending: list[tuple[int, dict[str, float | torch.Tensor]]] = field(default_factory=list)

    def add(self, step: int, losses: object) -> None:
        """Keep one step's losses, checked for their form only (names, one number each), never read."""
        self.pending.append((step, checked_loss_values(losses, self.where)))

    @property
    def due(self) -> bool:
        return len(self.pending) >= CHECK_EVERY

    def flush(self) -> list[tuple[int, dict[str, float]]]:
        """Every pending step's losses as floats, in order; :class:`Diverged` at the first step with
        a non-finite one (what the steps before it reported is returned nowhere: the fit is over)."""
        steps = _as_floats(self.pending)
        self.pending = []
        for step, losses in steps:
            if not all(math.isfinite(v) for v in losses.values()):
                raise Diverged(step, losses)
        return steps


def _as_floats(pending: list[tuple[int, dict[str, float | torch.Tensor]]]) -> list[tuple[int, dict[str, float]]]:
    """One read-back per device for all the tensors, in float64 (float32 where the device has no
    float64, as Apple's MPS), so the numbers are those ``.item()`` would give."""
    tensors = [v for _, losses in pending for v in losses.values() if isinstance(v, torch.Tensor)]
    values: dict[int, float] = {}
    by_device: dict[torch.device, list[torch.Tensor]] = {}
    for tensor in tensors:
        by_device.setdefault(tensor.device, []).append(tensor)
    for device, group in by_device.items():
        dtype = torch.float32 if device.type == "mps" else torch.float64
        read = torch.stack([t.reshape(()).to(dtype) for t in group]).cpu().tolist()
        values.update({id(t): v for t, v in zip(group, read)})
    return [(step, {name: values[id(v)] if isinstance(v, torch.Tensor) else v for name, v in losses.items()})
            for step, losses in pending]
