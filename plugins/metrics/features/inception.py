"""Inception-v3 weights for torch-fidelity's ``inception-v3-compat`` extractor: where they are,
whether they are intact, and whether they have the classifier head the Inception Score needs.

``make inception`` (:mod:`.inception_setup`) writes ``<cache>/inception/`` with the weights file and
``manifest.json`` (its SHA-256, its source, whether it has a head). Every use checks the file's
hash against the manifest, so a damaged or replaced file is an error, never a silent number. A
metric's ``weights`` parameter may name a file instead (e.g. torch-fidelity's official
``weights-inception-2015-12-05-6726825d.pth``); it is read as a plain state dict first, so a file
that is not one gives a clear error before torch-fidelity unpickles it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from benchbench import NotApplicable

FIDELITY_NAME = "inception-v3-compat"
FOLDER = "inception"
MANIFEST = "manifest.json"
FEATURE_LAYER, LOGITS_LAYER = "2048", "logits_unbiased"
SET_UP = ("run `make inception` (python -m benchbench_plugins.metrics.features.inception_setup) once, or pass "
          "the official weights with its --weights PATH")

_hashes: dict[tuple[str, int, int], str] = {}


@dataclass(frozen=True)
class InceptionWeights:
    """A checked Inception weights file."""

    path: Path
    sha256: str
    classifier_head: bool
    source: str

    def protocol(self) -> dict[str, Any]:
        return {"weights_sha256": self.sha256[:16], "weights_source": self.source}


def inception_folder(cache_dir: Path) -> Path:
    return Path(cache_dir) / FOLDER


def file_sha256(path: Path) -> str:
    """SHA-256 of a file, remembered per (path, size, modification time) within the process."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _hashes:
        digest = hashlib.sha256()
        with path.open("rb") as stream:
            for block in iter(lambda: stream.read(1 << 20), b""):
                digest.update(block)
        _hashes[key] = digest.hexdigest()
    return _hashes[key]


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """A weights file as a plain state dict (no code is unpickled); a clear error otherwise."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise ValueError(f"cannot read Inception weights {path}: {type(error).__name__}: {first_line} (a damaged or "
                         f"wrong file? {SET_UP})") from error
    if not isinstance(state, dict) or "fc.weight" not in state or "Conv2d_1a_3x3.conv.weight" not in state:
        raise ValueError(f"{path} is not an Inception-v3 state dict in torch-fidelity's {FIDELITY_NAME} layout")
    bad = [name for name, tensor in state.items() if tensor.is_floating_point() and not torch.isfinite(tensor).all()]
    if bad:
        raise ValueError(f"Inception weights {path} contain NaN or inf in {', '.join(bad[:3])}")
    return state


def has_classifier_head(state: dict[str, torch.Tensor]) -> bool:
    """A converted pool-feature graph carries an all-zero ``fc``; the original has the 1008 logits."""
    return bool(state["fc.weight"].abs().sum() > 0)


def read_manifest(folder: Path) -> dict[str, Any]:
    path = folder / MANIFEST
    if not path.is_file():
        raise NotApplicable(f"Inception weights are not set up in {folder}: {SET_UP}")
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise ValueError(f"cannot read {path} ({error}); {SET_UP}") from error


def locate(cache_dir: Path, weights: str = "") -> InceptionWeights:
    """The weights to use: the file ``weights`` names, else the one ``make inception`` set up."""
    if weights:
        return _user_file(Path(weights).expanduser())
    folder = inception_folder(cache_dir)
    manifest = read_manifest(folder)
    path = folder / manifest["weights"]
    if not path.is_file():
        raise ValueError(f"Inception weights {path} listed in {folder / MANIFEST} are missing; {SET_UP}")
    sha256 = file_sha256(path)
    if sha256 != manifest["sha256"]:
        raise ValueError(f"Inception weights {path} are damaged: SHA-256 {sha256[:16]}…, the set-up wrote "
                         f"{manifest['sha256'][:16]}…; {SET_UP}")
    return InceptionWeights(path, sha256, bool(manifest["classifier_head"]), manifest["source"])


def _user_file(path: Path) -> InceptionWeights:
    if not path.is_file():
        raise ValueError(f"Inception weights file {path} does not exist")
    state = read_state_dict(path)
    return InceptionWeights(path, file_sha256(path), has_classifier_head(state), f"user file {path.name}")
