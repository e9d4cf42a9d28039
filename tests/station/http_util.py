"""A real HTTP server on 127.0.0.1 that records requests (webhook and model download tests)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Recorder:
    statuses: list[int] = field(default_factory=list)  # answers to give, in order; then 200
    requests: list[tuple[str, str, dict[str, str], bytes]] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)  # GET path -> body
    received: threading.Event = field(default_factory=threading.Event)


@contextmanager
def recording_server(recorder: Recorder) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def _answer(self, body: bytes = b"ok") -> None:
            status = recorder.statuses.pop(0) if recorder.statuses else 200
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            recorder.requests.append(("POST", self.path, dict(self.headers.items()), body))
            self._answer()
            recorder.received.set()

        def do_GET(self) -> None:
            recorder.requests.append(("GET", self.path, dict(self.headers.items()), b""))
            if self.path in recorder.files:
                self._answer(recorder.files[self.path])
            else:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
