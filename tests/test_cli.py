"""The CLI as a user meets it: start-up without torch, the smoke suite offline, leaderboards."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

import benchbench
from benchbench.cli import cli
from benchbench.results.leaderboard import COLUMNS

ROOT = Path(__file__).resolve().parents[1]
PROBE = """
import sys, runpy
sys.argv = ["bench", *{args!r}]
try:
    runpy.run_module("benchbench", run_name="__main__")
except SystemExit as done:
    code = done.code
print("TORCH", "torch" in sys.modules, file=sys.stderr)
print("RAY", "ray" in sys.modules, file=sys.stderr)
"""


@pytest.mark.parametrize("args", [["--help"], ["validate", "--static", "suites/smoke.toml", "suites/quick.toml"], ["compare", "A", "B"],
                                  ["show", "--no-build", "flow"], ["list"]])
def test_light_commands_do_not_import_torch(args, tmp_path):
    if args[0] == "compare":
        board = "dataset,model,variant,metric,mean,std,ci95,n_seeds,direction,rank,status\nd,m,v,nll,1.0,,,1,lower,1,ok\n"
        for name in ("A", "B"):
            (tmp_path / name).write_text(board)
        args = ["compare", str(tmp_path / "A"), str(tmp_path / "B")]
    done = subprocess.run([sys.executable, "-c", PROBE.format(args=args)], capture_output=True, text=True, cwd=ROOT)
    assert "TORCH False" in done.stderr and "RAY False" in done.stderr, done.stderr[-3000:]


def test_bench_list_names_each_plugin_and_its_distribution():
    result = CliRunner().invoke(cli, ["list"])
    assert result.exit_code == 0
    assert "vae" in result.output and "(vae: benchbench " in result.output
    assert "8gaussians" in result.output and "nll" in result.output


def test_validate_builds_the_quick_suite_as_run_would():
    result = CliRunner().invoke(cli, ["validate", "suites/quick.toml"])
    assert result.exit_code == 0, result.output
    assert "every dataset loaded, every model built on each of its datasets" in result.output


def test_every_committed_suite_passes_the_static_checks():
    suites = sorted(str(path) for path in (ROOT / "suites").glob("*.toml"))
    result = CliRunner().invoke(cli, ["validate", "--static", *suites])
    assert result.exit_code == 0, result.output
    assert result.output.count(": ok (") == len(suites) >= 8


def test_validate_builds_the_mode_collapse_suite_as_run_would():
    result = CliRunner().invoke(cli, ["validate", "suites/mode_collapse.toml"])
    assert result.exit_code == 0, result.output


def test_show_gives_a_models_variants_parameters_capabilities_and_data_kinds():
    result = CliRunner().invoke(cli, ["show", "vae"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "model 'vae': " in out and "provided by plugin 'vae' (benchbench " in out and "suite key: family = 'vae'" in out
    assert "data kinds: binary, continuous, discrete" in out
    assert "    iwae " in out
    assert "latent_dim (int, default" in out
    # From the classes the factory builds: the IWAE has the importance-weighted bound, every VAE an ELBO.
    iwae = [line for line in out.splitlines() if line.strip().startswith("iwae:")]
    assert iwae and all("elbo" in line and "log_prob_bound" in line for line in iwae), iwae


def test_show_gives_a_metrics_requirements_and_choices():
    result = CliRunner().invoke(cli, ["show", "nll"])
    assert result.exit_code == 0, result.output
    assert "metric 'nll': " in result.output and "requires:" in result.output
    assert "one of: elbo, log_prob, log_prob_bound" in result.output
    assert "split (str, default 'test'; one of 'train', 'val', 'test')  the dataset split scored" in result.output


def test_show_of_an_unknown_name_exits_2_with_suggestions():
    result = CliRunner().invoke(cli, ["show", "flwo"])
    assert result.exit_code == 2
    assert "no model, metric, dataset or executor named 'flwo'. Did you mean: flow?" in result.output


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    """The smoke suite through the notebook API, with every socket blocked for the whole run."""
    tmp = tmp_path_factory.mktemp("smoke")
    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise OSError("network blocked by the test")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "connect", refuse)
        patch.setattr(socket.socket, "connect_ex", refuse)
        patch.setattr(socket, "create_connection", refuse)
        patch.setattr(socket, "getaddrinfo", refuse)
        board = benchbench.run(str(ROOT / "suites" / "smoke.toml"), results_root=tmp, run_id="run")
    return board, attempts, tmp / "smoke" / "run"


def test_smoke_run_opens_no_network_connection(smoke_run):
    board, attempts, _ = smoke_run
    assert attempts == []
    assert set(board["status"]) == {"ok"}


def test_smoke_leaderboard_has_the_contract_columns_and_real_values(smoke_run):
    board, _, run_dir = smoke_run
    assert list(board.columns[: len(COLUMNS)]) == COLUMNS
    csv = pd.read_csv(run_dir / "leaderboard.csv")
    assert list(csv.columns[: len(COLUMNS)]) == COLUMNS
    metrics = set(board["metric"])
    assert {"nll", "bpd", "mmd2", "fit_seconds", "samples_per_second"} <= metrics
    assert board["mean"].notna().all()


def test_leaderboard_command_rebuilds_the_same_table(smoke_run):
    _, _, run_dir = smoke_run
    before = (run_dir / "leaderboard.csv").read_text()
    (run_dir / "leaderboard.csv").unlink()
    result = CliRunner().invoke(cli, ["leaderboard", str(run_dir)])
    assert result.exit_code == 0 and "fit_seconds ↓" in result.output and "mmd2 ↓" in result.output
    assert (run_dir / "leaderboard.csv").read_text() == before


def test_leaderboard_of_a_folder_that_is_no_run_exits_2(tmp_path):
    result = CliRunner().invoke(cli, ["leaderboard", str(tmp_path)])
    assert result.exit_code == 2 and "cells.jsonl" in result.output


def test_run_needs_exactly_one_of_suite_or_resume(tmp_path):
    result = CliRunner().invoke(cli, ["run"])
    assert result.exit_code == 2 and "--resume" in result.output


def test_bad_plugin_option_exits_2():
    result = CliRunner().invoke(cli, ["-p", "vae", "list"])
    assert result.exit_code == 2 and "no:NAME" in result.output


BAD_SAMPLING_FAMILY_PARAMS = [
    ("gan", "wgan", "clip = -0.01", "model 'gan', variant 'wgan': clip must be positive, got -0.01"),
    ("gan", "wgan-gp", "penalty = -1.0", "model 'gan', variant 'wgan-gp': penalty must be non-negative, got -1.0"),
    ("gan", "ns-gan", "critic_steps = 0", "model 'gan', variant 'ns-gan': critic_steps must be at least 1, got 0"),
    ("ebm", "cd", "step_size = 0.0", "model 'ebm', variant 'cd': step_size must be positive"),
]


@pytest.mark.parametrize("family, variant, param, message", BAD_SAMPLING_FAMILY_PARAMS)
def test_a_gan_or_ebm_parameter_out_of_range_exits_2_before_training(tmp_path, family, variant, param, message):
    suite = tmp_path / "bad.toml"
    suite.write_text(f'[suite]\nname = "bad"\n\n[[datasets]]\nname = "8gaussians"\n\n[[models]]\nfamily = "{family}"\n'
                     f'variant = "{variant}"\nparams = {{ {param} }}\nbudget = {{ steps = 10 }}\n\n[[metrics]]\nname = "mmd"\n')
    result = CliRunner().invoke(cli, ["run", str(suite), "--results", str(tmp_path / "res")])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert not (tmp_path / "res").exists()
