"""``bench hype serve``: the evaluation page, the study's images and the answer API, over HTTP.

The server is the standard library's :class:`http.server.ThreadingHTTPServer`: no dependency to
install on a lab machine, and a thread per request, so several evaluators (and one answer's fsync)
never wait on each other; the order of the log is kept by :class:`AnswerBook`'s lock. It listens on
127.0.0.1 unless told otherwise (``--host 0.0.0.0`` to let other machines of a lab reach it).

Routes (nothing else is served, in particular never the manifest)::

    GET  /  /hype.js  /hype.css   the page, from benchbench/hype/page/
    GET  /images/<name>.png        an image of the study, only names the manifest lists
    POST /api/session              a fresh evaluator id and their trial plan (no labels)
    POST /api/answer               one answer: checked, fsynced, then {"correct": ...}; else 400

Every response forbids the page anything from elsewhere (``Content-Security-Policy: default-src
'self'``), so a study run offline behaves exactly as one run online.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..errors import UsageError
from .answers import AnswerBook, Rejected

PAGE = Path(__file__).parent / "page"
STATIC = {"/": ("index.html", "text/html; charset=utf-8"), "/index.html": ("index.html", "text/html; charset=utf-8"),
          "/hype.js": ("hype.js", "text/javascript; charset=utf-8"), "/hype.css": ("hype.css", "text/css; charset=utf-8")}
MAX_BODY = 64 * 1024  # an answer is a few hundred bytes
HEADERS = {"Content-Security-Policy": "default-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'",
           "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}


class HypeServer(ThreadingHTTPServer):
    """One study's server; ``book`` checks and stores what the pages send."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], book: AnswerBook):
        super().__init__(address, Handler)
        self.book = book


class Handler(BaseHTTPRequestHandler):
    server: HypeServer
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
        path = urlsplit(self.path).path
        book = self.server.book
        if path in STATIC:
            name, kind = STATIC[path]
            self._send(200, (PAGE / name).read_bytes(), kind)
        elif path.startswith("/images/") and path.endswith(".png") and path[len("/images/"):-len(".png")] in book.study.images:
            self._send(200, book.study.image_path(path[len("/images/"):-len(".png")]).read_bytes(), "image/png")
        else:
            self._json(404, {"error": f"no such page: {path}"})

    def do_POST(self) -> None:  # noqa: N802
        book = self.server.book
        routes: dict[str, Callable[[Any], dict[str, Any]]] = {"/api/session": lambda body: book.new_session(),
                                                              "/api/answer": book.record}
        route = routes.get(urlsplit(self.path).path)
        if route is None:
            self._json(404, {"error": f"no such API: {self.path}"})
            return
        try:
            self._json(200, route(self._body()))
        except Rejected as error:
            self._json(400, {"error": str(error)})

    def _body(self) -> Any:
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            raise Rejected(f"Content-Length {self.headers.get('Content-Length')!r} is not a number") from None
        if not 0 <= length <= MAX_BODY:
            raise Rejected(f"a body of {length} bytes; at most {MAX_BODY}")
        data = self.rfile.read(length)
        try:
            return json.loads(data) if data else {}
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise Rejected(f"the body is not JSON ({error})") from None

    def _json(self, status: int, data: dict[str, Any]) -> None:
        self._send(status, json.dumps(data).encode(), "application/json")

    def _send(self, status: int, body: bytes, kind: str) -> None:
        self.send_response(status)
        for key, value in {**HEADERS, "Content-Type": kind, "Content-Length": str(len(body))}.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def log_request(self, code: Any = "-", size: Any = "-") -> None:
        """Quiet for what works; refusals go to stderr for the person running the study."""
        if str(code).isdigit() and int(code) >= 400:
            super().log_request(code, size)


def make_server(book: AnswerBook, host: str = "127.0.0.1", port: int = 8000) -> HypeServer:
    """A server bound to ``host:port`` (0: any free port), not yet serving."""
    try:
        return HypeServer((host, port), book)
    except OSError as error:
        book.close()
        raise UsageError(f"cannot listen on {host}:{port}: {error.strerror}") from None
