"""``bench hype``: human evaluation of a run's samples (HYPE, Zhou et al. 2019).

``prepare`` turns one cell of a run into a study folder, ``serve`` runs the study in evaluators'
browsers, ``score`` turns the answers into HYPE-infinity and HYPE-time, recorded in the run's
leaderboard. Only click lives here; the work is imported when a command runs, so ``bench --help``
stays light (no torch).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import click

from ..errors import UsageError

_PATH = click.Path(path_type=Path)


@click.group()
def hype() -> None:
    """Human eYe Perceptual Evaluation: real-or-fake studies in the browser."""


@hype.command()
@click.argument("run_dir", type=_PATH)
@click.option("--model", required=True, metavar="MODEL[/VARIANT]", help="The model as the run's records name it, e.g. gan or gan/wgan-gp.")
@click.option("--dataset", required=True, help="The dataset of the cell (an image dataset).")
@click.option("--n", "n", default=500, show_default=True, type=click.IntRange(min=1), help="Real images, and as many fakes.")
@click.option("--seed", type=int, help="The cell's seed (default: the smallest seed the run has).")
@click.option("--selection-seed", default=0, show_default=True, type=int, help="Seed of the choice of images.")
@click.option("--min-size", default=128, show_default=True, type=click.IntRange(min=1),
              help="Upscale (nearest neighbour, integer factor) until the shorter side has this many pixels.")
@click.option("-o", "--out", type=_PATH, help="Study folder (default: RUN_DIR/hype/<model>-<variant>-<dataset>-seed<S>).")
@click.pass_context
def prepare(ctx: click.Context, run_dir: Path, model: str, dataset: str, n: int, seed: int | None, selection_seed: int,
            min_size: int, out: Path | None) -> None:
    """Make a study of N real test images and N samples of one cell of RUN_DIR."""
    from ..plugin.command import command_registry
    from .prepare import prepare_study
    from .study import load_study

    study = load_study(prepare_study(run_dir, model, dataset, n=n, seed=seed, selection_seed=selection_seed, out=out,
                                     min_size=min_size, registry=command_registry(ctx)))
    info = study.info
    click.echo(f"Study {study.study_id}: {n} real and {n} fake images of {info['model']}/{info['variant']} on {info['dataset']} "
               f"seed {info['seed']}, shown at {info['image_size'][1]}x{info['image_size'][0]} (x{info['upscale']}), in {study.root}\n"
               f"Serve it with: bench hype serve {study.root}")


@hype.command()
@click.argument("study_dir", metavar="STUDY", type=_PATH)
@click.option("--mode", type=click.Choice(["time", "infinity"]), default="time", show_default=True,
              help="HYPE-time (timed exposures, staircases) or HYPE-infinity (untimed).")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="0: any free port.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (0.0.0.0: every interface).")
@click.option("--qualification", is_flag=True, help="Begin with a qualification block (pass: 65% right on reals and on fakes).")
@click.option("--qualification-trials", default=20, show_default=True, type=click.IntRange(min=2))
@click.option("--vigilance", default=0, show_default=True, type=click.IntRange(min=0), metavar="K",
              help="Obviously fake (noise) trials mixed into each block.")
@click.option("--blocks", type=click.IntRange(min=1), help="Blocks per evaluator (default: time 3, infinity 1).")
@click.option("--trials-per-block", type=click.IntRange(min=2), help="Scored trials per block, even (default: time 150, infinity 100).")
@click.option("--rule", type=click.Choice(["weighted", "transformed"]), default="weighted", show_default=True,
              help="Staircase: Kaernbach's weighted up-down, or Levitt's transformed N-down/1-up.")
@click.option("--step-up-ms", default=30, show_default=True, type=click.IntRange(min=1), help="Longer exposure after an error.")
@click.option("--step-down-ms", default=10, show_default=True, type=click.IntRange(min=1),
              help="Shorter exposure after a correct answer (run).")
@click.option("--down-after", type=click.IntRange(min=1),
              help="Correct answers in a row before stepping down (transformed rule; default 3).")
def serve(study_dir: Path, mode: str, port: int, host: str, qualification: bool, qualification_trials: int, vigilance: int,
          blocks: int | None, trials_per_block: int | None, rule: str, step_up_ms: int, step_down_ms: int,
          down_after: int | None) -> None:
    """Serve STUDY to evaluators' browsers until interrupted; every answer goes to STUDY/answers.jsonl."""
    from .answers import AnswerBook
    from .protocol import make_protocol
    from .server import make_server
    from .staircase import StaircaseRule
    from .study import load_study

    if rule == "weighted" and down_after not in (None, 1):
        raise UsageError("--down-after applies to --rule transformed; the weighted rule steps after every answer")
    study = load_study(study_dir)
    study.check_images()
    staircase = StaircaseRule(rule, step_up_ms, step_down_ms, down_after or (3 if rule == "transformed" else 1))
    protocol = make_protocol(mode, blocks=blocks, trials_per_block=trials_per_block, staircase=staircase,
                             qualification_trials=qualification_trials if qualification else 0, vigilance=vigilance)
    book = AnswerBook(study, protocol)
    for warning in book.warnings:
        click.echo(f"warning: {warning}", err=True)
    server = make_server(book, host, port)
    click.echo(f"Serving HYPE-{mode} study {study.study_id} at http://{host}:{server.server_port}/ (Ctrl-C to stop)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        book.close()


@hype.command()
@click.argument("study_dir", metavar="STUDY", type=_PATH)
@click.option("--no-record", is_flag=True, help="Only print the scores; do not add them to the run's leaderboard.")
@click.option("--include-unqualified", is_flag=True, help="Count evaluators who failed the qualification block.")
@click.option("--include-inattentive", is_flag=True, help="Count evaluators who failed the vigilance trials.")
@click.option("--resamples", default=10_000, show_default=True, type=click.IntRange(min=100), help="Bootstrap resamples over evaluators.")
@click.option("--bootstrap-seed", default=0, show_default=True, type=int)
def score(study_dir: Path, no_record: bool, include_unqualified: bool, include_inattentive: bool, resamples: int,
          bootstrap_seed: int) -> None:
    """Score STUDY's answers (HYPE-infinity error rates, HYPE-time exposure) and record them in its run."""
    from .answers import read_log
    from .record import record_scores
    from .scoring import score as score_answers
    from .study import load_study

    study = load_study(study_dir)
    data = study.answers_path.read_bytes() if study.answers_path.is_file() else b""
    log = read_log(data.decode("utf-8", errors="replace"), study.images, str(study.answers_path))
    for warning in log.warnings:
        click.echo(f"warning: {warning}", err=True)
    scores = score_answers(log.answers, resamples=resamples, seed=bootstrap_seed, include_unqualified=include_unqualified,
                           include_inattentive=include_inattentive)
    click.echo("\n".join(_report(scores)) if scores else f"{study.answers_path}: no answers yet")
    if not no_record:
        recorded = record_scores(study, scores, hashlib.sha256(data).hexdigest())
        click.echo(f"Recorded {len(recorded) - 1} HYPE value(s) in {study.info['run_dir']}; leaderboards rebuilt.")


def _report(scores: list[dict[str, Any]]) -> list[str]:
    """The scores, then per mode who was left out and why, HYPE-time per evaluator, and the protocol."""
    lines = []
    for s in scores:
        value = "n/a (no complete evaluation)" if s["value"] is None else \
            f"{s['value']:.1f} {s['unit']} (95% bootstrap interval {s['ci95_low']:.1f} to {s['ci95_high']:.1f})"
        lines.append(f"{s['metric']}: {value}; {s['n_evaluators']} evaluator(s), {s['n_answers']} scored answers, "
                     f"{s['n_excluded']} excluded, {s['n_incomplete']} without a complete block")
        if s["metric"] == "hype_time":
            lines += [f"  evaluator {e}: {v['score']:.1f} ms (block modes {', '.join(f'{m:g}' for m in v['block_modes'])})"
                      for e, v in s["per_evaluator"].items()]
    for mode in dict.fromkeys(s["protocol"]["mode"] for s in scores):
        first = next(s for s in scores if s["protocol"]["mode"] == mode)
        lines += [f"  excluded {evaluator}: {why}" for evaluator, why in first["excluded"].items()]
        lines.append(f"  protocol ({mode}): " + "; ".join(f"{k}={v}" for k, v in sorted(first["protocol"].items()) if k != "mode"))
    return lines
