"""The page in headless Chromium, under Playwright's fake clock, against a real ``serve`` process.

HYPE-time: the countdown, the exposure and the masks frame by frame, each answer in answers.jsonl
once acknowledged, the staircase the same in JavaScript as in Python, a server killed with SIGKILL
mid-study losing nothing it acknowledged, and the page's retry reaching the restarted server. HYPE-infinity: a study run to the end and scored.
No request ever leaves 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from benchbench.hype.staircase import StaircaseRule

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--no-first-run"]
FRAME = 16  # ms: the fake clock runs requestAnimationFrame every 16 ms


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.is_file():
        pytest.skip(f"browser tests need Debian's chromium at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("browser tests need Playwright for Python (pip install playwright; no browser download: it drives /usr/bin/chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield browser
        browser.close()


@pytest.fixture
def serve(study_dir):
    """Start ``bench hype serve STUDY ...`` as its own process on a free port; yields (process, url)."""
    processes = []

    def start(*options: str, port: int = 0) -> tuple[subprocess.Popen, str]:
        command = [sys.executable, "-c", "from benchbench.hype.commands import hype; hype()", "serve", str(study_dir),
                   "--port", str(port), *options]
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   env={**os.environ, "OMP_NUM_THREADS": "1"})
        processes.append(process)
        line = process.stdout.readline()
        assert " at http://127.0.0.1:" in line, process.stderr.read()
        return process, line.split(" at ")[1].split()[0].rstrip("/")

    yield start
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
        process.wait()
        process.stdout.close()
        process.stderr.close()


def open_page(browser, url):
    """A page on the study with a paused fake clock, recording every request it makes."""
    context = browser.new_context(bypass_csp=True)  # the page's CSP forbids the string eval of wait_for_function
    page = context.new_page()
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.clock.install(time=0)
    page.clock.pause_at(1000)
    page.goto(url + "/")
    page.wait_for_function("document.body.dataset.phase === 'block'")
    return page, requests


def advance_until(page, condition: str, step: int = FRAME, limit_ms: int = 20_000) -> None:
    """Run the fake clock ``step`` ms at a time (every frame in it runs) until ``condition`` (JavaScript) holds."""
    for _ in range(limit_ms // step):
        if page.evaluate(condition):
            return
        page.clock.run_for(step)
    raise AssertionError(f"{condition} still false after {limit_ms} ms; phase {page.evaluate('document.body.dataset.phase')}")


def events(page, since: int = 0) -> list[dict]:
    return page.evaluate("window.hypeLog")[since:]


def answers_in(study_dir: Path) -> list[dict]:
    records = [json.loads(line) for line in (study_dir / "answers.jsonl").read_text().splitlines()]  # every line parses
    return [r for r in records if r["type"] == "answer"]


def acks(page) -> int:
    return page.evaluate("window.hypeLog.filter(e => e.type === 'ack').length")


def check_trial_sequence(trial: list[dict], exposure: int) -> float:
    """Countdown 3-2-1 a second apart, the image, four masks 30 ms apart, the prompt; returns the measured exposure."""
    kinds = [e["type"] for e in trial]
    assert kinds == ["countdown"] * 3 + ["image"] + ["mask"] * 4 + ["masks-end", "prompt", "answer", "ack", "feedback"], kinds
    times = [e["t"] for e in trial]
    assert [e["value"] for e in trial[:3]] == [3, 2, 1]
    assert all(abs(b - a - 1000) <= FRAME for a, b in zip(times[:3], times[1:4]))  # each number, then the image, 1 s apart
    assert trial[3]["exposure"] == exposure and [e["index"] for e in trial[4:8]] == [0, 1, 2, 3]
    measured = times[4] - times[3]
    assert abs(measured - exposure) <= FRAME  # the first frame at least the exposure less half a frame later
    assert all(abs(b - a - 30) <= FRAME for a, b in zip(times[4:8], times[5:9]))
    assert trial[10]["measured"] == measured
    return measured


def test_a_hype_time_block_runs_frame_by_frame_and_a_killed_server_loses_nothing(browser, serve, study_dir):
    process, url = serve("--mode", "time", "--blocks", "1", "--trials-per-block", "6")
    page, requests = open_page(browser, url)
    images = [r for r in requests if "/images/" in r]
    assert len(set(images)) == 6  # the whole block preloaded before it starts
    assert [e["count"] for e in events(page) if e["type"] == "preloaded"] == [6]
    page.click("#start")
    rule, corrects = StaircaseRule(), []
    for trial in range(4):
        start = len(events(page))
        advance_until(page, "document.body.dataset.phase === 'answer'", step=100)
        page.keyboard.press("f" if trial % 2 else "j")
        page.wait_for_function(f"window.hypeLog.filter(e => e.type === 'ack').length === {trial + 1}")
        saved = answers_in(study_dir)
        assert len(saved) == trial + 1  # on disk once acknowledged
        ack = [e for e in events(page) if e["type"] == "ack"][-1]
        assert (saved[-1]["image"], saved[-1]["correct"], saved[-1]["trial"]) == (ack["image"], ack["correct"], trial)
        advance_until(page, "window.hypeLog.at(-1).type === 'feedback'")
        expected = rule.replay(corrects)[-1]  # the page's staircase is the Python one
        measured = check_trial_sequence(events(page, start), expected)
        assert (saved[-1]["requested_exposure_ms"], saved[-1]["measured_exposure_ms"]) == (expected, measured)
        corrects.append(ack["correct"])
    process.send_signal(signal.SIGKILL)  # mid-study: four answers acknowledged, two to go
    process.wait()
    advance_until(page, "document.body.dataset.phase === 'answer'", step=100)
    page.keyboard.press("f")
    page.wait_for_function("document.body.dataset.phase === 'offline'")
    assert acks(page) == 4
    saved = answers_in(study_dir)
    assert [a["trial"] for a in saved] == [0, 1, 2, 3]
    assert all(a["protocol"]["staircase"]["rule"] == "weighted" and a["mode"] == "time" for a in saved)
    serve("--mode", "time", "--blocks", "1", "--trials-per-block", "6", port=int(url.rsplit(":", 1)[1]))  # back up
    page.click("#retry")
    page.wait_for_function("window.hypeLog.filter(e => e.type === 'ack').length === 5")
    assert [a["trial"] for a in answers_in(study_dir)] == [0, 1, 2, 3, 4]  # the restarted server knew the evaluator
    assert all(r.startswith(url + "/") for r in requests), [r for r in requests if not r.startswith(url + "/")]
    page.context.close()


def test_a_hype_infinity_study_runs_to_the_end_and_scores(browser, serve, study_dir):
    process, url = serve("--mode", "infinity", "--trials-per-block", "4", "--vigilance", "1")
    page, requests = open_page(browser, url)
    assert page.text_content("#ratio") == "50%"
    page.click("#start")
    for trial in range(5):  # four scored trials and one vigilance trial
        advance_until(page, "document.body.dataset.phase === 'answer'", step=100)
        page.click("#fake")
        page.wait_for_function(f"window.hypeLog.filter(e => e.type === 'ack').length === {trial + 1}")
        advance_until(page, "window.hypeLog.at(-1).type === 'feedback'")
    advance_until(page, "document.body.dataset.phase === 'done'")
    assert not [e for e in events(page) if e["type"] in ("countdown", "mask")]  # untimed: no countdown, no masks
    saved = answers_in(study_dir)
    assert len(saved) == 5 and sum(a["vigilance"] for a in saved) == 1
    assert all(a["requested_exposure_ms"] is None and a["measured_exposure_ms"] >= 0 for a in saved)
    assert all(r.startswith(url + "/") for r in requests)
    page.context.close()
    process.send_signal(signal.SIGINT)
    process.wait(timeout=10)
    from benchbench.hype.commands import hype

    result = CliRunner().invoke(hype, ["score", str(study_dir), "--no-record"])
    assert result.exit_code == 0, result.output
    assert "hype_infinity: 50.0 percent" in result.output  # every image called fake: all reals wrong, all fakes right
