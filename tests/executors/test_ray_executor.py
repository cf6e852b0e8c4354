"""The ``ray`` executor on real Ray clusters of this machine: the same records as the local
executor, faults as records, GPU cells one at a time, infeasible requests refused before any cell,
interrupted runs resumed, and a two-node cluster that loses a node mid-run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

import benchbench.cli as cli_module
from benchbench.engine.runner import run_suite
from benchbench.errors import ResultsError, UsageError
from benchbench.plugin.manager import make_plugin_manager
from benchbench.plugin.registry import build_registry
from benchbench.results.store import read_records
from benchbench_plugins import executors
from ray_cluster import ENVIRONMENT, Cluster
from fakes import RunnablePlugin

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.usefixtures("ray_environment")


def registry():
    """The fake plugins and the ray executor, nothing else installed."""
    return build_registry(make_plugin_manager(plugins=[("fake", RunnablePlugin()), ("executors", executors)],
                                              entry_points=False))


def suite(path: Path, models: list[dict], seeds: tuple[int, ...] = (0,), time_limit: float = 120) -> Path:
    """A suite on the fake blob with the given model entries (variant, steps, resources)."""
    entries = "".join(textwrap.dedent(f"""
        [[models]]
        family = "gaussian"
        name = "{m.get('name', m['variant'])}"
        variant = "{m['variant']}"
        budget = {{ steps = {m.get('steps', 20)} }}
        batch_size = 32
        """) + (f"resources = {{ {m['resources']} }}\n" if "resources" in m else "") for m in models)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(f"""
        [suite]
        name = "ray-test"
        seeds = {list(seeds)}
        device = "cpu"
        time_limit = {time_limit}
        samples = 64
        checkpoint_every = 10

        [[datasets]]
        name = "blobs"
        """) + entries + '\n[[metrics]]\nname = "mean_nll"\n', encoding="utf-8")
    return path


def run(path: Path, tmp_path: Path, **options):
    return run_suite(path, results_root=tmp_path / "results", run_id="r", registry=registry(), progress=False,
                     echo=lambda s: None, **options)


def cells(run_dir: Path) -> list[dict]:
    return [r for r in read_records(run_dir)[0] if r["kind"] == "cell"]


def comparable(run_dir: Path) -> list[tuple]:
    """What must not depend on where a cell ran: every value that is not a measurement of time."""
    return sorted((r["cell_id"], r["metric"], r.get("status"), r.get("value"))
                  for r in read_records(run_dir)[0] if r["kind"] == "metric" and r.get("exactness") != "measured")


def test_the_smoke_suite_on_a_local_ray_instance_gives_the_local_executors_records(tmp_path):
    smoke = ROOT / "suites" / "smoke.toml"
    local = run_suite(smoke, results_root=tmp_path / "local", run_id="r", progress=False, echo=lambda s: None)
    ray = run_suite(smoke, results_root=tmp_path / "ray", run_id="r", progress=False, echo=lambda s: None,
                    executor="ray", executor_options={"address": "local", "local_cpus": 2})
    assert not local.failures and not ray.failures
    assert comparable(ray.run_dir) == comparable(local.run_dir) and len(comparable(ray.run_dir)) > 10
    key = ["dataset", "model", "variant", "metric"]
    measured = {"fit_seconds", "train_steps_per_second", "samples_per_second", "peak_memory_mb"}
    boards = [o.leaderboard[~o.leaderboard.metric.isin(measured)].sort_values(key)[key + ["mean"]].reset_index(drop=True)
              for o in (local, ray)]
    assert boards[0].equals(boards[1])
    summaries = cells(ray.run_dir)
    assert {c["executor"] for c in summaries} == {"ray"} and all(c["node"] for c in summaries)
    environment = json.loads((ray.run_dir / "environment.json").read_text())
    assert environment["executor"] == "ray" and environment["ray_version"] and len(environment["ray_nodes"]) == 1
    assert {c["executor"] for c in cells(local.run_dir)} == {"local"}


def test_a_raising_cell_and_a_dying_worker_fail_while_the_others_finish(tmp_path, ray_head):
    path = suite(tmp_path / "faults.toml", [{"variant": "ok"}, {"variant": "raise"}, {"variant": "exit"}])
    outcome = run(path, tmp_path, executor="ray", executor_options={"address": ray_head, "retries": 1})
    status = {c["variant"]: c for c in cells(outcome.run_dir)}
    assert status["ok"]["status"] == "ok"
    assert status["raise"]["status"] == "failed" and "boom in train_step" in status["raise"]["error"]
    died = status["exit"]
    assert died["status"] == "failed" and "Ray worker running this cell was lost after 2 attempt(s)" in died["error"]
    assert died["attempts"] == 2 and died["node"] and died["executor"] == "ray"
    assert len(outcome.failures) == 2


def test_cells_asking_for_the_one_gpu_never_overlap_and_each_sees_it(tmp_path, ray_head):
    models = [{"variant": "slow", "name": f"gpu{i}", "steps": 60, "resources": "gpus = 1"} for i in range(3)]
    outcome = run(suite(tmp_path / "gpu.toml", models), tmp_path, executor="ray", executor_options={"address": ray_head})
    spans = sorted((c["started_at"], c["finished_at"]) for c in cells(outcome.run_dir))
    assert len(spans) == 3 and all(c["status"] == "ok" for c in cells(outcome.run_dir))
    assert all(end <= next_start for (_, end), (next_start, _) in zip(spans, spans[1:]))
    assert {c["cuda_visible_devices"] for c in cells(outcome.run_dir)} == {"0"}


def test_a_request_no_node_can_meet_exits_2_before_any_cell(tmp_path, ray_head, monkeypatch):
    path = suite(tmp_path / "big.toml", [{"variant": "ok", "resources": "gpus = 2"}])
    with pytest.raises(UsageError, match=r"model 'ok' asks 1 CPU and 2 GPU per cell.*nodes: 2 CPU and 1 GPU"):
        run(path, tmp_path, executor="ray", executor_options={"address": ray_head})
    assert not (tmp_path / "results" / "ray-test" / "r" / "cells.jsonl").exists()
    monkeypatch.setattr(cli_module, "command_registry", lambda ctx: registry())
    result = CliRunner().invoke(cli_module.cli, ["run", str(path), "--executor", "ray", "--address", ray_head,
                                                 "--results", str(tmp_path / "cli"), "--no-report"])
    assert result.exit_code == 2 and "more than any node" in result.output


def test_without_ray_installed_the_error_names_the_extra(monkeypatch):
    from benchbench_plugins.executors.ray_tasks import import_ray

    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(UsageError, match=r"pip install 'benchbench\[ray\]'"):
        import_ray()


DRIVER = """
import sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from test_ray_executor import run
run(Path(sys.argv[2]), Path(sys.argv[3]), executor="ray", executor_options={"address": sys.argv[4]})
"""


def test_a_killed_driver_loses_no_finished_cell_and_resume_runs_the_rest(tmp_path, ray_head):
    models = [{"variant": "slow", "name": f"m{i}", "steps": 150} for i in range(4)]
    path = suite(tmp_path / "resume.toml", models)
    records = tmp_path / "results" / "ray-test" / "r" / "cells.jsonl"
    driver = subprocess.Popen([sys.executable, "-c", DRIVER, str(Path(__file__).parent), str(path), str(tmp_path), ray_head],
                              env={**os.environ, **ENVIRONMENT}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and '"kind": "cell"' not in (records.read_text() if records.exists() else ""):
        time.sleep(0.2)
    driver.send_signal(signal.SIGKILL)
    driver.wait()
    before = [c["cell_id"] for c in cells(records.parent)]
    assert 1 <= len(before) < 4
    run_suite(resume=records.parent, registry=registry(), progress=False, echo=lambda s: None, executor="ray",
              executor_options={"address": ray_head})
    after = [c["cell_id"] for c in cells(records.parent)]
    assert after[: len(before)] == before and sorted(after) == sorted(set(after)) and len(after) == 4


def test_a_second_driver_is_refused_while_a_ray_run_writes(tmp_path, ray_head):
    models = [{"variant": "slow", "name": f"m{i}", "steps": 300} for i in range(3)]
    path = suite(tmp_path / "writers.toml", models)
    run_dir = tmp_path / "results" / "ray-test" / "r"
    driver = subprocess.Popen([sys.executable, "-c", DRIVER, str(Path(__file__).parent), str(path), str(tmp_path), ray_head],
                              env={**os.environ, **ENVIRONMENT}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and not (run_dir / "run.json").exists():
            time.sleep(0.2)
        with pytest.raises(ResultsError, match="being written by another bench run"):
            run_suite(resume=run_dir, registry=registry(), progress=False, echo=lambda s: None, executor="ray",
                      executor_options={"address": ray_head})
    finally:
        driver.kill()
        driver.wait()


def test_cells_land_on_both_nodes_and_a_lost_node_loses_nothing(tmp_path, ray_environment):
    cluster = Cluster(cpus=1)
    try:
        cluster.add_node(cpus=1)
        models = [{"variant": "slow", "name": f"m{i}", "steps": 100} for i in range(8)]
        path = suite(tmp_path / "nodes.toml", models)
        records = tmp_path / "results" / "ray-test" / "r" / "cells.jsonl"
        driver = threading.Thread(target=run, args=(path, tmp_path),
                                  kwargs={"executor": "ray", "executor_options": {"address": cluster.address, "retries": 3}})
        driver.start()
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and len({c["node"] for c in cells(records.parent)} if records.exists() else ()) < 2:
            time.sleep(0.2)
        cluster.kill_node(1)  # the second node, in the middle of the run
        driver.join(timeout=600)
        assert not driver.is_alive()
        summaries = cells(records.parent)
        assert len({c["node"] for c in summaries}) == 2  # cells landed on both nodes
        assert sorted(c["model"] for c in summaries) == sorted(m["name"] for m in models)  # each once
        assert all(c["status"] == "ok" for c in summaries), [(c["model"], c.get("error")) for c in summaries]
    finally:
        cluster.stop()
