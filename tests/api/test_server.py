"""A real uvicorn process on 127.0.0.1: streaming over the wire, and search while generating."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.api.conftest import PHASE_ONE_DOC, ZEBRA_TEXT

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
TOKEN_DELAY_S = 0.05


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_ok(
    url: str, process: subprocess.Popen[str], seconds: float, name: str = "server"
) -> None:
    """Poll ``url`` until it answers 200; fail if ``process`` exits or ``seconds`` pass."""
    deadline = time.monotonic() + seconds
    while True:
        if process.poll() is not None:
            raise AssertionError(f"{name} exited: {process.stderr.read()}")  # type: ignore[union-attr]
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"{name} did not answer {url} in {seconds:.0f} s")
        time.sleep(0.1)


@contextmanager
def running_server(
    root: Path, token_delay: float = TOKEN_DELAY_S, *options: str
) -> Iterator[ServerProcess]:
    """The app with a fake LLM that writes a word every ``token_delay`` s, served by uvicorn
    (``options``: more ``serve_fake`` flags)."""
    port = free_port()
    command = [sys.executable, "-m", "tests.api.serve_fake", "--root", str(root)]
    command += ["--port", str(port), "--token-delay", str(token_delay), *options]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # as `rag serve` sets it
    process = subprocess.Popen(command, cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ok(f"{url}/readyz", process, 60)
        yield ServerProcess(url, process)
    finally:
        if process.poll() is None:
            process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


@dataclass
class ServerProcess:
    url: str
    process: subprocess.Popen[str]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_server(tmp_path_factory.mktemp("server")) as running:
        yield running.url


def read_events(response: httpx.Response) -> list[tuple[str, dict, float]]:
    """(event, data, seconds since the request) for each SSE event, as it arrives."""
    started = time.monotonic()
    events: list[tuple[str, dict, float]] = []
    fields: dict[str, str] = {}
    for line in response.iter_lines():
        if not line:
            if fields:
                events.append(
                    (fields["event"], json.loads(fields["data"]), time.monotonic() - started)
                )
            fields = {}
            continue
        key, _, value = line.partition(": ")
        fields[key] = value
    return events


def test_tokens_stream_as_they_are_written_then_one_done_event(server: str) -> None:
    body = {"question": "How long did phase one last?", "stream": True}
    with httpx.stream("POST", f"{server}/v1/ask", json=body, timeout=30) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = read_events(response)

    kinds = [kind for kind, _, _ in events]
    assert kinds[-1] == "done" and kinds.count("done") == 1
    tokens = [(data["text"], at) for kind, data, at in events if kind == "token"]
    assert len(tokens) >= 3
    # Tokens arrive one by one, not all at the end.
    assert events[-1][2] - tokens[0][1] >= TOKEN_DELAY_S * (len(tokens) - 2)
    done = events[-1][1]
    assert done["citations"] and done["answer"]
    assert "".join(text for text, _ in tokens).strip()


def test_search_stays_fast_while_an_answer_is_generated(server: str) -> None:
    answered: list[float] = []

    def ask() -> None:
        started = time.monotonic()
        body = {"question": "How long did phase one last?"}
        assert httpx.post(f"{server}/v1/ask", json=body, timeout=30).status_code == 200
        answered.append(time.monotonic() - started)

    asker = threading.Thread(target=ask)
    asker.start()
    time.sleep(0.2)  # the answer is being written now
    latencies = []
    with httpx.Client(base_url=server, timeout=10) as client:
        for _ in range(20):
            started = time.monotonic()
            assert client.post("/v1/search", json={"query": "hostages"}).status_code == 200
            latencies.append(time.monotonic() - started)
    still_generating = asker.is_alive()
    asker.join(30)

    assert still_generating, "the fake answer should take longer than the searches"
    assert max(latencies) < 0.25
    assert answered and answered[0] > 0.5


def test_concurrent_asks_all_get_answers(server: str) -> None:
    results: list[int] = []

    def ask(n: int) -> None:
        body = {"question": f"How long did phase one last? ({n})"}
        results.append(httpx.post(f"{server}/v1/ask", json=body, timeout=60).status_code)

    threads = [threading.Thread(target=ask, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert results == [200, 200, 200, 200]


def test_a_client_that_goes_away_mid_stream_does_not_break_the_server(server: str) -> None:
    body = {"question": "How long did phase one last?", "stream": True}
    with httpx.stream("POST", f"{server}/v1/ask", json=body, timeout=30) as response:
        next(response.iter_lines())  # read a little, then hang up

    assert httpx.get(f"{server}/healthz", timeout=5).status_code == 200
    again = httpx.post(f"{server}/v1/ask", json={"question": "Who is the envoy?"}, timeout=30)
    assert again.status_code == 200


def test_acknowledged_writes_survive_a_kill(tmp_path: Path) -> None:
    doc = {"doc_id": "zebra", "text": ZEBRA_TEXT}
    with running_server(tmp_path) as running:
        added = httpx.post(f"{running.url}/v1/documents", json=doc, timeout=30)
        deleted = httpx.delete(f"{running.url}/v1/documents/{PHASE_ONE_DOC}", timeout=30)
        running.process.send_signal(signal.SIGKILL)  # no shutdown, no flush
        running.process.wait(10)
    assert added.status_code == 201
    assert deleted.status_code == 204

    with running_server(tmp_path) as running:
        listed = httpx.get(f"{running.url}/v1/documents", timeout=10).json()
    doc_ids = {d["doc_id"] for d in listed["documents"]}
    assert "zebra" in doc_ids
    assert PHASE_ONE_DOC not in doc_ids


def test_an_acknowledged_job_survives_a_kill(tmp_path: Path) -> None:
    text = "Harbour report\n\n" + "Ships crowd the harbour as the port expands. " * 400
    with running_server(tmp_path, TOKEN_DELAY_S, "--job-threshold", "1000") as running:
        accepted = httpx.post(
            f"{running.url}/v1/documents", json={"doc_id": "harbour", "text": text}, timeout=30
        )
        running.process.send_signal(signal.SIGKILL)  # at once: the job may not have started
        running.process.wait(10)
    assert accepted.status_code == 202
    job_id = accepted.json()["job_id"]

    with running_server(tmp_path, TOKEN_DELAY_S, "--job-threshold", "1000") as running:
        deadline = time.monotonic() + 60
        while True:
            job = httpx.get(f"{running.url}/v1/jobs/{job_id}", timeout=10).json()
            if job["status"] in ("done", "failed") or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        listed = httpx.get(f"{running.url}/v1/documents", timeout=10).json()
    assert job["status"] == "done", job
    assert "harbour" in {d["doc_id"] for d in listed["documents"]}


def test_concurrent_writes_all_land_and_readers_never_fail(server: str) -> None:
    statuses: list[int] = []
    reader_errors: list[int] = []
    writing = threading.Event()

    def add(n: int) -> None:
        doc = {"doc_id": f"note-{n}", "text": f"Note {n}\n\n{ZEBRA_TEXT} Note number {n}."}
        statuses.append(httpx.post(f"{server}/v1/documents", json=doc, timeout=60).status_code)

    def read() -> None:
        with httpx.Client(base_url=server, timeout=30) as client:
            while writing.is_set():
                response = client.post("/v1/search", json={"query": "zebra crossings"})
                if response.status_code != 200:
                    reader_errors.append(response.status_code)

    writing.set()
    reader = threading.Thread(target=read)
    reader.start()
    writers = [threading.Thread(target=add, args=(n,)) for n in range(5)]
    for thread in writers:
        thread.start()
    for thread in writers:
        thread.join(60)
    writing.clear()
    reader.join(30)

    assert statuses == [201] * 5
    assert reader_errors == []
    listed = httpx.get(f"{server}/v1/documents", timeout=10).json()
    assert {f"note-{n}" for n in range(5)} <= {d["doc_id"] for d in listed["documents"]}
