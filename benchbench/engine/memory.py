"""The peak memory of one cell, not of the process that happens to run it.

On CUDA, torch's peak-allocation counter is reset when the cell starts. On CPU the process's
lifetime peak (``ru_maxrss``) only grows, so the second of two identical cells would inherit the
first one's peak; on Linux the peak resident set (``VmHWM``) is reset per cell by writing ``5`` to
``/proc/self/clear_refs``, and read from ``/proc/self/status``. Before the reset, glibc's
``malloc_trim(0)`` hands the heap that earlier cells freed back to the system: freed but retained
pages would otherwise raise every later cell's starting point (seen: three identical cells at the
start of a run measured 792, 953 and 1,141 MiB). The runner also imports every plugin module the
run uses before the first cell, so no cell's peak carries an import. Where this is not possible
the lifetime peak is reported, and the record's protocol says which method gave the number.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import re
import resource
from pathlib import Path

import torch

CLEAR_REFS = Path("/proc/self/clear_refs")
STATUS = Path("/proc/self/status")
CELL_PEAK_RSS = "peak resident set of the cell (free heap trimmed, VmHWM reset at cell start)"
PROCESS_PEAK_RSS = "peak resident set of the process so far (ru_maxrss; includes earlier cells)"
CUDA_PEAK = "peak allocated by torch on the device during the cell"


def reset_peak(device: str) -> str:
    """Start measuring a cell's peak; returns the method that :func:`peak_mb` will use."""
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats(device)
        return CUDA_PEAK
    _trim_heap()
    try:
        CLEAR_REFS.write_text("5")
        _vm_hwm_kib()
    except (OSError, ValueError):
        return PROCESS_PEAK_RSS
    return CELL_PEAK_RSS


def peak_mb(device: str, method: str) -> float:
    """The peak in MiB since :func:`reset_peak`, by the method it returned."""
    if method == CUDA_PEAK:
        return torch.cuda.max_memory_allocated(device) / 2**20
    if method == CELL_PEAK_RSS:
        return _vm_hwm_kib() / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def _trim_heap() -> None:
    """glibc's ``malloc_trim(0)``: return freed heap pages to the system (a no-op elsewhere)."""
    name = ctypes.util.find_library("c")
    libc = ctypes.CDLL(name) if name else None
    if libc is not None and hasattr(libc, "malloc_trim"):
        libc.malloc_trim(0)


def _vm_hwm_kib() -> int:
    match = re.search(r"^VmHWM:\s+(\d+) kB", STATUS.read_text(), re.MULTILINE)
    if match is None:
        raise ValueError("no VmHWM in /proc/self/status")
    return int(match.group(1))
