"""What the numbers were measured with: versions, device and git revision."""

from __future__ import annotations

import os
import platform
import random
import subprocess
import sys
from importlib import metadata
from typing import Any

import numpy as np
import torch


def resolve_device(device: str) -> str:
    """``auto`` picks CUDA when present, then CPU; an explicit device must exist."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        from ..errors import UsageError

        raise UsageError(f"suite asks for device {device!r} but CUDA is not available here; use device = \"auto\" or \"cpu\"")
    return device


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def git_revision() -> str:
    try:
        out = subprocess.run(["git", "describe", "--always", "--dirty", "--abbrev=12"], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip() if out.returncode == 0 else ""


def versions(distributions: list[str]) -> dict[str, str]:
    found = {}
    for name in ["benchbench", "torch", "torchvision", "numpy", "pandas", "scipy", "torch-fidelity", *distributions]:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


def describe(device: str, distributions: list[str]) -> dict[str, Any]:
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "device": device,
        "device_name": torch.cuda.get_device_name(device) if device.startswith("cuda") else platform.processor() or "cpu",
        "git_revision": git_revision(),
        "versions": versions(distributions),
        "argv": sys.argv,
    }
