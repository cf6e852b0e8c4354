"""The staircase converges where a simulated observer is 75% correct; the paper's literal rule does not."""

from __future__ import annotations

import math
import random
import statistics

import pytest

from benchbench.hype.staircase import Staircase, StaircaseRule, converged_exposure

MIDPOINT, SCALE = 400.0, 50.0  # ms: the observer is 75% correct at 400 ms


def p_correct(exposure: float) -> float:
    """A real/fake observer: chance (50%) at short exposures, rising logistically to 100%; 75% at MIDPOINT."""
    return 0.5 + 0.5 / (1 + math.exp(-(exposure - MIDPOINT) / SCALE))


def exposure_at(accuracy: float) -> float:
    """Where the observer is ``accuracy`` correct (the inverse of :func:`p_correct`)."""
    q = (accuracy - 0.5) / 0.5
    return MIDPOINT + SCALE * math.log(q / (1 - q))


def run(rule: StaircaseRule, trials: int, rng: random.Random) -> list[int]:
    staircase, levels = Staircase(rule), []
    for _ in range(trials):
        levels.append(staircase.level)
        staircase.update(rng.random() < p_correct(staircase.level))
    return levels


def test_the_weighted_rule_converges_to_the_observers_75_percent_exposure():
    """40,000 trials after a 1,000-trial burn-in. Tolerance 5 ms, half the 10 ms grid the levels lie
    on: the rule's fixed point is exactly where p = 0.75 (p * 10 = (1 - p) * 30), the observer is
    nearly linear over the staircase's spread (sd ~ 40 ms), and the Monte-Carlo error of the mean
    is about 1.5 ms (autocorrelation time ~ 50 trials)."""
    rule = StaircaseRule()
    assert rule.target_accuracy == pytest.approx(0.75)
    levels = run(rule, 41_000, random.Random(0))[1_000:]
    assert abs(statistics.mean(levels) - exposure_at(0.75)) < 5
    assert statistics.median(levels) == pytest.approx(exposure_at(0.75), abs=10)


def test_the_papers_block_estimate_the_mode_of_150_trials_lands_near_it_too():
    """The paper's estimator: the mode of one 150-trial block starting at 500 ms. It carries the
    descent from 500 ms (about +7 ms here); over 300 blocks the mean mode's standard error is 1.3 ms,
    so 15 ms holds that bias with room and would catch a staircase aiming anywhere else."""
    rng = random.Random(1)
    modes = [converged_exposure(run(StaircaseRule(), 150, rng)) for _ in range(300)]
    assert abs(statistics.mean(modes) - exposure_at(0.75)) < 15


def test_levitts_transformed_rule_converges_to_its_own_target():
    rule = StaircaseRule("transformed", up_ms=10, down_ms=10, down_after=3)
    assert rule.target_accuracy == pytest.approx(0.5 ** (1 / 3))  # 79.4%
    levels = run(rule, 41_000, random.Random(2))[1_000:]
    assert abs(statistics.mean(levels) - exposure_at(rule.target_accuracy)) < 10


def test_the_papers_printed_rule_read_literally_aims_at_25_percent_and_runs_to_the_floor():
    literal = StaircaseRule(up_ms=10, down_ms=30)  # +10 ms after an error, -30 ms after a correct answer
    assert literal.target_accuracy == pytest.approx(0.25)
    levels = run(literal, 5_000, random.Random(3))[500:]
    assert statistics.median(levels) <= literal.min_ms + 20  # pinned near 100 ms: the observer is never below 50%


def test_levels_stay_within_bounds_and_replay_matches_the_running_staircase():
    rule = StaircaseRule()
    outcomes = [False] * 30 + [True] * 100
    levels = rule.replay(outcomes)
    assert max(levels) == 1000 and min(levels) == 100 and levels[0] == 500
    staircase = Staircase(rule)
    assert [500] + [staircase.update(c) for c in outcomes] == levels


def test_the_mode_averages_tied_levels():
    assert converged_exposure([500, 490, 490, 520, 510, 510]) == 500
    assert converged_exposure([500, 530, 520, 520, 510]) == 520


@pytest.mark.parametrize("bad", [dict(rule="3up"), dict(down_after=3), dict(up_ms=0), dict(start_ms=50)])
def test_bad_rules_are_refused(bad):
    with pytest.raises(ValueError):
        StaircaseRule(**bad)
