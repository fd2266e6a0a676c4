"""A real HTTP SMS gateway on 127.0.0.1 for tests: records every request, answers as scripted."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

HANG = -1  # a scripted reply that answers nothing until the server stops (the client times out)


@dataclass
class ReceivedRequest:
    path: str
    authorization: str
    content_type: str
    body: dict[str, Any]


class SmsGatewayServer:
    def __init__(self) -> None:
        self.received: list[ReceivedRequest] = []
        self.replies: list[int] = []  # statuses for the next requests, in order; then 200
        self.accepted_id = "gw-42"
        self._release = threading.Event()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1/sms"

    def start(self) -> None:
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                with gateway._lock:
                    gateway.received.append(
                        ReceivedRequest(
                            self.path,
                            self.headers.get("Authorization", ""),
                            self.headers.get("Content-Type", ""),
                            json.loads(raw),
                        )
                    )
                    status = gateway.replies.pop(0) if gateway.replies else 200
                if status == HANG:
                    gateway._release.wait(timeout=30)
                    return
                answer = json.dumps({"id": gateway.accepted_id} if status < 300 else {"error": "scripted"})
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer.encode())

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._release.clear()
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=10)
