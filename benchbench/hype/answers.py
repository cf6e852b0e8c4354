"""``answers.jsonl``: the study's log of sessions and answers, and the one place that writes it.

One JSON object per line, told apart by ``type``:

* ``session``: an evaluator id the server issued, with the protocol and the trial plan it was given;
* ``answer``: one answer, checked against that plan (which image, which trial, the exposure the
  staircase asks for), with the label looked up by the server and whether the answer was right;
* ``qualification``: the outcome of an evaluator's qualification block, when its last answer came.

Every line is written under a lock in one ``write`` and fsynced *before* the HTTP response, so an
answer the page saw acknowledged is on disk whatever happens next (a closed browser, a killed
server). A torn last line (a kill mid-write, never acknowledged) is left as it is and reported by
``score`` with its line number; the next line starts on a new one. One server at a time per study
(an ``flock``, released by the kernel even on SIGKILL).
"""

from __future__ import annotations

import fcntl
import json
import math
import os
import random
import secrets
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..errors import UsageError
from .protocol import Protocol, check_fits, fixed_exposure, plan_session
from .scoring import qualification_outcome
from .study import Study

ANSWER_KEYS = {"evaluator": str, "mode": str, "phase": str, "block": int, "trial": int, "block_trials": int, "image": str,
               "vigilance": bool, "truth": str, "answer": str, "correct": bool, "protocol": dict}
CHOICES = ("real", "fake")
SCORED_PROTOCOL = ("mode", "qualification_trials", "qualification_pass", "vigilance_pass")  # what scoring reads
BODY_KEYS = {"evaluator": str, "phase": str, "block": int, "trial": int, "image": str, "answer": str}  # what the page sends


class Rejected(ValueError):
    """An answer or request the server refuses (HTTP 400), with the reason for the page."""


@dataclass
class Log:
    """``answers.jsonl`` parsed: sessions by evaluator, answers in file order, what was skipped and why."""

    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    answers: list[dict[str, Any]] = field(default_factory=list)
    outcomes: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def read_log(text: str, images: dict[str, dict[str, Any]] | None = None, name: str = "answers.jsonl") -> Log:
    """Parse the log; a malformed line becomes a warning naming its line number and is skipped.
    With the manifest's ``images``, an answer whose image or label disagrees with it is malformed too."""
    log = Log()
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            problem = _problem(record, images)
        except json.JSONDecodeError as error:
            problem = f"not JSON ({error.msg})"
        if problem:
            log.warnings.append(f"{name} line {number}: {problem}; skipped")
        elif record["type"] == "session":
            log.sessions[record["evaluator"]] = record
        else:
            (log.answers if record["type"] == "answer" else log.outcomes).append(record)
    return log


def _problem(record: Any, images: dict[str, dict[str, Any]] | None) -> str:
    """What is wrong with one parsed line, or ''."""
    if not isinstance(record, dict) or record.get("type") not in ("session", "answer", "qualification"):
        return "not a session, answer or qualification record"
    if record["type"] == "session" and not (isinstance(record.get("protocol"), dict) and isinstance(record.get("plan"), list)):
        return "a session without its protocol and plan"
    if record["type"] != "answer":
        return "" if isinstance(record.get("evaluator"), str) else "no evaluator id"
    wrong = [k for k, kind in ANSWER_KEYS.items() if not isinstance(record.get(k), kind) or (kind is int and isinstance(record[k], bool))]
    if wrong:
        return f"answer without a valid {', '.join(wrong)}"
    missing = [k for k in SCORED_PROTOCOL if k not in record["protocol"]]
    if missing:
        return f"answer whose protocol lacks {', '.join(missing)}"
    if record["answer"] not in CHOICES or record["truth"] not in CHOICES or record["correct"] != (record["answer"] == record["truth"]):
        return "answer, truth and correct do not agree"
    exposure = record.get("requested_exposure_ms")
    if record["mode"] == "time" and not isinstance(exposure, int):
        return "HYPE-time answer without a whole requested_exposure_ms"
    if images is not None and images.get(record["image"], {}).get("label") != record["truth"]:
        return f"image {record['image']!r} is not a {record['truth']} image of this study's manifest"
    return ""


class AnswerBook:
    """The server's view of the log: sessions, answers so far, and the checked, fsynced append."""

    def __init__(self, study: Study, protocol: Protocol):
        self.study, self.protocol = study, protocol
        check_fits(protocol, len(study.names("real")), len(study.names("fake")), len(study.names("fake", "vigilance")))
        self._lock = threading.Lock()
        self._hold_study()
        try:
            self._load()
        except BaseException:
            self._lock_handle.close()  # a refused start holds nothing
            raise

    def _load(self) -> None:
        """Read what earlier servers logged, check it agrees with this protocol, open the log for appending."""
        path = self.study.answers_path
        data = path.read_bytes() if path.is_file() else b""
        log = read_log(data.decode("utf-8", errors="replace"), self.study.images)
        self.warnings = log.warnings
        self._check_protocol(log.sessions.values())
        self.sessions = {e: {**s, "protocol": self._protocol_of(s)} for e, s in log.sessions.items()}
        self.answers: dict[str, list[dict[str, Any]]] = {e: [] for e in self.sessions}
        for answer in log.answers:
            self.answers.setdefault(answer["evaluator"], []).append(answer)
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        if data and not data.endswith(b"\n"):
            self._write(["\n"])  # a torn last line stays alone on its line

    def _hold_study(self) -> None:
        self._lock_handle = open(self.study.root / ".serve.lock", "a+", encoding="utf-8")
        try:
            fcntl.flock(self._lock_handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock_handle.close()
            raise UsageError(f"{self.study.root} is already being served by another `bench hype serve`; stop it first") from None
        self._lock_handle.truncate(0)
        self._lock_handle.write(f"pid {os.getpid()}")
        self._lock_handle.flush()

    def _check_protocol(self, sessions: Iterable[dict[str, Any]]) -> None:
        """One protocol per mode and study: numbers from two protocols must not be averaged."""
        mine = self.protocol.to_dict()
        for session in sessions:
            theirs = session["protocol"]
            if theirs.get("mode") == mine["mode"] and theirs != mine:
                changed = sorted(k for k in mine if mine[k] != theirs.get(k))
                raise UsageError(f"{self.study.answers_path}: this study was served in HYPE-{mine['mode']} with other settings "
                                 f"({', '.join(changed)}: {', '.join(str(theirs.get(k)) for k in changed)}); one protocol per "
                                 "mode and study: serve it as before, or prepare a new study")

    def _protocol_of(self, session: dict[str, Any]) -> Protocol:
        try:
            return Protocol.from_dict(session["protocol"])
        except (TypeError, ValueError) as error:
            raise UsageError(f"{self.study.answers_path}: session {session['evaluator']} has a protocol this benchbench "
                             f"cannot read ({error})") from None

    def close(self) -> None:
        os.close(self._fd)
        self._lock_handle.close()

    def _write(self, lines: list[str]) -> None:
        blob = "".join(lines).encode()
        written = 0
        while written < len(blob):
            written += os.write(self._fd, blob[written:])
        os.fsync(self._fd)

    def new_session(self) -> dict[str, Any]:
        """Issue an evaluator id and a trial plan, log them, and return what the page needs (no labels)."""
        study = self.study
        plan = plan_session(self.protocol, study.names("real"), study.names("fake"), study.names("fake", "vigilance"),
                            random.Random(secrets.randbits(64)))
        evaluator = secrets.token_hex(8)
        session = {"type": "session", "study_id": study.study_id, "evaluator": evaluator, "protocol": self.protocol.to_dict(),
                   "plan": plan, "server_time": _now()}
        with self._lock:
            self._write([json.dumps(session, sort_keys=True) + "\n"])
            self.sessions[evaluator] = {**session, "protocol": self.protocol}
            self.answers[evaluator] = []
        return {"evaluator": evaluator, "protocol": session["protocol"], "image_size": study.info["image_size"],
                "blocks": [_page_block(self.protocol, block) for block in plan]}

    def record(self, body: Any) -> dict[str, Any]:
        """Check one answer from the page, append it (fsynced) and say whether it was right.
        The same answer sent twice (a retry after a lost response) is acknowledged once and not logged again."""
        if not isinstance(body, dict):
            raise Rejected("expected a JSON object")
        wrong = [k for k, kind in BODY_KEYS.items() if not isinstance(body.get(k), kind) or isinstance(body.get(k), bool)]
        if wrong:
            raise Rejected(f"an answer needs {', '.join(f'{k} ({BODY_KEYS[k].__name__})' for k in wrong)}")
        session = self.sessions.get(body["evaluator"])
        if session is None:
            raise Rejected(f"unknown evaluator {body.get('evaluator')!r}; start a session at /api/session")
        if body.get("image") not in self.study.images:
            raise Rejected(f"image {body.get('image')!r} is not in this study")
        if body.get("answer") not in CHOICES:
            raise Rejected(f"answer must be 'real' or 'fake', got {body.get('answer')!r}")
        with self._lock:
            done = self.answers[body["evaluator"]]
            previous = next((a for a in done if (a["phase"], a["block"], a["trial"]) == _position(body)), None)
            if previous is not None:
                return _repeat(previous, body)
            answer = self._checked(session, done, body)
            lines = [answer]
            done.append(answer)
            outcome = self._qualification(session, done, answer)
            lines += [outcome] if outcome else []
            self._write([json.dumps(line, sort_keys=True) + "\n" for line in lines])
        return {"ok": True, "correct": answer["correct"], "duplicate": False}

    def _checked(self, session: dict[str, Any], done: list[dict[str, Any]], body: dict[str, Any]) -> dict[str, Any]:
        protocol: Protocol = session["protocol"]
        trials = [(b["phase"], b["block"], i, t, len(b["trials"])) for b in session["plan"] for i, t in enumerate(b["trials"])]
        if len(done) >= len(trials):
            raise Rejected("this session is complete")
        phase, block, index, trial, block_trials = trials[len(done)]
        if _position(body) != (phase, block, index):
            raise Rejected(f"expected the answer to {phase} block {block} trial {index}, got {_position(body)}")
        if body["image"] != trial["image"]:
            raise Rejected(f"{phase} block {block} trial {index} shows image {trial['image']!r}, not {body['image']!r}")
        expected = self._exposure(protocol, phase, trial, [a for a in done if (a["phase"], a["block"]) == (phase, block)])
        if body.get("requested_exposure_ms") != expected or isinstance(body.get("requested_exposure_ms"), bool):
            raise Rejected(f"requested_exposure_ms must be {expected} (the {protocol.mode} protocol), "
                           f"got {body.get('requested_exposure_ms')!r}")
        measured, response, client = (_number(body, k) for k in ("measured_exposure_ms", "response_ms", "client_time_ms"))
        if protocol.mode == "time" and measured is None:
            raise Rejected("a HYPE-time answer needs measured_exposure_ms")
        truth = self.study.images[trial["image"]]["label"]
        return {"type": "answer", "study_id": self.study.study_id, "evaluator": body["evaluator"], "mode": protocol.mode,
                "phase": phase, "block": block, "trial": index, "block_trials": block_trials,
                "image": trial["image"], "vigilance": trial["vigilance"], "truth": truth, "answer": body["answer"],
                "correct": body["answer"] == truth, "requested_exposure_ms": expected, "measured_exposure_ms": measured,
                "response_ms": response, "client_time_ms": client, "protocol": protocol.to_dict(), "server_time": _now()}

    @staticmethod
    def _exposure(protocol: Protocol, phase: str, trial: dict[str, Any], block_answers: list[dict[str, Any]]) -> int | None:
        """What the trial's exposure must be: fixed, untimed (None), or where the staircase stands."""
        fixed = fixed_exposure(protocol, phase, trial["vigilance"])
        if fixed is not None or protocol.staircase is None:
            return fixed
        return protocol.staircase.replay(a["correct"] for a in block_answers if not a["vigilance"])[-1]

    def _qualification(self, session: dict[str, Any], done: list[dict[str, Any]], answer: dict[str, Any]) -> dict[str, Any] | None:
        """The outcome line, written with the qualification block's last answer."""
        if answer["phase"] != "qualification" or answer["trial"] != answer["block_trials"] - 1:
            return None
        protocol: Protocol = session["protocol"]
        outcome = qualification_outcome([a for a in done if a["phase"] == "qualification"], protocol.qualification_pass,
                                        protocol.qualification_trials)
        return {"type": "qualification", "study_id": self.study.study_id, "evaluator": answer["evaluator"], **outcome,
                "server_time": _now()}


def _page_block(protocol: Protocol, block: dict[str, Any]) -> dict[str, Any]:
    """A block as the page sees it: image URLs (opaque names) and which exposures are fixed."""
    return {"phase": block["phase"], "block": block["block"],
            "trials": [{"image": t["image"], "url": f"/images/{t['image']}.png",
                        "fixed_exposure_ms": fixed_exposure(protocol, block["phase"], t["vigilance"])} for t in block["trials"]]}


def _position(body: dict[str, Any]) -> tuple[Any, Any, Any]:
    return body.get("phase"), body.get("block"), body.get("trial")


def _repeat(previous: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    if (previous["image"], previous["answer"]) != (body["image"], body["answer"]):
        raise Rejected(f"{previous['phase']} block {previous['block']} trial {previous['trial']} was already answered")
    return {"ok": True, "correct": previous["correct"], "duplicate": True}


def _number(body: dict[str, Any], key: str) -> float | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise Rejected(f"{key} must be a non-negative number of milliseconds, got {value!r}")
    return float(value)


def _now() -> str:
    """UTC with milliseconds, e.g. 2019-05-01T12:00:00.250Z."""
    now = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now * 1000) % 1000:03d}Z"
