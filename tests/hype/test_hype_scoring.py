"""Scores as pure functions of hand-written answers files, checked against hand-computed numbers."""

from __future__ import annotations

import random

import pytest

from benchbench.hype.answers import read_log
from benchbench.hype.scoring import exclusions, score
from hype_helpers import answer, protocol


def by_metric(scores):
    return {s["metric"]: s for s in scores}


def test_hype_infinity_error_rates_by_hand():
    """A: 4 answers, one fake judged real. B: 4 answers, both reals judged fake.
    Overall 3 wrong of 8 = 37.5%; fakes 1 wrong of 4 = 25%; reals 2 of 4 = 50%."""
    text = "\n".join([
        answer("A", 0, "fake", "real"), answer("A", 1, "fake", "fake"), answer("A", 2, "real", "real"), answer("A", 3, "real", "real"),
        answer("B", 0, "fake", "fake"), answer("B", 1, "real", "fake"), answer("B", 2, "real", "fake"), answer("B", 3, "fake", "fake"),
    ])
    log = read_log(text)
    assert not log.warnings
    scores = by_metric(score(log.answers, resamples=1000))
    assert scores["hype_infinity"]["value"] == pytest.approx(37.5)
    assert scores["hype_infinity_fake_error"]["value"] == pytest.approx(25.0)
    assert scores["hype_infinity_real_error"]["value"] == pytest.approx(50.0)
    overall = scores["hype_infinity"]
    assert overall["n_evaluators"] == 2 and overall["n_excluded"] == 0 and overall["n_answers"] == 8
    assert overall["per_evaluator"] == {"A": 25.0, "B": 50.0}
    assert overall["ci95_low"] == pytest.approx(25.0) and overall["ci95_high"] == pytest.approx(50.0)  # resampling {A, B}
    assert overall["protocol"]["bootstrap_resamples"] == 1000 and overall["protocol"]["mode"] == "infinity"


def test_hype_time_is_the_mean_over_evaluators_of_the_mean_of_block_modes():
    """A: block 0 visits 500, 530, 520, 520, 510 (mode 520); block 1 500, 490, 490, 520, 510, 510 (490 and
    510 tie: 500); A = 510. B: one block 500, 500, 530 (mode 500). HYPE-time = (510 + 500) / 2 = 505."""
    lines = []
    for evaluator, blocks in {"A": [[500, 530, 520, 520, 510], [500, 490, 490, 520, 510, 510]], "B": [[500, 500, 530]]}.items():
        for b, levels in enumerate(blocks):
            lines += [answer(evaluator, t, "fake", "fake", mode="time", block=b, block_trials=len(levels), exposure=level,
                             proto=protocol("time", 6)) for t, level in enumerate(levels)]
    (result,) = score(read_log("\n".join(lines)).answers, resamples=1000)
    assert result["metric"] == "hype_time" and result["unit"] == "ms"
    assert result["per_evaluator"]["A"]["block_modes"] == [520, 500]
    assert result["per_evaluator"]["A"]["score"] == 510 and result["per_evaluator"]["B"]["score"] == 500
    assert result["value"] == pytest.approx(505)
    assert result["per_evaluator"]["A"]["display_error_ms"] == pytest.approx(-4.0)
    assert result["protocol"]["staircase"]["up_ms"] == 30 and result["protocol"]["staircase"]["rule"] == "weighted"


def test_a_malformed_line_is_reported_with_its_number_and_skipped():
    good = [answer("A", t, "fake", "fake") for t in range(4)]
    wrong_flag = answer("A", 9, "fake", "fake").replace('"correct": true', '"correct": false')
    text = "\n".join([good[0], "{this is not json", good[1], good[2], wrong_flag, good[3], '{"type": "answer"}'])
    log = read_log(text, name="answers.jsonl")
    assert [w.split(":")[0] for w in log.warnings] == ["answers.jsonl line 2", "answers.jsonl line 5", "answers.jsonl line 7"]
    assert "not JSON" in log.warnings[0] and "do not agree" in log.warnings[1]
    assert len(log.answers) == 4
    assert by_metric(score(log.answers, resamples=100))["hype_infinity"]["value"] == 0.0


def test_an_answer_that_disagrees_with_the_manifest_is_malformed():
    images = {"x": {"label": "real"}}
    log = read_log(answer("A", 0, "fake", "fake", image="x") + "\n" + answer("A", 1, "real", "real", image="y"), images)
    assert len(log.answers) == 0 and "line 1" in log.warnings[0] and "line 2" in log.warnings[1]


def test_a_perfect_observer_scores_zero():
    text = "\n".join(answer(f"e{e}", t, truth, truth, block_trials=100, proto=protocol("infinity", 100))
                     for e in range(20) for t, truth in enumerate(["real", "fake"] * 50))
    scores = by_metric(score(read_log(text).answers))
    for name in ("hype_infinity", "hype_infinity_fake_error", "hype_infinity_real_error"):
        assert scores[name]["value"] == 0 and scores[name]["ci95_low"] == 0 and scores[name]["ci95_high"] == 0
    assert scores["hype_infinity"]["protocol"]["bootstrap_resamples"] == 10_000


def test_a_coin_flipper_scores_about_50_with_an_interval_covering_it():
    rng = random.Random(0)
    text = "\n".join(answer(f"e{e}", t, truth, rng.choice(["real", "fake"]), block_trials=100, proto=protocol("infinity", 100))
                     for e in range(30) for t, truth in enumerate(["real", "fake"] * 50))
    overall = by_metric(score(read_log(text).answers))["hype_infinity"]
    assert abs(overall["value"] - 50) < 3  # 3,000 answers: standard error 0.9 points
    assert overall["ci95_low"] < 50 < overall["ci95_high"]
    assert overall["ci95_high"] - overall["ci95_low"] < 6


def test_the_bootstrap_is_seeded():
    rng = random.Random(1)
    lines = [answer(f"e{e}", t, truth, rng.choice(["real", "fake"])) for e in range(5) for t, truth in enumerate(["real", "fake"] * 2)]
    answers = read_log("\n".join(lines)).answers
    assert score(answers, seed=3) == score(answers, seed=3)
    assert score(answers, seed=3)[0]["protocol"]["bootstrap_seed"] == 3


def test_incomplete_blocks_and_vigilance_trials_do_not_count():
    proto = protocol("infinity", 2, vigilance=1, vigilance_pass=0.0)
    lines = [answer("A", 0, "fake", "fake", block_trials=3, proto=proto), answer("A", 1, "real", "fake", block_trials=3, proto=proto),
             answer("A", 2, "fake", "real", vigilance=True, block_trials=3, proto=proto),
             answer("B", 0, "fake", "real", block_trials=3, proto=proto)]  # B stopped after one of three trials
    overall = by_metric(score(read_log("\n".join(lines)).answers, resamples=100))["hype_infinity"]
    assert overall["value"] == 50.0 and overall["n_answers"] == 2  # A's two scored answers; B's block is incomplete
    assert overall["n_evaluators"] == 1 and overall["n_incomplete"] == 1 and overall["n_excluded"] == 0


def test_failed_qualification_and_vigilance_are_excluded_reported_and_includable():
    proto = protocol("infinity", 2, qualification_trials=2, vigilance=1)
    qualify = lambda e, said: [answer(e, 0, "real", said[0], phase="qualification", block_trials=2, proto=proto),  # noqa: E731
                               answer(e, 1, "fake", said[1], phase="qualification", block_trials=2, proto=proto)]
    main = lambda e, noise_said: [answer(e, 0, "real", "real", block_trials=3, proto=proto),  # noqa: E731
                                  answer(e, 1, "fake", "real", block_trials=3, proto=proto),
                                  answer(e, 2, "fake", noise_said, vigilance=True, block_trials=3, proto=proto)]
    right, all_fake = ("real", "fake"), ("fake", "fake")
    lines = qualify("good", right) + main("good", "fake") + qualify("unqualified", all_fake) + main("unqualified", "fake") \
        + qualify("inattentive", right) + main("inattentive", "real")
    answers = read_log("\n".join(lines)).answers
    assert exclusions(answers) == {"unqualified": "failed qualification", "inattentive": "failed vigilance (0 of 1 right)"}
    overall = by_metric(score(answers, resamples=100))["hype_infinity"]
    assert overall["n_evaluators"] == 1 and overall["n_excluded"] == 2 and set(overall["excluded"]) == {"unqualified", "inattentive"}
    everyone = by_metric(score(answers, resamples=100, include_unqualified=True, include_inattentive=True))["hype_infinity"]
    assert everyone["n_evaluators"] == 3 and everyone["n_excluded"] == 0 and everyone["value"] == 50.0
    assert everyone["protocol"]["include_unqualified"] is True
