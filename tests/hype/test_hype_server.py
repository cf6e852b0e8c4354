"""The HTTP server: the page and the study's images, never the manifest; 400 for what it refuses."""

from __future__ import annotations

import http.client
import json
import threading

import pytest

from benchbench.hype.answers import AnswerBook
from benchbench.hype.protocol import make_protocol
from benchbench.hype.server import make_server
from benchbench.hype.study import load_study


@pytest.fixture
def served(study_dir):
    """A server on a free port of 127.0.0.1, serving in a thread."""
    study = load_study(study_dir)
    server = make_server(AnswerBook(study, make_protocol("infinity", trials_per_block=4)), port=0)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    server.book.close()


def request(server, method, path, body=None):
    connection = http.client.HTTPConnection("127.0.0.1", server.server_port, timeout=10)
    data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    connection.request(method, path, body=data, headers={"Content-Type": "application/json"})
    response = connection.getresponse()
    payload = response.read()
    connection.close()
    return response.status, dict(response.getheaders()), payload


def test_it_listens_on_127_0_0_1_by_default(served):
    assert served.server_address[0] == "127.0.0.1"


def test_the_page_and_study_images_are_served_and_nothing_else(served):
    study = served.book.study
    status, headers, page = request(served, "GET", "/")
    assert status == 200 and b'<script src="/hype.js">' in page and "default-src 'self'" in headers["Content-Security-Policy"]
    assert request(served, "GET", "/hype.js")[0] == request(served, "GET", "/hype.css")[0] == 200
    name = next(iter(study.images))
    status, headers, image = request(served, "GET", f"/images/{name}.png")
    assert status == 200 and headers["Content-Type"] == "image/png" and image == study.image_path(name).read_bytes()
    for path in ["/manifest.json", "/study.json", "/answers.jsonl", "/images/../manifest.json", "/images/%2e%2e/manifest.json",
                 "/images/0123456789abcdef.png", f"/images/{name}", "/images/", "/../manifest.json"]:
        assert request(served, "GET", path)[0] == 404, path


def test_an_answer_for_an_image_not_in_the_study_gets_400_and_is_not_appended(served):
    status, _, data = request(served, "POST", "/api/session", {})
    session = json.loads(data)
    assert status == 200 and len(session["evaluator"]) == 16
    before = served.book.study.answers_path.read_bytes()
    answer = {"evaluator": session["evaluator"], "phase": "main", "block": 0, "trial": 0, "image": "0123456789abcdef",
              "answer": "fake", "requested_exposure_ms": None, "measured_exposure_ms": 800.0}
    status, _, data = request(served, "POST", "/api/answer", answer)
    assert status == 400 and "not in this study" in json.loads(data)["error"]
    assert served.book.study.answers_path.read_bytes() == before
    answer["image"] = session["blocks"][0]["trials"][0]["image"]
    status, _, data = request(served, "POST", "/api/answer", answer)
    assert status == 200 and json.loads(data)["ok"] is True
    assert served.book.study.answers_path.read_bytes().count(b"\n") == before.count(b"\n") + 1


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b'"text"', b'{"evaluator": "nobody", "image": "x"}',
                                  b'{"evaluator": [1], "image": {}}', b"\xff\xfe"])
def test_malformed_bodies_and_unknown_evaluators_get_400(served, body):
    before = served.book.study.answers_path.read_bytes()
    status, _, data = request(served, "POST", "/api/answer", body)
    assert status == 400 and json.loads(data)["error"]
    assert served.book.study.answers_path.read_bytes() == before


def test_unknown_routes_and_oversized_bodies(served):
    assert request(served, "POST", "/api/other", {})[0] == 404
    assert request(served, "POST", "/api/answer", b"x" * (65 * 1024))[0] == 400
