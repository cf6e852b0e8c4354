"""Drive one run: check the suite, prepare the results folder, run the cells, build leaderboards.

Everything that can be known to be wrong before training (suite, device, datasets, a model that
cannot model a dataset) is raised as a :class:`UsageError` before anything is written.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ..api.dataset import Dataset
from ..api.executor import Executor
from ..errors import CapabilityError, PluginError, ResultsError, UsageError
from ..plugin.registry import Registry, build_registry
from ..plugin.manager import make_plugin_manager
from ..results.leaderboard import write_leaderboard
from ..results.store import read_records
from ..results.wide import render_text, wide_tables
from ..results.store import RunStore
from .cell import CellJob, build_model, load_dataset
from .environment import describe, deterministic_algorithms, resolve_device
from .suite import ExecutorEntry, Suite, checked_seeds, load_suite, parse_suite, read_toml

DEFAULT_CACHE = Path(os.environ.get("BENCHBENCH_CACHE") or Path.home() / ".cache" / "benchbench")


@dataclass
class RunOutcome:
    run_dir: Path
    leaderboard: pd.DataFrame
    failures: list[dict[str, Any]]
    seconds: dict[str, float]  # preflight, executor (start-up), cells, leaderboard: where a run's wall time went


def new_run_dir(results_root: Path, suite: Suite, run_id: str | None) -> Path:
    if run_id:
        return results_root / suite.name / run_id
    stamp = time.strftime("%Y%m%d-%H%M%S")
    candidate, n = results_root / suite.name / stamp, 1
    while candidate.exists():
        n += 1
        candidate = results_root / suite.name / f"{stamp}-{n}"
    return candidate


def resumed_suite(run_dir: Path, registry: Registry) -> Suite:
    """The suite exactly as it was first run, from the run folder."""
    if not (run_dir / "run.json").is_file() or not (run_dir / "suite.toml").is_file():
        raise ResultsError(f"{run_dir} is not a benchbench run folder (no run.json / suite.toml)")
    meta = json.loads((run_dir / "run.json").read_text())
    raw = read_toml(run_dir / "suite.toml")
    raw.setdefault("suite", {}).setdefault("name", meta["suite"])
    suite = parse_suite(raw, str(run_dir / "suite.toml"), registry)
    return dataclasses.replace(suite, seeds=tuple(meta["seeds"])) if "seeds" in meta else suite


def with_seeds(suite: Suite, seeds: Sequence[int] | None) -> Suite:
    """The suite with ``--seeds`` in place of its own seeds, when given."""
    if seeds is None:
        return suite
    checked = checked_seeds(list(seeds), lambda expected, found: UsageError(f"--seeds: expected {expected}, found {found!r}"))
    return dataclasses.replace(suite, seeds=tuple(checked))


def preflight(suite: Suite, registry: Registry) -> dict[str, Dataset]:
    """Load every dataset and build every model once on the CPU, so that data a model cannot
    model, or a plugin that cannot build, is reported before any training."""
    datasets: dict[str, Dataset] = {}
    for entry in suite.datasets:
        key = f"{entry.name}:{sorted(entry.params.items())}"
        datasets[key] = _plugin_call(registry, "dataset", entry.name, lambda: load_dataset(registry.dataset(entry.name), entry.params))
        for model in (m for m in suite.models if m.runs_on(entry.name)):
            provided = registry.provider("model", model.family)
            spec = provided.spec
            where = f"{suite.path}: model {model.name!r} (variant {model.variant!r}) on dataset {entry.name!r}"
            if datasets[key].kind not in spec.data_kinds:
                raise CapabilityError(f"{where}: {spec.name!r} models {', '.join(sorted(spec.data_kinds))} data, {entry.name!r} is {datasets[key].kind}")
            try:
                _plugin_call(registry, "model", model.family, lambda: build_model(provided, datasets[key], model.variant, model.params))
            except CapabilityError as error:
                raise CapabilityError(f"{where}: {error}") from None
    _import_metrics(suite, registry)
    return datasets


def _import_metrics(suite: Suite, registry: Registry) -> None:
    """Import every metric's module now, so that no cell's time or peak memory carries an import.
    A factory that does not resolve is left for its cell to record as that metric's failure."""
    for entry in suite.metrics:
        with contextlib.suppress(Exception):
            registry.metric(entry.name).resolve()


def _plugin_call(registry: Registry, kind: str, name: str, call: Callable[[], Any]) -> Any:
    """Run a plugin's factory; its unexpected errors name the plugin instead of a raw traceback."""
    try:
        return call()
    except UsageError:
        raise
    except Exception as error:
        raise PluginError(f"{kind} {name!r} from {registry.provider(kind, name)} failed to build: "
                          f"{type(error).__name__}: {error}") from error


def run_suite(
    suite_path: str | Path | None = None,
    *,
    resume: str | Path | None = None,
    results_root: str | Path = "results",
    run_id: str | None = None,
    seeds: Sequence[int] | None = None,
    registry: Registry | None = None,
    progress: bool = True,
    echo: Callable[[str], None] = print,
    cache_dir: Path = DEFAULT_CACHE,
    jobs: int | None = None,
    executor: str | None = None,
    executor_options: dict[str, Any] | None = None,
) -> RunOutcome:
    """Run a suite (or resume a run folder) and return its leaderboard and failures. ``seeds``
    replaces the suite's seeds for a new run and is recorded in its ``run.json``; a resumed run
    keeps the seeds it was started with. ``executor`` (a name) and ``executor_options`` (its
    parameters) override the suite's ``[executor]``; ``jobs`` is the local executor's ``jobs``."""
    registry = registry or build_registry(make_plugin_manager())
    for plugin, problem in registry.problems.items():
        echo(f"warning: plugin {plugin!r} not loaded: {problem.splitlines()[0]} (see `bench list`)")
    for clash in registry.clash_notes():
        echo(f"warning: {clash}")
    if resume is not None:
        if seeds is not None:
            raise UsageError("--seeds applies to a new run; a resumed run keeps the seeds it was started with")
        run_dir = Path(resume)
        suite = resumed_suite(run_dir, registry)
    elif suite_path is not None:
        suite = with_seeds(load_suite(suite_path, registry), seeds)
        run_dir = new_run_dir(Path(results_root), suite, run_id)
    else:
        raise UsageError("give a suite file or --resume RUN_DIR")
    device = resolve_device(suite.device)
    chosen = chosen_executor(suite, registry, executor, {**(executor_options or {}), **({} if jobs is None else {"jobs": jobs})})
    clock = [time.perf_counter()]
    datasets = preflight(suite, registry)
    clock.append(time.perf_counter())
    with _plugin_call(registry, "executor", chosen.name, lambda: registry.executor(chosen.name).resolve()(datasets, **chosen.params)) as runner:
        jobs_of = lambda cells: [_job(run_dir, suite, registry, c, device, progress, Path(cache_dir), runner.name) for c in cells]  # noqa: E731
        runner.check(jobs_of(suite.cells()))
        clock.append(time.perf_counter())
        store = RunStore(run_dir)
        finished = store.open(new=resume is None)
        try:
            if resume is None:
                _write_run_files(store, suite, device, registry, runner)
            with deterministic_algorithms(suite.deterministic, device):
                failures = _run_cells(store, suite, registry, runner, finished, jobs_of, echo)
            clock.append(time.perf_counter())
            board = write_leaderboard(run_dir)
            clock.append(time.perf_counter())
        finally:
            store.close()
    echo(f"\n{render_text(wide_tables(read_records(run_dir)[0]))}\n\nResults: {run_dir} (every number: leaderboard.csv)")
    for failure in failures:
        echo(f"FAILED {failure['cell_id']}: {failure['status']}: {failure['error']}")
    seconds = dict(zip(["preflight", "executor", "cells", "leaderboard"], [b - a for a, b in zip(clock, clock[1:])]))
    return RunOutcome(run_dir, board, failures, seconds)


def chosen_executor(suite: Suite, registry: Registry, name: str | None, options: dict[str, Any]) -> ExecutorEntry:
    """The executor and its parameters: the command line's choice over the suite's ``[executor]``
    (whose parameters apply only to the executor they were written for), else ``local``; options
    from the command line (``--jobs``, ``--address``, ``--threads``) must be parameters of it."""
    table = suite.executor
    name = name or (table.name if table else "local")
    spec = registry.executor(name, "--executor")
    params = {**spec.defaults(), **(table.params if table and table.name == name else {})}
    for key, value in options.items():
        if spec.param(key) is None:
            known = ", ".join(p.name for p in spec.params) or "none"
            raise UsageError(f"--{key} is not a parameter of executor {name!r} (its parameters: {known})")
        params[key] = value
    return ExecutorEntry(name, params)


def _write_run_files(store: RunStore, suite: Suite, device: str, registry: Registry, executor: Executor) -> None:
    store.write_text("suite.toml", Path(suite.path).read_text(encoding="utf-8"))
    seeds_from = "the suite" if list(suite.seeds) == suite_seeds(suite) else "--seeds"
    store.write_text("run.json", json.dumps({"suite": suite.name, "run_id": store.run_dir.name, "source": str(suite.path),
                                             "seeds": list(suite.seeds), "seeds_from": seeds_from}, indent=2))
    dists = sorted({dist for dist, _ in registry.manager.distributions.values() if dist})
    with deterministic_algorithms(suite.deterministic, device):
        environment = describe(device, dists)
    environment.update(executor.environment())  # what each cell ran with, not the driver
    store.write_text("environment.json", json.dumps(environment, indent=2, default=str))


def suite_seeds(suite: Suite) -> list[int]:
    """The seeds the suite file itself names."""
    return list(suite.raw.get("suite", {}).get("seeds", [0]))


def _run_cells(store: RunStore, suite: Suite, registry: Registry, executor: Executor, finished: list[dict[str, Any]],
               jobs_of: Callable[[list[Any]], list[CellJob]], echo: Callable[[str], None]) -> list[dict[str, Any]]:
    done = {r["cell_id"]: r for r in finished if r.get("kind") == "cell"}
    cells = suite.cells()
    jobs = jobs_of([cell for cell in cells if cell.cell_id not in done])
    if done:
        echo(f"Resuming {store.run_dir}: {len(done)} of {len(cells)} cells already finished")
    failures = [r for r in done.values() if r["status"] != "ok"]
    started = time.perf_counter()
    trainers, reusers = shared_training_waves(jobs, [c for c in cells if c.cell_id in done])
    for i, records in enumerate(itertools.chain(executor.map(trainers), executor.map(reusers)), start=1):
        store.append(records)
        summary = records[-1]
        if summary["status"] != "ok":
            failures.append(summary)
        echo(f"[{len(done) + i}/{len(cells)}] {summary['cell_id']}: {summary['status']} ({summary['wall_seconds']:.1f} s)"
             f"{_progress(i, len(jobs), len(failures), time.perf_counter() - started)}")
        _announce(registry, summary, [r for r in records if r.get("kind") == "metric"], echo)
    return failures


def shared_training_waves(jobs: list[CellJob], finished: list[Any]) -> tuple[list[CellJob], list[CellJob]]:
    """Jobs that train, then the sweep points that reuse a training another point makes (or a
    finished cell made): those run after every training, so no two points train the same model."""
    trainer = {c.training_key: c.cell_id for c in finished if c.shares_training}
    first, later = [], []
    for job in jobs:
        cell = job.cell
        if cell.shares_training and cell.training_key in trainer:
            later.append(dataclasses.replace(job, reuses_training_of=trainer[cell.training_key]))
        else:
            first.append(job)
            if cell.shares_training:
                trainer[cell.training_key] = cell.cell_id
    return first, later


def _progress(finished: int, total: int, failed: int, seconds: float) -> str:
    """`` · 1 failed · ETA 3 min`` from this run's pace; nothing once the last cell is in."""
    parts = [f"{failed} failed"] if failed else []
    if finished < total:
        left = seconds / finished * (total - finished)
        parts.append(f"ETA {left / 60:.0f} min" if left >= 90 else f"ETA {left:.0f} s")
    return "".join(f" · {p}" for p in parts)


def _job(run_dir: Path, suite: Suite, registry: Registry, cell: Any, device: str, progress: bool, cache_dir: Path,
         executor: str) -> CellJob:
    return CellJob(
        run_id=run_dir.name, cell=cell, model=registry.provider("model", cell.model.family),
        dataset_spec=registry.dataset(cell.dataset.name),
        metrics=[(entry, registry.provider("metric", entry.name)) for entry in suite.metrics],
        device=device, samples=suite.samples, time_limit=suite.time_limit, checkpoint_every=suite.checkpoint_every,
        deterministic=suite.deterministic,
        run_dir=run_dir, cache_dir=cache_dir, progress=progress, executor=executor,
    )


def _announce(registry: Registry, cell: dict[str, Any], records: list[dict[str, Any]], echo: Callable[[str], None]) -> None:
    """Tell reporter plugins; one reporter's exception is a warning, never a lost result."""
    for impl in registry.manager.hook.benchbench_cell_finished.get_hookimpls():
        try:
            impl.function(**{name: {"cell": cell, "records": records}[name] for name in impl.argnames})
        except Exception as error:
            echo(f"warning: plugin {impl.plugin_name!r} failed in benchbench_cell_finished: {error!r}")
