"""A model served elsewhere, as users run one: llama-cpp-python's own OpenAI-compatible server
(``python -m llama_cpp.server``) on 127.0.0.1 with the bundled GGUF, and the service pointed at
it with ``RAG_LLM_MODEL=openai/<name>`` and ``RAG_LLM_API_BASE``: an answer, a streamed answer,
and the degraded answer from the passages when that server is stopped mid-answer."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from rag.local_llm import ensure_local_model
from rag.settings import Settings
from tests.api.conftest import api_settings
from tests.api.test_server import free_port, wait_until_ok
from tests.fakes import HashEmbedder

pytestmark = [pytest.mark.llm, pytest.mark.slow]

QUESTION = "How long did phase one of the ceasefire last?"
ALIAS = "qwen-served"


class ModelServer:
    def __init__(self, gguf: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/v1"
        command = [
            sys.executable, "-m", "llama_cpp.server", "--model", str(gguf),
            "--model_alias", ALIAS, "--host", "127.0.0.1", "--port", str(self.port),
            "--n_ctx", "2048", "--n_threads", "2", "--verbose", "False",
        ]  # fmt: skip
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )

    def wait_ready(self, seconds: float = 120) -> None:
        wait_until_ok(f"{self.url}/models", self.process, seconds, "llama_cpp.server")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(10)


@pytest.fixture
def model_server() -> Iterator[ModelServer]:
    gguf = ensure_local_model(Settings(_env_file=None))  # type: ignore[call-arg]
    server = ModelServer(gguf)
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


LLM_TIMEOUT_S = 60.0


@pytest.fixture
def client(
    model_server: ModelServer, tmp_path: Path, seed_index: Path, request: pytest.FixtureRequest
) -> Iterator[TestClient]:
    """The app as `rag serve` loads it, with the LLM settings a user of a served model sets."""
    settings = api_settings(
        tmp_path,
        llm_model=f"openai/{ALIAS}",
        llm_api_base=model_server.url,
        llm_api_key="not-needed-locally",
        answer_max_tokens=24,  # a short answer: the test stays fast on 2 cores
        llm_timeout_s=getattr(request, "param", LLM_TIMEOUT_S),
        request_timeout_s=90.0,
    )
    shutil.copytree(seed_index, settings.index_dir)
    with TestClient(create_app(settings, embedder=HashEmbedder())) as http:
        deadline = time.monotonic() + 60
        while http.get("/readyz").status_code != 200:
            assert time.monotonic() < deadline, http.get("/readyz").text
            time.sleep(0.1)
        yield http


def sse(lines: Iterator[str]) -> Iterator[tuple[str, dict[str, object]]]:
    event = ""
    for line in lines:
        if line.startswith("event: "):
            event = line.removeprefix("event: ")
        elif line.startswith("data: "):
            yield event, json.loads(line.removeprefix("data: "))


def test_answers_and_streams_through_the_served_model(client: TestClient) -> None:
    answered = client.post("/v1/ask", json={"question": QUESTION})
    with client.stream("POST", "/v1/ask", json={"question": QUESTION, "stream": True}) as stream:
        events = list(sse(stream.iter_lines()))

    body = answered.json()
    assert answered.status_code == 200, body
    assert body["model"] == f"openai/{ALIAS}"
    assert body["degraded"] is False
    assert "42" in body["answer"] and body["citations"]
    kinds = [kind for kind, _ in events]
    assert kinds.count("token") >= 2 and kinds[-1] == "done"
    done = events[-1][1]
    assert done["degraded"] is False and "42" in str(done["answer"])


@pytest.mark.parametrize("client", [LLM_TIMEOUT_S], indirect=True)
def test_a_model_server_killed_mid_answer_leaves_the_passages_answer(
    client: TestClient, model_server: ModelServer
) -> None:
    with client.stream("POST", "/v1/ask", json={"question": QUESTION, "stream": True}) as stream:
        events = sse(stream.iter_lines())
        first = next(events)
        model_server.stop()  # the model was writing: it is gone now
        rest = list(events)

    assert first[0] == "token"
    assert_degraded(rest[-1])


@pytest.mark.parametrize("client", [3.0], indirect=True)
def test_a_model_server_frozen_mid_answer_misses_the_deadline_and_the_passages_answer(
    client: TestClient, model_server: ModelServer
) -> None:
    started = time.monotonic()
    with client.stream("POST", "/v1/ask", json={"question": QUESTION, "stream": True}) as stream:
        events = sse(stream.iter_lines())
        first = next(events)
        model_server.process.send_signal(signal.SIGSTOP)  # alive, connected, silent
        rest = list(events)
    took = time.monotonic() - started

    assert first[0] == "token"
    assert_degraded(rest[-1])
    assert took < 30  # RAG_LLM_TIMEOUT_S (3 s here), not the request's 90 s


def assert_degraded(event: tuple[str, dict[str, object]]) -> None:
    kind, done = event
    assert kind == "done"
    assert done["degraded"] is True
    citations = done["citations"]
    assert isinstance(citations, list) and citations
    assert "[1]" in str(done["answer"])
