"""Mixed precision and compilation, per model entry (``precision = "bf16"``, ``compile = true``):
what a GPU suite turns on to use the device, off by default (fp32, eager), since on a CPU neither
pays and both change the numbers.

- ``precision``: ``bf16`` or ``fp16`` runs each ``train_step`` and the sampling under
  ``torch.autocast`` on the cell's device. Metrics always run in fp32: a likelihood computed in
  bf16 is not the model's likelihood. fp16 has no loss scaling here (the model owns its optimiser
  step, so the host cannot scale its gradients): prefer bf16, whose range is fp32's.
- ``compile``: ``true`` compiles every top-level submodule of the model in place with
  ``torch.compile`` (inductor); a string names another backend (``"eager"`` checks the wiring
  without code generation). The model's own methods stay Python, calling compiled networks.

Both go into the protocol of every value of the cell (and ``precision`` into its sampling
protocol), so a bf16 number is never compared with an fp32 one as if alike.
"""

from __future__ import annotations

import contextlib
from typing import Any

import torch
from torch import nn

PRECISIONS = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def autocast(precision: str, device: str) -> contextlib.AbstractContextManager:
    """``torch.autocast`` for ``precision`` on ``device``'s type; nothing for fp32."""
    dtype = PRECISIONS[precision]
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=torch.device(device).type, dtype=dtype)


def compile_networks(model: nn.Module, compile: bool | str) -> list[str]:
    """Compile the model's top-level submodules that hold parameters, in place; their names."""
    if compile is False:
        return []
    backend = "inductor" if compile is True else compile
    names = []
    for name, child in model.named_children():
        if any(True for _ in child.parameters()):
            child.compile(backend=backend)
            names.append(name)
    return names


def protocol_of(precision: str, compile: bool | str) -> dict[str, Any]:
    """What goes into every value's protocol: only what differs from fp32 and eager."""
    return {**({"precision": precision} if precision != "fp32" else {}),
            **({"compile": "inductor" if compile is True else compile} if compile is not False else {})}
