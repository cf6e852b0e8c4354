"""What the numbers were measured with: versions, device, git revision, and what decides floating
point (the CPU and the instruction set torch dispatches to, threads, deterministic algorithms)."""

from __future__ import annotations

import contextlib
import os
import platform
import random
import subprocess
import sys
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
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


@contextlib.contextmanager
def deterministic_algorithms(enabled: bool, device: str) -> Iterator[None]:
    """torch's deterministic algorithms while the block runs, when ``enabled`` (a suite's
    ``deterministic = true``); restored afterwards. On CUDA cuBLAS needs a fixed workspace too."""
    if not enabled:
        yield
        return
    previous = torch.are_deterministic_algorithms_enabled()
    if device.startswith("cuda"):
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(previous)


def cpu_model() -> str:
    """The CPU's model name (Linux), else what ``platform`` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def floating_point() -> dict[str, Any]:
    """What decides the floating-point results of the same code on the same seeds."""
    return {
        "cpu_model": cpu_model(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "torch_threads": torch.get_num_threads(),
        "torch_interop_threads": torch.get_num_interop_threads(),
        "deterministic_algorithms": torch.are_deterministic_algorithms_enabled(),
        "float32_matmul_precision": torch.get_float32_matmul_precision(),
        "mkldnn": torch.backends.mkldnn.is_available(),
    }


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
        **floating_point(),
        "device": device,
        "device_name": torch.cuda.get_device_name(device) if device.startswith("cuda") else platform.processor() or "cpu",
        "git_revision": git_revision(),
        "versions": versions(distributions),
        "argv": sys.argv,
    }
