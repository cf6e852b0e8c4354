"""HYPE scores as pure functions of the parsed answers (:func:`benchbench.hype.answers.read_log`).

Zhou et al. 2019:

* HYPE-infinity (sec. 3.2) is the error rate, in percent, of evaluators judging real and fake images
  without a time limit: 50% means the fakes cannot be told from the reals, 0% that every image was
  judged right. The errors on fakes (judged real) and on reals (judged fake) are reported apart.
* HYPE-time (sec. 3.1): each block's staircase converges near the exposure where the evaluator is 75%
  correct; the block's value is the mode of its exposure levels, an evaluator's score the mean over
  their blocks, the model's HYPE-time the mean over evaluators, in milliseconds. Higher: the longer
  an evaluator must look to tell, the more realistic the samples.

Each comes with a 95% percentile bootstrap interval over evaluators (10,000 resamples, as in the
paper, from a fixed seed). Only complete blocks count (a block is complete when every trial it planned
was answered); qualification and vigilance answers never count as scored trials. Evaluators who failed
the qualification block or the vigilance trials are excluded by default, reported by id and reason,
and included on request: nobody is dropped silently.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import numpy as np

from ..errors import UsageError
from .staircase import converged_exposure

RESAMPLES = 10_000

Answer = dict[str, Any]


def qualification_outcome(answers: list[Answer], threshold: float, trials: int) -> dict[str, Any]:
    """Whether the qualification answers reach ``threshold`` correct on reals and on fakes alike."""
    accuracy = {label: _fraction([a["correct"] for a in answers if a["truth"] == label]) for label in ("real", "fake")}
    complete = len(answers) >= trials
    passed = complete and all(v is not None and v >= threshold for v in accuracy.values())
    return {"passed": passed, "complete": complete, "real_correct": accuracy["real"], "fake_correct": accuracy["fake"],
            "threshold": threshold}


def _fraction(flags: list[bool]) -> float | None:
    return sum(flags) / len(flags) if flags else None


def exclusions(answers: list[Answer], *, include_unqualified: bool = False, include_inattentive: bool = False) -> dict[str, str]:
    """Evaluator id → why their answers are left out (failed qualification or vigilance)."""
    reasons: dict[str, str] = {}
    for evaluator, mine in _by_evaluator(answers).items():
        protocol = mine[0]["protocol"]
        qualifying = [a for a in mine if a["phase"] == "qualification"]
        if protocol["qualification_trials"] and not include_unqualified:
            outcome = qualification_outcome(qualifying, protocol["qualification_pass"], protocol["qualification_trials"])
            if not outcome["passed"]:
                reasons[evaluator] = "failed qualification" if outcome["complete"] else "qualification incomplete"
                continue
        vigilance = [a["correct"] for a in mine if a["vigilance"]]
        if vigilance and not include_inattentive and _fraction(vigilance) < protocol["vigilance_pass"]:
            reasons[evaluator] = f"failed vigilance ({sum(vigilance)} of {len(vigilance)} right)"
    return reasons


def complete_blocks(answers: list[Answer]) -> dict[str, list[list[Answer]]]:
    """Evaluator id → their complete main blocks, each the block's scored (non-vigilance) answers."""
    blocks: dict[tuple[str, int], list[Answer]] = defaultdict(list)
    for answer in answers:
        if answer["phase"] == "main":
            blocks[answer["evaluator"], answer["block"]].append(answer)
    out: dict[str, list[list[Answer]]] = defaultdict(list)
    for (evaluator, _), block in sorted(blocks.items()):
        if len({a["trial"] for a in block}) == block[0]["block_trials"]:
            out[evaluator].append(sorted((a for a in block if not a["vigilance"]), key=lambda a: a["trial"]))
    return dict(out)


def score(answers: list[Answer], *, resamples: int = RESAMPLES, seed: int = 0, include_unqualified: bool = False,
          include_inattentive: bool = False) -> list[dict[str, Any]]:
    """Every score the answers hold: the three HYPE-infinity rates and/or HYPE-time, one dict each
    (``metric``, ``value``, ``unit``, ``ci95_low``/``high``, evaluator and exclusion counts, protocol)."""
    results = []
    for mode, scorer in (("infinity", _infinity), ("time", _time)):
        mine = [a for a in answers if a["mode"] == mode]
        if not mine:
            continue
        excluded = exclusions(mine, include_unqualified=include_unqualified, include_inattentive=include_inattentive)
        blocks = {e: b for e, b in complete_blocks(mine).items() if e not in excluded}
        started = {a["evaluator"] for a in mine} - set(excluded)
        common = {"n_evaluators": len(blocks), "n_excluded": len(excluded), "excluded": excluded,
                  "n_incomplete": len(started - set(blocks)), "n_answers": sum(len(b) for bs in blocks.values() for b in bs),
                  "protocol": {**_one_protocol(mine, mode), "bootstrap_resamples": resamples, "bootstrap_seed": seed,
                               "include_unqualified": include_unqualified, "include_inattentive": include_inattentive}}
        results += [{**common, **s} for s in scorer(blocks, np.random.default_rng(seed), resamples)]
    return results


def _one_protocol(answers: list[Answer], mode: str) -> dict[str, Any]:
    protocols = {json.dumps(a["protocol"], sort_keys=True): a["protocol"] for a in answers}
    if len(protocols) > 1:
        raise UsageError(f"the HYPE-{mode} answers were collected under {len(protocols)} different protocols; "
                         "their numbers cannot be pooled (serve refuses this: was the answers file edited?)")
    return next(iter(protocols.values()))


def _infinity(blocks: dict[str, list[list[Answer]]], rng: np.random.Generator, resamples: int) -> list[dict[str, Any]]:
    """Percent wrong per evaluator pool: over every answer, over fakes, over reals."""
    answers = {e: [a for b in bs for a in b] for e, bs in blocks.items()}
    out = []
    for metric, truth in (("hype_infinity", None), ("hype_infinity_fake_error", "fake"), ("hype_infinity_real_error", "real")):
        counts = np.array([[sum(not a["correct"] for a in mine if truth in (None, a["truth"])),
                            sum(truth in (None, a["truth"]) for a in mine)] for mine in answers.values()], dtype=float).reshape(-1, 2)
        if not counts[:, 1].all():  # an evaluator without such images (only in hand-made logs): no rate
            out.append({"metric": metric, "value": None, "unit": "percent", "ci95_low": None, "ci95_high": None, "per_evaluator": {}})
            continue
        value = 100 * counts[:, 0].sum() / counts[:, 1].sum()
        low, high = bootstrap(counts, lambda c: 100 * c[..., 0].sum(-1) / c[..., 1].sum(-1), rng, resamples)
        out.append({"metric": metric, "value": value, "unit": "percent", "ci95_low": low, "ci95_high": high,
                    "per_evaluator": {e: 100 * w / n for e, (w, n) in zip(answers, counts)}})
    return out


def _time(blocks: dict[str, list[list[Answer]]], rng: np.random.Generator, resamples: int) -> list[dict[str, Any]]:
    """Mean over evaluators of the mean over their blocks of each block's mode of exposures, in ms."""
    modes = {e: [converged_exposure(a["requested_exposure_ms"] for a in block) for block in bs] for e, bs in blocks.items()}
    scores = np.array([np.mean(m) for m in modes.values()], dtype=float)
    value = float(scores.mean()) if len(scores) else None
    low, high = bootstrap(scores, lambda s: s.mean(-1), rng, resamples)
    return [{"metric": "hype_time", "value": value, "unit": "ms", "ci95_low": low, "ci95_high": high,
             "per_evaluator": {e: {"score": float(np.mean(m)), "block_modes": m, "display_error_ms": _display_error(blocks[e])}
                               for e, m in modes.items()}}]


def _display_error(blocks: Iterable[list[Answer]]) -> float | None:
    """Mean measured minus requested exposure: how well the evaluator's screen kept the protocol."""
    gaps = [a["measured_exposure_ms"] - a["requested_exposure_ms"] for b in blocks for a in b if a.get("measured_exposure_ms") is not None]
    return float(np.mean(gaps)) if gaps else None


def bootstrap(per_evaluator: np.ndarray, statistic: Any, rng: np.random.Generator, resamples: int) -> tuple[float | None, float | None]:
    """95% percentile interval of ``statistic`` over evaluators drawn with replacement; ``statistic``
    maps an array of resampled rows ``(resamples, n_evaluators, ...)`` to ``(resamples,)``."""
    if len(per_evaluator) == 0:
        return None, None
    draws = rng.integers(0, len(per_evaluator), size=(resamples, len(per_evaluator)))
    values = statistic(per_evaluator[draws])
    low, high = np.percentile(values, [2.5, 97.5])
    return float(low), float(high)


def _by_evaluator(answers: list[Answer]) -> dict[str, list[Answer]]:
    grouped: dict[str, list[Answer]] = defaultdict(list)
    for answer in answers:
        grouped[answer["evaluator"]].append(answer)
    return dict(grouped)
