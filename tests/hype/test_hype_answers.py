"""The answers log: every answer checked against the evaluator's plan and the staircase, written
and fsynced before it is acknowledged, kept across a server restart, never written twice."""

from __future__ import annotations

import json

import pytest

from benchbench.errors import UsageError
from benchbench.hype.answers import AnswerBook, Rejected, read_log
from benchbench.hype.protocol import make_protocol
from benchbench.hype.staircase import Staircase
from benchbench.hype.study import load_study


def lines(study):
    return [json.loads(line) for line in study.answers_path.read_text().splitlines()]


def body(session, block, trial, said, exposure, measured=None):
    planned = session["blocks"][block]["trials"][trial]
    return {"evaluator": session["evaluator"], "phase": session["blocks"][block]["phase"], "block": session["blocks"][block]["block"],
            "trial": trial, "image": planned["image"], "answer": said, "requested_exposure_ms": exposure,
            "measured_exposure_ms": exposure if measured is None else measured, "response_ms": 500.0, "client_time_ms": 1.0}


@pytest.fixture
def book(study_dir):
    book = AnswerBook(load_study(study_dir), make_protocol("time", blocks=2, trials_per_block=6))
    yield book
    book.close()


def test_each_answer_follows_the_staircase_and_is_on_disk_when_acknowledged(book):
    session = book.new_session()
    assert [len(b["trials"]) for b in session["blocks"]] == [6, 6]
    staircase = Staircase(book.protocol.staircase)
    for trial in range(6):
        reply = book.record(body(session, 0, trial, "fake", staircase.level))
        truth = book.study.images[session["blocks"][0]["trials"][trial]["image"]]["label"]
        assert reply == {"ok": True, "correct": truth == "fake", "duplicate": False}
        last = lines(book.study)[-1]  # on disk before record() returned
        assert (last["type"], last["trial"], last["truth"], last["requested_exposure_ms"]) == ("answer", trial, truth, staircase.level)
        assert last["protocol"]["staircase"] == {"rule": "weighted", "up_ms": 30, "down_ms": 10, "down_after": 1,
                                                 "start_ms": 500, "min_ms": 100, "max_ms": 1000}
        staircase.update(reply["correct"])
    assert book.record(body(session, 1, 0, "real", 500))["ok"]  # a new block starts its own staircase at 500 ms
    assert [r["type"] for r in lines(book.study)] == ["session"] + ["answer"] * 7


@pytest.mark.parametrize(("change", "message"), [
    ({"image": "0123456789abcdef"}, "not in this study"),
    ({"evaluator": "nobody"}, "unknown evaluator"),
    ({"answer": "maybe"}, "answer must be 'real' or 'fake'"),
    ({"trial": 1}, "expected the answer to main block 0 trial 0"),
    ({"requested_exposure_ms": 490}, "requested_exposure_ms must be 500"),
    ({"measured_exposure_ms": -3}, "non-negative number"),
    ({"measured_exposure_ms": None}, "needs measured_exposure_ms"),
])
def test_bad_answers_are_rejected_and_not_logged(book, change, message):
    session = book.new_session()
    before = book.study.answers_path.read_bytes()
    with pytest.raises(Rejected, match=message):
        book.record({**body(session, 0, 0, "fake", 500), **change})
    assert book.study.answers_path.read_bytes() == before


def test_an_image_of_the_study_but_not_of_this_trial_is_rejected(book):
    session = book.new_session()
    other = session["blocks"][1]["trials"][0]["image"]
    with pytest.raises(Rejected, match="shows image"):
        book.record({**body(session, 0, 0, "fake", 500), "image": other})


def test_a_repeated_answer_is_acknowledged_once(book):
    session = book.new_session()
    first = book.record(body(session, 0, 0, "fake", 500))
    size = book.study.answers_path.stat().st_size
    assert book.record(body(session, 0, 0, "fake", 500)) == {**first, "duplicate": True}
    assert book.study.answers_path.stat().st_size == size
    with pytest.raises(Rejected, match="already answered"):
        book.record(body(session, 0, 0, "real", 500))


def test_a_restarted_server_knows_its_evaluators_and_keeps_one_protocol(study_dir):
    study = load_study(study_dir)
    protocol = make_protocol("time", blocks=1, trials_per_block=2)
    book = AnswerBook(study, protocol)
    session = book.new_session()
    correct = book.record(body(session, 0, 0, "fake", 500))["correct"]
    book.close()
    with open(study.answers_path, "a") as handle:
        handle.write('{"type": "answer", "evalu')  # a torn line: killed mid-write, never acknowledged
    again = AnswerBook(study, protocol)
    assert again.record(body(session, 0, 1, "fake", 490 if correct else 530))["ok"]
    again.close()
    log = read_log(study.answers_path.read_text(), study.images)
    assert len(log.answers) == 2 and len(log.warnings) == 1
    assert log.warnings[0].startswith("answers.jsonl line 3: not JSON")  # the torn line alone, the next answer on line 4
    with pytest.raises(UsageError, match="other settings.*trials_per_block"):
        AnswerBook(study, make_protocol("time", blocks=1, trials_per_block=4))
    AnswerBook(study, make_protocol("infinity", trials_per_block=4)).close()  # another mode is another number


def test_one_server_per_study(book):
    with pytest.raises(UsageError, match="already being served"):
        AnswerBook(book.study, book.protocol)


def test_the_qualification_outcome_is_recorded_with_the_blocks_last_answer(study_dir):
    study = load_study(study_dir)
    book = AnswerBook(study, make_protocol("infinity", trials_per_block=2, qualification_trials=4))
    session = book.new_session()
    assert [b["phase"] for b in session["blocks"]] == ["qualification", "main"]
    for trial in range(4):
        image = session["blocks"][0]["trials"][trial]["image"]
        book.record(body(session, 0, trial, study.images[image]["label"], None, measured=1000.0))
    book.close()
    outcome = lines(study)[-1]
    assert outcome["type"] == "qualification" and outcome["passed"] is True
    assert (outcome["real_correct"], outcome["fake_correct"], outcome["threshold"]) == (1.0, 1.0, 0.65)


def test_the_page_is_told_no_labels(book):
    session = book.new_session()
    trials = [t for b in session["blocks"] for t in b["trials"]]
    assert all(set(t) == {"image", "url", "fixed_exposure_ms"} for t in trials)
    assert all(t["url"] == f"/images/{t['image']}.png" for t in trials)
    planned = [t["image"] for t in trials]
    reals = sum(book.study.images[name]["label"] == "real" for name in planned)
    assert reals == len(planned) / 2 and len(set(planned)) == len(planned)  # half real, none twice
