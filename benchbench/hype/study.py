"""A HYPE study folder: what ``bench hype prepare`` writes and ``serve`` and ``score`` read.

::

    STUDY/
      study.json      what kind of folder this is, the study id, which cell of which run
      manifest.json   which image is real and which fake: never served
      answers.jsonl   every session and answer, appended by the server (fsynced per answer)
      images/         the served images, PNGs with opaque random names

Only ``images/`` (and the page, from the package) is served, and only names the manifest lists, so
an evaluator can learn an image's label neither from its URL nor by asking for the manifest.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import UsageError

KIND = "benchbench-hype-study"
FORMAT = 1
INFO, MANIFEST, ANSWERS, IMAGES = "study.json", "manifest.json", "answers.jsonl", "images"


@dataclass(frozen=True)
class Study:
    """A prepared study: its folder, its ``study.json`` and, per image name, the manifest's entry
    (``label`` real / fake, ``role`` study / vigilance, ``source``, ``index``, ``sha256``)."""

    root: Path
    info: dict[str, Any]
    images: dict[str, dict[str, Any]]

    @property
    def study_id(self) -> str:
        return self.info["study_id"]

    @property
    def answers_path(self) -> Path:
        return self.root / ANSWERS

    def image_path(self, name: str) -> Path:
        return self.root / IMAGES / f"{name}.png"

    def names(self, label: str, role: str = "study") -> list[str]:
        """Image names with this label and role, sorted (the order says nothing of the label)."""
        return sorted(n for n, entry in self.images.items() if entry["label"] == label and entry["role"] == role)

    def check_images(self) -> None:
        """Every listed image is there with the content prepared; a changed file would change the study."""
        for name, entry in self.images.items():
            path = self.image_path(name)
            if not path.is_file() or sha256_file(path) != entry["sha256"]:
                raise UsageError(f"{path}: missing or changed since `bench hype prepare` (sha256 differs from {self.root / MANIFEST})")


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_study(root: Path, info: dict[str, Any], images: dict[str, dict[str, Any]]) -> None:
    """Write ``study.json`` and the manifest (the study's header repeated, then every image's entry)."""
    (root / INFO).write_text(json.dumps({"kind": KIND, "format": FORMAT, **info}, indent=2) + "\n")
    (root / MANIFEST).write_text(json.dumps({**info, "images": images}, indent=2, sort_keys=True) + "\n")


def load_study(path: Path) -> Study:
    """The study in ``path``, or a UsageError saying why ``path`` is not one."""
    path = Path(path)
    info = _read_json(path / INFO, f"{path} is not a HYPE study (no {INFO}; make one with `bench hype prepare RUN_DIR`)")
    if info.get("kind") != KIND:
        raise UsageError(f"{path / INFO}: not a HYPE study (kind {info.get('kind')!r}, expected {KIND!r})")
    if info.get("format") != FORMAT:
        raise UsageError(f"{path / INFO}: study format {info.get('format')!r}; this benchbench reads format {FORMAT}")
    manifest = _read_json(path / MANIFEST, f"{path}: the study has no {MANIFEST}")
    images = manifest.get("images")
    if not isinstance(images, dict) or manifest.get("study_id") != info.get("study_id"):
        raise UsageError(f"{path / MANIFEST}: not the manifest of study {info.get('study_id')!r}")
    return Study(path, info, images)


def _read_json(path: Path, missing: str) -> dict[str, Any]:
    if not path.is_file():
        raise UsageError(missing)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise UsageError(f"{path}: not valid JSON ({error})") from None
    if not isinstance(data, dict):
        raise UsageError(f"{path}: expected a JSON object")
    return data
