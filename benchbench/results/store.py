"""The results store: one folder per run, ``cells.jsonl`` append-only and crash-safe.

A cell's records go to disk in a single ``write`` followed by ``fsync``, its summary record last.
A cell counts as finished only when its summary record is there; whatever follows the last
complete summary (a torn line from a kill mid-write, or part of a cell) is cut off when the run is
resumed, never mixed in. Records added later by an evaluation of a finished cell (``bench hype
score``) end with one ``"kind": "evaluation"`` record, which closes their group as a summary closes
a cell's and is otherwise ignored. One process at a time may write a run folder (an ``flock`` that
the kernel releases even on SIGKILL).
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..errors import ResultsError

RECORDS = "cells.jsonl"
LOCK = ".lock"


def atomic_write(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` so that readers see the old or the new file, never half."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def read_records(run_dir: Path) -> tuple[list[dict[str, Any]], int]:
    """Records of finished cells and evaluations, and the byte offset just after the last of them.

    Lines after that offset belong to no finished cell (a torn write, a cell cut short) and are
    ignored. A malformed line before it means the file was edited or damaged: an error, not a guess.
    """
    path = run_dir / RECORDS
    if not path.is_file():
        return [], 0
    data = path.read_bytes()
    records: list[dict[str, Any]] = []
    finished: list[dict[str, Any]] = []
    offset = good = 0
    for line in data.splitlines(keepends=True):
        offset += len(line)
        if not line.endswith(b"\n"):
            break  # torn last line
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            if offset < len(data):
                raise ResultsError(f"{path}: line ending at byte {offset} is not JSON; the file was damaged or edited") from None
            break
        records.append(record)
        if record.get("kind") in ("cell", "evaluation"):
            finished.extend(records)
            records, good = [], offset
    return finished, good


class RunStore:
    """Write access to one run folder, held for the life of the object (or the process)."""

    def __init__(self, run_dir: Path):
        self.run_dir = Path(run_dir)
        self._lock_handle: Any = None

    def open(self, *, new: bool) -> list[dict[str, Any]]:
        """Lock the folder; for a resumed run, cut any unfinished tail and return finished records."""
        if new and (self.run_dir / RECORDS).exists():
            raise ResultsError(f"{self.run_dir} already holds a run; use `bench run --resume {self.run_dir}` or another --run-id")
        if not new and not (self.run_dir / "suite.toml").is_file():
            raise ResultsError(f"{self.run_dir} is not a benchbench run folder (no suite.toml)")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self._lock()
        (self.run_dir / RECORDS).touch()
        records, good = read_records(self.run_dir)
        self._truncate(good)
        return records

    def _lock(self) -> None:
        handle = open(self.run_dir / LOCK, "a+", encoding="utf-8")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise ResultsError(f"{self.run_dir} is being written by another bench run ({holder}); wait for it or choose another --run-id") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}")
        handle.flush()
        self._lock_handle = handle

    def _truncate(self, size: int) -> None:
        path = self.run_dir / RECORDS
        if path.stat().st_size > size:
            with open(path, "r+b") as handle:
                handle.truncate(size)
                os.fsync(handle.fileno())

    def append(self, records: Iterable[dict[str, Any]]) -> None:
        """Append records in one write, then fsync; the caller puts the cell's summary last."""
        blob = "".join(json.dumps(r, sort_keys=True, default=str) + "\n" for r in records).encode()
        fd = os.open(self.run_dir / RECORDS, os.O_WRONLY | os.O_APPEND)
        try:
            written = 0
            while written < len(blob):
                written += os.write(fd, blob[written:])
            os.fsync(fd)
        finally:
            os.close(fd)

    def write_text(self, name: str, text: str) -> Path:
        path = self.run_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, text)
        return path

    def close(self) -> None:
        if self._lock_handle is not None:
            self._lock_handle.close()
            self._lock_handle = None
