"""The ``bench report`` click command; ``cli.py`` registers it. Torch and matplotlib are imported
only when it runs, so ``bench --help`` stays fast."""

from __future__ import annotations

from pathlib import Path

import click

from ..plugin.command import command_registry


@click.command("report")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("-o", "--output", "out", type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the report (default: RUN_DIR/report.html).")
@click.pass_context
def report(ctx: click.Context, run_dir: Path, out: Path | None) -> None:
    """Write one self-contained HTML report of RUN_DIR: suite, leaderboards, samples, curves, costs, failures."""
    from .build import write_report

    click.echo(f"Report: {write_report(run_dir, out, registry=command_registry(ctx))}")
