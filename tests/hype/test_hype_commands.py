"""``bench hype`` as a user meets it: bad input exits 2 with one line naming the file or argument."""

from __future__ import annotations

import json
import subprocess
import sys

from click.testing import CliRunner

from benchbench.cli import cli
from benchbench.hype.commands import hype
from hype_helpers import answer

if "hype" not in cli.commands:
    cli.add_command(hype)


def bench(*args):
    return CliRunner().invoke(cli, ["hype", *map(str, args)])


def test_prepare_prints_where_the_study_is(run_dir, tmp_path):
    result = bench("prepare", run_dir, "--model", "gan/wgan-gp", "--dataset", "digits", "--n", 4, "-o", tmp_path / "s")
    assert result.exit_code == 0, result.output
    assert "4 real and 4 fake images of gan/wgan-gp on digits seed 0, shown at 128x128 (x16)" in result.output
    assert f"bench hype serve {tmp_path / 's'}" in result.output


def test_prepare_bad_input_exits_2_naming_it(run_dir):
    for args, words in [(["--model", "nope", "--dataset", "digits"], "no model 'nope'"),
                        (["--model", "gan", "--dataset", "nope"], "no cell on dataset 'nope'"),
                        (["--model", "gan/ns-gan", "--dataset", "digits"], "no samples for gan/ns-gan")]:
        result = bench("prepare", run_dir, *args, "--n", 4)
        assert result.exit_code == 2 and words in result.output, result.output
    result = bench("prepare", run_dir / "missing", "--model", "gan", "--dataset", "digits")
    assert result.exit_code == 2 and "missing: no cells.jsonl" in result.output


def test_serve_and_score_refuse_a_folder_that_is_not_a_study(tmp_path):
    for command in ("serve", "score"):
        result = bench(command, tmp_path)
        assert result.exit_code == 2 and f"{tmp_path} is not a HYPE study" in result.output
    (tmp_path / "study.json").write_text('{"kind": "something else"}')
    assert "not a HYPE study (kind 'something else'" in bench("score", tmp_path).output


def test_serve_refuses_a_protocol_the_study_cannot_hold(study_dir):
    result = bench("serve", study_dir, "--trials-per-block", 5)
    assert result.exit_code == 2 and "positive even number" in result.output
    result = bench("serve", study_dir, "--mode", "time", "--port", 0)  # 3 x 150 trials need 225 reals; the study has 30
    assert result.exit_code == 2 and "225 real and 225 fake" in result.output and "larger --n" in result.output
    result = bench("serve", study_dir, "--down-after", 3)
    assert result.exit_code == 2 and "--rule transformed" in result.output


def test_a_changed_image_stops_serve(study_dir):
    next((study_dir / "images").iterdir()).write_bytes(b"changed")
    result = bench("serve", study_dir, "--mode", "infinity", "--trials-per-block", 4)
    assert result.exit_code == 2 and "changed since `bench hype prepare`" in result.output


def test_score_reports_a_malformed_line_with_its_number_and_goes_on(study_dir):
    manifest = json.loads((study_dir / "manifest.json").read_text())["images"]
    names = sorted(n for n, e in manifest.items() if e["role"] == "study")
    lines = [answer("A", t, manifest[n]["label"], "fake", image=n) for t, n in enumerate(names[:4])]
    (study_dir / "answers.jsonl").write_text("\n".join([lines[0], "garbage", *lines[1:]]) + "\n")
    result = bench("score", study_dir, "--no-record")
    assert result.exit_code == 0, result.output
    assert "answers.jsonl line 2: not JSON" in result.stderr and "skipped" in result.stderr
    assert "hype_infinity:" in result.stdout and "4 scored answers" in result.stdout


def test_registering_the_commands_does_not_import_torch():
    probe = "import sys, benchbench.hype.commands; print('torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
