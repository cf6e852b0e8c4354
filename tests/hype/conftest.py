"""Fixtures of the HYPE tests: a tiny run folder (see hype_helpers) and a study prepared from it once."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from benchbench.hype.prepare import prepare_study
from hype_helpers import write_run


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    return write_run(tmp_path / "run")


@pytest.fixture(scope="session")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One study of 30 real and 30 fake digits, prepared once; copy it before writing to it."""
    run = write_run(tmp_path_factory.mktemp("prepared") / "run")
    return prepare_study(run, "gan/wgan-gp", "digits", n=30)


@pytest.fixture
def study_dir(prepared: Path, tmp_path: Path) -> Path:
    """A private copy of the prepared study and of its run, so tests can answer and record."""
    run = tmp_path / "run"
    shutil.copytree(prepared.parents[1], run)
    study = run / prepared.relative_to(prepared.parents[1])
    info = json.loads((study / "study.json").read_text())
    manifest = json.loads((study / "manifest.json").read_text())
    for data, name in ((info, "study.json"), (manifest, "manifest.json")):
        data["run_dir"] = str(run.resolve())
        (study / name).write_text(json.dumps(data))
    return study
