"""A server at RAG_URL that misbehaves: the CLI says so in one line, never "a bug", and does
not wait minutes on a server that says nothing."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.rag.in_process import run_cli

READY = b'{"status": "ready"}'


class Misbehaving(BaseHTTPRequestHandler):
    """Ready on /readyz; then each route does what ``self.server.mode`` says."""

    def log_message(self, *args: object) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        self._reply(200, READY)

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        mode = self.server.mode  # type: ignore[attr-defined]
        if mode == "not-json":
            self._reply(200, b"<html>a proxy's error page</html>")
        elif mode == "wrong-shape":
            self._reply(200, b'{"status": "ok"}')
        elif mode == "drop":
            self.connection.shutdown(socket.SHUT_RDWR)  # no response at all
        elif mode == "hang":
            self.server.release.wait(10)  # type: ignore[attr-defined]

    def _reply(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def fake() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Misbehaving)
    server.release = threading.Event()  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.release.set()  # type: ignore[attr-defined]
    server.shutdown()
    server.server_close()


def run(
    fake: ThreadingHTTPServer,
    mode: str,
    *args: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> tuple[int, str]:
    fake.mode = mode  # type: ignore[attr-defined]
    monkeypatch.setenv("RAG_URL", f"http://127.0.0.1:{fake.server_address[1]}")
    result = run_cli(args, monkeypatch, capsys)
    return result.code, result.err.strip()


@pytest.mark.parametrize(
    ("mode", "said"),
    [
        ("not-json", "a reply that is not a JSON object; is it a `rag serve`?"),
        ("wrong-shape", "a reply that is not an answer"),
        ("drop", "the server did not answer (Server disconnected"),
        ("hang", "the server did not answer (no reply in time)"),
    ],
)
@pytest.mark.parametrize("command", [["ask", "How long?"], ["search", "phase one"]])
def test_a_misbehaving_server_is_one_line_naming_it(
    fake: ThreadingHTTPServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    mode: str,
    said: str,
    command: list[str],
) -> None:
    monkeypatch.setattr("rag.remote._ANSWER_TIMEOUT_S", 0.5)
    monkeypatch.setattr("rag.remote._SEARCH_TIMEOUT_S", 0.5)
    if command[0] == "search" and mode == "wrong-shape":
        said = "a reply without search results"

    code, err = run(fake, mode, *command, monkeypatch=monkeypatch, capsys=capsys)

    assert code == 1
    assert "\n" not in err and err.startswith("error: http://127.0.0.1:")
    assert said in err, err
    assert "a bug" not in err
    assert err.endswith("(--local answers in this process instead)")
