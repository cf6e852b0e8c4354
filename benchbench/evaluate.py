"""``bench eval SAMPLES --dataset NAME``: score samples made elsewhere, as one built-in cell.

A one-line shortcut for a suite of one cell: the ``samples`` model family (which reads the file)
on the dataset, a budget of one step, the chosen metrics. The suite is written as TOML into the
run folder (``RUN/suite.toml``, like any suite's, so ``bench run --resume`` and ``bench report``
treat the run as any other) and run by :func:`benchbench.engine.runner.run_suite`, which prints the
wide table. Everything that can be wrong with the input (the file, the dataset, metric names,
parameters, more samples asked than the file holds) is a :class:`UsageError` before anything is
written: exit status 2.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from .engine.suite import Suite, parse_suite
from .errors import ResultsError, UsageError

if TYPE_CHECKING:
    from .api.dataset import Dataset

FAMILY = "samples"  # the model family that reads samples from a file
SUITE_NAME = "eval"
IMAGE_METRICS = ("fid", "kid", "precision_recall", "mmd")  # fid, kid and precision_recall: the domain classifier
VECTOR_METRICS = ("mmd", "mode_coverage", "parzen")  # mode_coverage where the dataset knows its modes


def default_metrics(data: Dataset, installed: list[str]) -> list[str]:
    """The sample metrics that apply to ``data``, among those installed."""
    wanted = IMAGE_METRICS if data.is_image else [m for m in VECTOR_METRICS if m != "mode_coverage" or data.modes is not None]
    return [m for m in wanted if m in installed]


def toml_value(value: Any) -> str:
    """A TOML literal for a string, number or boolean (JSON's string escapes are TOML's)."""
    return str(value).lower() if isinstance(value, bool) else json.dumps(value)


def typed_params(pairs: tuple[str, ...], spec: Any) -> dict[str, Any]:
    """``KEY=VALUE`` pairs as the spec's parameter types; unknown keys stay strings for the suite loader to name."""
    params: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"--param: expected KEY=VALUE, got {pair!r}")
        if key == "path":
            raise UsageError("--param: path is SAMPLES, the command's argument")
        param = spec.param(key)
        kind = param.type if param is not None else str
        try:
            params[key] = {"true": True, "false": False}[text] if kind is bool else kind(text)
        except (KeyError, ValueError):
            raise UsageError(f"--param {key}: expected {kind.__name__}, got {text!r}") from None
    return params


def suite_text(samples: Path, dataset: str, metrics: list[str], params: dict[str, Any], count: int, seed: int) -> str:
    """The suite ``bench eval`` runs, as TOML."""
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", samples.stem or samples.name) or FAMILY
    model_params = ", ".join(f"{k} = {toml_value(v)}" for k, v in {"path": str(samples), **params}.items())
    description = f"bench eval of {samples} on {dataset}"
    lines = ["# Written by `bench eval`: samples made elsewhere, scored as a cell of the `samples` family.",
             "[suite]", f"name = {toml_value(SUITE_NAME)}", f"description = {toml_value(description)}",
             f"seeds = [{seed}]", f"samples = {count}", "",
             "[[datasets]]", f"name = {toml_value(dataset)}", "",
             "[[models]]", f"family = {toml_value(FAMILY)}", f"name = {toml_value(name)}", f"params = {{ {model_params} }}",
             "budget = { steps = 1 }  # loading is the training: the samples model's train_step does nothing"]
    for metric in metrics:
        lines += ["", "[[metrics]]", f"name = {toml_value(metric)}"]
    return "\n".join(lines) + "\n"


def checked_suite(registry: Any, samples: Path, dataset_name: str, metrics: str | None, pairs: tuple[str, ...],
                  count: int | None, seed: int) -> tuple[Suite, str]:
    """The suite and its text, after loading the dataset and the samples as the runner will: every
    mistake is a UsageError here, and ``count`` defaults to every sample the file holds."""
    from .engine.cell import build_model, load_dataset

    data_spec = registry.dataset(dataset_name, "--dataset")
    data = load_dataset(data_spec, data_spec.defaults())
    chosen = [m.strip() for m in metrics.split(",") if m.strip()] if metrics else default_metrics(data, registry.names("metric"))
    if not chosen:
        raise UsageError(f"--metrics: no sample metric applies to {dataset_name!r} among those installed; name some")
    params = typed_params(pairs, registry.model(FAMILY, "bench eval"))
    if params.get("labels"):  # the suite is kept in the run folder: paths must not depend on where it was run
        params["labels"] = str(Path(params["labels"]).expanduser().resolve())
    suite = parsed(registry, suite_text(samples, dataset_name, chosen, params, count or 1, seed))
    model = build_model(registry.provider("model", FAMILY), data, suite.models[0].variant, suite.models[0].params)
    if count is not None and count > model.count:
        raise UsageError(f"{samples}: holds {model.count} samples, --samples asks for {count}")
    text = suite_text(samples, dataset_name, chosen, params, count or model.count, seed)
    return parsed(registry, text), text


def parsed(registry: Any, text: str) -> Suite:
    """The suite checked as any suite file is: unknown metrics and parameters are the suite loader's errors."""
    return parse_suite(tomllib.loads(text), "bench eval", registry)


def written_suite(results_root: Path, suite: Suite, run_id: str | None, text: str) -> Path:
    """``RUN/suite.toml`` in a new run folder."""
    from .engine.runner import new_run_dir

    run_dir = new_run_dir(results_root, suite, run_id)
    if run_dir.exists():
        raise ResultsError(f"{run_dir} already exists; choose another --run-id")
    run_dir.mkdir(parents=True)
    (run_dir / "suite.toml").write_text(text, encoding="utf-8")
    return run_dir / "suite.toml"


@click.command("eval")
@click.argument("samples", type=click.Path(path_type=Path))
@click.option("--dataset", "dataset", required=True, help="The dataset the samples imitate (`bench list`).")
@click.option("--metrics", metavar="a,b", help="Metrics to compute; default: the sample metrics that apply to the "
              "dataset (images: fid, kid, precision_recall, mmd; vectors: mmd, mode_coverage, parzen).")
@click.option("--samples", "count", type=click.IntRange(min=1), help="Samples scored, the first N; default: all the file holds.")
@click.option("--seed", default=0, show_default=True, type=click.IntRange(min=0),
              help="The cell's seed, which seeds the metrics (KID's subsets): the seed of the cell that made the samples.")
@click.option("--results", "results_root", default="results", show_default=True, type=click.Path(path_type=Path),
              help="Where run folders go.")
@click.option("--run-id", help="Name of the run folder (default: a timestamp).")
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE",
              help="A parameter of the samples model (`bench show samples`): key, layout, range, labels, labels_key.")
@click.pass_context
def evaluate(ctx: click.Context, samples: Path, dataset: str, metrics: str | None, count: int | None, seed: int,
             results_root: Path, run_id: str | None, params: tuple[str, ...]) -> None:
    """Score SAMPLES (a folder of PNG / JPEG images, a .npy / .npz array or a .pt tensor file) on a
    dataset under benchbench's own protocols and print the table. Exit 1 if the cell failed."""
    from .engine.runner import run_suite
    from .plugin.command import command_registry

    registry = command_registry(ctx)
    suite, text = checked_suite(registry, samples.expanduser().resolve(), dataset, metrics, params, count, seed)
    suite_file = written_suite(results_root, suite, run_id, text)
    try:
        outcome = run_suite(suite_file, results_root=results_root, run_id=suite_file.parent.name, registry=registry,
                            progress=False, echo=click.echo)
    except BaseException:
        if not (suite_file.parent / "cells.jsonl").exists():  # stopped before the run began: leave nothing
            shutil.rmtree(suite_file.parent)
            with contextlib.suppress(OSError):
                suite_file.parent.parent.rmdir()  # results/eval, when nothing else is in it
        raise
    if outcome.failures:
        click.echo(f"{len(outcome.failures)} cell(s) did not finish ok", err=True)
        ctx.exit(1)
