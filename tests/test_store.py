"""The results store: append-only records, torn writes, kill-and-resume, one writer at a time."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from benchbench.engine.runner import run_suite
from benchbench.errors import ResultsError
from benchbench.results.store import RECORDS, RunStore, read_records
from fakes import runnable_registry, write_runnable_suite

TESTS = Path(__file__).parent
DRIVER = """
import sys
sys.path.insert(0, {tests!r})
from benchbench.engine.runner import run_suite
from fakes import runnable_registry
kwargs = dict(registry=runnable_registry(), progress=False)
if sys.argv[1] == "resume":
    run_suite(resume=sys.argv[2], **kwargs)
else:
    run_suite(sys.argv[2], results_root=sys.argv[3], run_id="run", **kwargs)
"""


def quality(board):
    """Leaderboard rows that do not depend on timing."""
    rows = board[~board["metric"].isin(["fit_seconds", "samples_per_second", "train_steps_per_second", "peak_memory_mb"])]
    return rows[["dataset", "model", "variant", "metric", "mean", "std", "n_seeds", "status"]].reset_index(drop=True)


def start(tmp_path, *args):
    script = tmp_path / "driver.py"
    script.write_text(DRIVER.format(tests=str(TESTS)))
    return subprocess.Popen([sys.executable, str(script), *map(str, args)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def slow_suite(tmp_path):
    return write_runnable_suite(tmp_path / "slow.toml", variant="slow", steps=80)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The leaderboard of an uninterrupted run of the slow suite."""
    tmp = tmp_path_factory.mktemp("reference")
    outcome = run_suite(slow_suite(tmp), results_root=tmp / "results", run_id="run", registry=runnable_registry(), progress=False, echo=lambda s: None)
    return quality(outcome.leaderboard)


def wait_for(condition, timeout=60.0):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        time.sleep(0.005)


def finished_cells(run_dir):
    path = run_dir / RECORDS
    return path.read_bytes().count(b'"kind": "cell"') if path.exists() else 0


def checkpoints(run_dir):
    return list((run_dir / "checkpoints").glob("*.pt")) if (run_dir / "checkpoints").exists() else []


KILL_POINTS = {
    "mid-training of the first cell": lambda d: len(checkpoints(d)) >= 1 and finished_cells(d) == 0,
    "after the first cell was recorded": lambda d: finished_cells(d) == 1,
    "mid-training of the second cell": lambda d: finished_cells(d) == 1 and len(checkpoints(d)) == 2,
}


@pytest.mark.parametrize("point", list(KILL_POINTS))
def test_sigkill_then_resume_gives_the_uninterrupted_leaderboard(tmp_path, reference, point):
    suite, run_dir = slow_suite(tmp_path), tmp_path / "results" / "fake" / "run"
    process = start(tmp_path, "run", suite, tmp_path / "results")
    try:
        wait_for(lambda: KILL_POINTS[point](run_dir) or process.poll() is not None)
        assert process.poll() is None, f"run ended before the kill point: {process.stderr.read().decode()[-2000:]}"
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait()
    records, _ = read_records(run_dir)  # readable whatever the moment of the kill
    resumed = run_suite(resume=run_dir, registry=runnable_registry(), progress=False, echo=lambda s: None)
    assert quality(resumed.leaderboard).equals(reference)
    cells = [r for r in read_records(run_dir)[0] if r["kind"] == "cell"]
    assert sorted(c["cell_id"] for c in cells) == sorted({c["cell_id"] for c in cells})  # each cell once


@pytest.mark.parametrize("cut", ["mid-line", "between a cell's lines", "before the last newline"])
def test_torn_write_is_dropped_on_resume_never_mixed_in(tmp_path, reference, cut):
    suite = slow_suite(tmp_path)
    outcome = run_suite(suite, results_root=tmp_path / "results", run_id="run", registry=runnable_registry(), progress=False, echo=lambda s: None)
    path = outcome.run_dir / RECORDS
    data = path.read_bytes()
    last_cell_start = data.rstrip(b"\n").rfind(b"\n", 0, data.rfind(b'"kind": "cell"', 0, len(data) - 10)) + 1
    second_cell = data.find(b'"kind": "metric"', data.find(b'"kind": "cell"'))
    offsets = {
        "mid-line": len(data) - 40,
        "between a cell's lines": data.find(b"\n", second_cell) + 1,
        "before the last newline": len(data) - 1,
    }
    path.write_bytes(data[: offsets[cut]])
    records, good = read_records(outcome.run_dir)
    assert sum(r["kind"] == "cell" for r in records) == 1 and good <= last_cell_start
    resumed = run_suite(resume=outcome.run_dir, registry=runnable_registry(), progress=False, echo=lambda s: None)
    assert quality(resumed.leaderboard).equals(reference)
    lines = path.read_bytes().splitlines()
    assert all(json.loads(line) for line in lines)  # no torn fragment left in the file


def test_damaged_line_in_the_middle_is_an_error_not_a_guess(tmp_path):
    store = RunStore(tmp_path / "run")
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / RECORDS).write_text('{"kind": "metric"}\nnot json\n{"kind": "cell"}\n')
    with pytest.raises(ResultsError, match="not JSON"):
        read_records(store.run_dir)


def test_append_writes_whole_lines_and_a_cell_counts_only_with_its_summary(tmp_path):
    store = RunStore(tmp_path / "run")
    store.open(new=True)
    store.append([{"kind": "metric", "value": 1.0}, {"kind": "cell", "cell_id": "a"}])
    store.append([{"kind": "metric", "value": 2.0}])  # a cell cut short: no summary
    records, good = read_records(store.run_dir)
    assert [r.get("value") for r in records] == [1.0, None]
    assert good < (store.run_dir / RECORDS).stat().st_size
    store.close()


def test_a_second_writer_is_refused_while_the_first_runs(tmp_path):
    suite, run_dir = slow_suite(tmp_path), tmp_path / "results" / "fake" / "run"
    process = start(tmp_path, "run", suite, tmp_path / "results")
    try:
        wait_for(lambda: (run_dir / "run.json").exists())
        with pytest.raises(ResultsError, match="being written by another bench run"):
            run_suite(resume=run_dir, registry=runnable_registry(), progress=False, echo=lambda s: None)
    finally:
        process.kill()
        process.wait()
    # once the first writer is gone (even by SIGKILL) the lock is free again
    run_suite(resume=run_dir, registry=runnable_registry(), progress=False, echo=lambda s: None)
