"""``rag ask``, ``rag search`` and ``rag chat`` through a running server (``RAG_URL``): the
answer comes from the server, and the process imports neither torch nor litellm."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.test_server import ServerProcess, free_port, running_server

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
QUESTION = "How long did phase one of the ceasefire last?"
HEAVY = ("torch", "sentence_transformers", "litellm", "llama_cpp", "onnxruntime", "faiss")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with running_server(tmp_path_factory.mktemp("remote"), 0.0) as running:
        yield running


def rag(
    *args: str, url: str, stdin: str | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    """The installed CLI in its own process, with no index of its own: only a server can answer."""
    environment = {
        **os.environ,
        "RAG_URL": url,
        "RAG_INDEX_DIR": str(ROOT / "no-such-index"),
        "RAG_LLM_MODEL": "extractive",
        **env,
    }
    command = [sys.executable, "-X", "importtime", "-m", "rag.cli", *args]
    return subprocess.run(
        command, capture_output=True, text=True, env=environment, input=stdin, timeout=120
    )


def imported(stderr: str) -> set[str]:
    """Top-level modules named by ``-X importtime``."""
    names = re.findall(r"^import time:\s+\d+ \|\s+\d+ \|\s+(\S+)", stderr, re.M)
    return {name.split(".")[0] for name in names}


def test_ask_answers_from_the_server_without_loading_any_model(server: ServerProcess) -> None:
    result = rag("ask", QUESTION, url=server.url)

    assert result.returncode == 0, result.stderr[-2000:]
    assert "42" in result.stdout and "[1]" in result.stdout
    assert "Sources:" in result.stdout
    assert not set(HEAVY) & imported(result.stderr)
    assert "httpx" in imported(result.stderr)  # the importtime listing works


def test_ask_json_and_stream_come_from_the_server(server: ServerProcess) -> None:
    as_json = rag("ask", QUESTION, "--json", url=server.url)
    streamed = rag("ask", QUESTION, "--stream", url=server.url)

    assert as_json.returncode == 0 and streamed.returncode == 0, streamed.stderr[-2000:]
    assert '"citations"' in as_json.stdout and "42" in as_json.stdout
    assert "42" in streamed.stdout and "Sources:" in streamed.stdout


def test_search_and_chat_use_the_server_too(server: ServerProcess) -> None:
    search = rag("search", "ceasefire phase one", "-k", "2", url=server.url)
    chat = rag("chat", url=server.url, stdin=f"{QUESTION}\nand how many hostages?\n")

    assert search.returncode == 0, search.stderr[-2000:]
    assert search.stdout.startswith("[1] ") and "[2] " in search.stdout
    assert chat.returncode == 0, chat.stderr[-2000:]
    assert "42" in chat.stdout
    assert chat.stdout.count("Sources:") == 2
    assert "conversation: c-" in chat.stderr
    for result in (search, chat):
        assert not set(HEAVY) & imported(result.stderr)


def test_local_answers_in_this_process_even_with_a_server(server: ServerProcess) -> None:
    result = rag("search", "phase one", "--local", url=server.url)

    # This process has no index: the in-process path says so, the server was not asked.
    assert result.returncode == 1
    assert "no-such-index" in result.stderr


def test_without_a_server_the_cli_answers_itself() -> None:
    result = rag("search", "phase one", url=f"http://127.0.0.1:{free_port()}")

    assert result.returncode == 1
    assert "no-such-index" in result.stderr  # the in-process path ran


def test_a_server_error_is_one_line(tmp_path: Path) -> None:
    with running_server(tmp_path, 0.0, "--api-keys", "secret") as keyed:
        refused = rag("ask", QUESTION, url=keyed.url)
        allowed = rag("ask", QUESTION, url=keyed.url, RAG_API_KEYS="secret")

    lines = [line for line in refused.stderr.splitlines() if not line.startswith("import time")]
    assert refused.returncode == 1
    assert lines == [
        f"error: {keyed.url}: missing or invalid API key: send 'Authorization: Bearer KEY'"
        " (unauthorized) (--local answers in this process instead)"
    ]
    assert allowed.returncode == 0 and "42" in allowed.stdout
