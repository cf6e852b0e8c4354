"""``bench report RUN_DIR [-o FILE]`` as a click command, and what importing it costs."""

from __future__ import annotations

import subprocess
import sys

from click.testing import CliRunner

from benchbench.errors import UsageError
from benchbench.report.command import report


def test_report_writes_where_asked(tiny_run, tmp_path):
    out = tmp_path / "nested" / "r.html"
    result = CliRunner().invoke(report, [str(tiny_run), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"Report: {out}"
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_a_folder_without_records_raises_the_usage_error_cli_turns_into_exit_2(tmp_path):
    result = CliRunner().invoke(report, [str(tmp_path)])
    assert isinstance(result.exception, UsageError) and str(tmp_path) in str(result.exception)


def test_importing_the_command_loads_neither_torch_nor_matplotlib():
    """cli.py imports it at start-up, and `bench --help` must stay fast."""
    probe = ("import sys, benchbench.report.command, benchbench.report; "
             "print(sorted(m for m in ('torch', 'matplotlib', 'jinja2') if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == "[]"


def test_a_plugin_disabled_on_the_command_line_is_not_used_for_the_real_data(tiny_run, tmp_path):
    """``bench -p no:digits report``: the digits gallery loses its real-data panel, with the reason."""
    from benchbench.cli import cli

    out = tmp_path / "r.html"
    result = CliRunner().invoke(cli, ["-p", "no:digits", "report", str(tiny_run), "-o", str(out)])
    assert result.exit_code == 0, result.output
    html = out.read_text(encoding="utf-8").replace("&#39;", "'")
    assert "dataset 'digits' could not be loaded here (UsageError: unknown dataset 'digits'" in html
    assert "could not be loaded here" not in html.replace("dataset 'digits' could not be loaded here", "")
