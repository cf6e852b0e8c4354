"""The ``bench`` command. The one place that knows click: typed errors become a one-line message
and exit status 2. Commands import torch only when they train (``run``)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .errors import UsageError
from .evaluate import evaluate as evaluate_command
from .hype.commands import hype as hype_command
from .plugin.command import command_registry
from .report.command import report as report_command

KINDS = ("model", "metric", "dataset", "executor")  # what `bench list` and `bench show` look through


def _plugin_option(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> tuple[str, ...]:
    for item in value:
        if not item.startswith("no:") or item == "no:":
            raise click.BadParameter(f"expected no:NAME to disable plugin NAME, got {item!r}")
    return value


def _seeds(value: str | None) -> list[int] | None:
    if value is None:
        return None
    try:
        return [int(part) for part in value.split(",")]
    except ValueError:
        raise click.BadParameter(f"expected comma-separated non-negative integers such as 0,1,2, got {value!r}") from None


class _Failure(click.ClickException):
    """A benchbench UsageError on its way out: one line on stderr, exit status 2."""

    exit_code = 2


class _Group(click.Group):
    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except UsageError as error:
            raise _Failure(str(error)) from None


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-p", "plugins", multiple=True, callback=_plugin_option, metavar="no:NAME",
              help="Disable a plugin by name (repeatable); also BENCHBENCH_DISABLE_PLUGINS=a,b.")
@click.version_option(package_name="benchbench")
@click.pass_context
def cli(ctx: click.Context, plugins: tuple[str, ...]) -> None:
    """benchbench: benchmark deep generative models side by side."""
    ctx.obj = {"plugins": plugins}


@cli.command()
@click.argument("suite", required=False, type=click.Path(path_type=Path))
@click.option("--resume", "resume", type=click.Path(path_type=Path), help="Continue the run in RUN_DIR, skipping finished cells.")
@click.option("--results", "results_root", default="results", show_default=True, type=click.Path(path_type=Path), help="Where run folders go.")
@click.option("--run-id", help="Name of the run folder (default: a timestamp).")
@click.option("--seeds", callback=lambda ctx, param, value: _seeds(value), metavar="0,1,2",
              help="Seeds to run instead of the suite's (recorded in the run folder's run.json).")
@click.option("--executor", help="What runs the cells: local (default) or ray, or a plugin's (`bench list executors`); "
              "overrides the suite's [executor].")
@click.option("--jobs", type=int, help="local: cells at once, each in its own process (default 1: in this process).")
@click.option("--threads", type=int, help="local: torch threads per cell (default: the cores shared equally among the jobs).")
@click.option("--address", help="ray: local (start an instance here), auto (this machine's cluster) or the head's HOST:PORT.")
@click.option("--no-progress", is_flag=True, help="No progress bars.")
@click.option("--no-report", is_flag=True, help="Do not write RUN_DIR/report.html at the end (`bench report` writes it later).")
@click.pass_context
def run(ctx: click.Context, suite: Path | None, resume: Path | None, results_root: Path, run_id: str | None,
        seeds: list[int] | None, executor: str | None, jobs: int | None, threads: int | None, address: str | None,
        no_progress: bool, no_report: bool) -> None:
    """Run SUITE (a TOML file), print its leaderboards and write its report. Exit 1 if any cell failed."""
    from .engine.runner import run_suite

    if (suite is None) == (resume is None):
        raise UsageError("give either SUITE or --resume RUN_DIR")
    registry = command_registry(ctx)
    options = {k: v for k, v in (("jobs", jobs), ("threads", threads), ("address", address)) if v is not None}
    outcome = run_suite(suite, resume=resume, results_root=results_root, run_id=run_id, seeds=seeds,
                        registry=registry, progress=not no_progress, echo=click.echo, executor=executor,
                        executor_options=options)
    if not no_report:
        from .report import write_report

        click.echo(f"Report: {write_report(outcome.run_dir, registry=registry)}")
    if outcome.failures:
        click.echo(f"{len(outcome.failures)} cell(s) did not finish ok", err=True)
        ctx.exit(1)


@cli.command()
@click.argument("suites", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--static", is_flag=True, help="Only what needs no data (keys, names, parameters): fast, never imports torch.")
@click.pass_context
def validate(ctx: click.Context, suites: tuple[Path, ...], static: bool) -> None:
    """Check SUITES without running them: by default everything `bench run` checks before training."""
    from .engine.suite import load_suite

    registry = command_registry(ctx)
    for path in suites:
        suite = load_suite(path, registry)
        if not static:
            from .engine.runner import preflight

            preflight(suite, registry)
        shape = f"{len(suite.cells())} cells: {len(suite.datasets)} datasets x {len(suite.models)} models x {len(suite.seeds)} seeds; {len(suite.metrics)} metrics"
        checked = ("static checks only (keys, names, parameters); not checked: loading the data, data kinds, building the models "
                   "(run without --static)" if static else "every dataset loaded, every model built on each of its datasets")
        click.echo(f"{path}: ok ({shape}; {checked})")


@cli.command("list")
@click.pass_context
def list_(ctx: click.Context) -> None:
    """Show every model, metric, dataset and executor with the plugin that provides it."""
    registry = command_registry(ctx)
    for kind in KINDS:
        click.echo(f"{kind}s:")
        for name in registry.names(kind):
            entry = registry.entries[kind][name]
            variants = f" [{', '.join(entry.spec.variants)}]" if kind == "model" else ""
            clash = "  CLASH: provided by several plugins, see below" if name in registry.clashes[kind] else ""
            click.echo(f"  {name:<22} {entry.spec.summary}{variants}  ({entry.plugin}: {entry.origin}, v{entry.spec.version}){clash}")
    for plugin, problem in sorted(registry.problems.items()):
        click.echo(f"problem: plugin {plugin!r}: {problem}", err=True)
    for clash in registry.clash_notes():
        click.echo(f"clash: {clash}", err=True)
    click.echo("`bench show NAME` gives one entry's variants, parameters, capabilities and data kinds.")


@cli.command()
@click.argument("name")
@click.option("--no-build", is_flag=True, help="Do not build models to find their capabilities (never imports torch).")
@click.pass_context
def show(ctx: click.Context, name: str, no_build: bool) -> None:
    """Show NAME (a model, metric, dataset or executor): its plugin, variants, parameters and what it needs."""
    from .errors import suggest
    from .plugin.describe import describe

    registry = command_registry(ctx)
    kinds = [kind for kind in KINDS if name in registry.entries[kind]]
    if not kinds:
        every = {n for kind in KINDS for n in registry.names(kind)}
        raise UsageError(f"no model, metric, dataset or executor named {name!r}. {suggest(name, every)}{registry.problem_note()}")
    for kind in kinds:
        click.echo("\n".join(describe(kind, registry.provider(kind, name), build=not no_build)))


@cli.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--metrics", metavar="a,b", help="Columns to show instead of the headline ones: metric names "
              "(fid[classifier]) or quantities (fid).")
def leaderboard(run_dir: Path, metrics: str | None) -> None:
    """Rebuild RUN_DIR's tables from its records and print one wide table per dataset."""
    from .results.leaderboard import write_leaderboard
    from .results.store import read_records
    from .results.wide import render_text, wide_tables

    if not (run_dir / "cells.jsonl").is_file():
        raise UsageError(f"{run_dir}: no cells.jsonl; expected a run folder made by `bench run`")
    write_leaderboard(run_dir)
    chosen = [m.strip() for m in metrics.split(",") if m.strip()] if metrics else None
    click.echo(render_text(wide_tables(read_records(run_dir)[0], chosen)))


@cli.command()
@click.argument("a", type=click.Path(path_type=Path))
@click.argument("b", type=click.Path(path_type=Path))
@click.option("--fail-on-regression", is_flag=True, help="Exit 1 if any row of B is worse than A, or lost the value A has.")
@click.option("--tolerance", default=0.0, show_default=True, type=click.FloatRange(min=0), help="Relative difference always treated as noise (beyond the seeds' spread and float noise).")
def compare(a: Path, b: Path, fail_on_regression: bool, tolerance: float) -> None:
    """Compare leaderboard B against A: delta and verdict per row."""
    from .results.compare import compare as compare_boards
    from .results.compare import read_leaderboard, regressions, render

    table, warnings = compare_boards(read_leaderboard(a), read_leaderboard(b), tolerance)
    click.echo(render(table))
    for warning in warnings:
        click.echo(f"warning: {warning}", err=True)
    costs = table["cost"].astype(bool)
    summary = "; ".join(f"{verdict}: {n}" for verdict, n in table.loc[~costs, "verdict"].value_counts().items())
    if costs.any():
        summary += " (costs, never a regression: " + "; ".join(
            f"{verdict}: {n}" for verdict, n in table.loc[costs, "verdict"].value_counts().items()) + ")"
    click.echo(summary)
    regressed = regressions(table)
    if fail_on_regression and len(regressed):
        for r in regressed.itertuples():
            click.echo(f"regression: {r.dataset}/{r.model}/{r.variant}/{r.metric}: {r.verdict}{': ' + r.reason if r.reason else ''}", err=True)
        click.echo(f"{len(regressed)} regression(s)", err=True)
        sys.exit(1)


cli.add_command(report_command)
cli.add_command(hype_command)
cli.add_command(evaluate_command)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="bench")
