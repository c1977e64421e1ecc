"""The MCP tools with the SDK's own client: over streamable HTTP at ``/mcp`` of a real server
(with and without API keys), and over stdio from ``rag mcp`` on an index of the seed articles."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import anyio
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp_types import CallToolResult, TextContent

from index.embedder import Embedder
from rag.components import open_writer
from rag.settings import Settings
from tests.api.conftest import PHASE_ONE_DOC, SEEDS
from tests.api.test_server import running_server

pytestmark = pytest.mark.slow

QUESTION = "How long did phase one of the ceasefire last?"
API_KEY = "mcp-test-key"


def text_of(result: CallToolResult) -> str:
    return "\n".join(part.text for part in result.content if isinstance(part, TextContent))


@dataclass
class Session:
    tools: list[str]
    ask: CallToolResult
    search: CallToolResult
    resources: list[str]
    document: str
    bad_top_k: CallToolResult


async def use_tools(client: Client) -> Session:
    """What an agent does: list the tools, call both, read a document."""
    tools = [tool.name for tool in (await client.list_tools()).tools]
    ask = await client.call_tool("ask_news", {"question": QUESTION})
    search = await client.call_tool("search_news", {"query": "ceasefire phase one", "top_k": 3})
    resources = [str(r.uri) for r in (await client.list_resources()).resources]
    read = await client.read_resource(f"news://documents/{PHASE_ONE_DOC}")
    document = getattr(read.contents[0], "text", "")
    bad_top_k = await client.call_tool("search_news", {"query": "ceasefire", "top_k": 0})
    return Session(tools, ask, search, resources, document, bad_top_k)


def check(session: Session) -> None:
    assert {"ask_news", "search_news"} <= set(session.tools)

    assert not session.ask.is_error, text_of(session.ask)
    assert "42" in text_of(session.ask)
    answer = session.ask.structured_content or {}
    assert "42" in answer["answer"]
    assert answer["citations"] and answer["citations"][0]["n"] == 1
    assert "[1]" in answer["answer"]

    results = (session.search.structured_content or {})["results"]
    assert 1 <= len(results) <= 3
    assert all(r["text"] in text_of(session.search) for r in results)

    assert "news://documents" in session.resources
    assert "42-day first phase" in session.document
    assert session.bad_top_k.is_error


@pytest.fixture(scope="module", params=[None, API_KEY], ids=["open", "api-keys"])
def server_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str | None]]:
    options = ("--api-keys", request.param) if request.param else ()
    with running_server(tmp_path_factory.mktemp("mcp"), 0.0, *options) as server:
        yield server.url, request.param


def test_both_tools_over_streamable_http(server_url: tuple[str, str | None]) -> None:
    url, key = server_url

    async def run() -> Session:
        headers = {"Authorization": f"Bearer {key}"} if key else None
        async with create_mcp_http_client(headers=headers) as http:
            transport = streamable_http_client(f"{url}/mcp", http_client=http)
            async with Client(transport) as client:
                return await use_tools(client)

    check(anyio.run(run))


def test_mcp_over_http_needs_the_key_when_keys_are_set(server_url: tuple[str, str | None]) -> None:
    import httpx

    url, key = server_url
    initialize = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
    response = httpx.post(f"{url}/mcp", json=initialize, timeout=10)
    if key:
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "unauthorized"
    else:
        assert response.status_code != 401


@pytest.fixture(scope="module")
def real_index(tmp_path_factory: pytest.TempPathFactory, real_embedder: Embedder) -> Path:
    """The seed articles indexed with the bundled embedder, as `rag index build` does."""
    root = tmp_path_factory.mktemp("mcp-stdio")
    settings = Settings(_env_file=None, index_dir=root / "index")  # type: ignore[call-arg]
    open_writer(settings, real_embedder).build([SEEDS])
    return root / "index"


def test_both_tools_over_stdio_from_rag_mcp(real_index: Path, tmp_path: Path) -> None:
    # The extractive answerer (the best cited sentence, no LLM to load in the subprocess),
    # with its bar lowered so the sentence answers rather than abstains.
    env = {
        "RAG_INDEX_DIR": str(real_index),
        "RAG_STATE_DIR": str(tmp_path / "state"),
        "RAG_LLM_MODEL": "extractive",
        "RAG_PASSAGE_MIN_SCORE": "0.5",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "OMP_NUM_THREADS": "1",
    }
    rag = Path(sys.executable).parent / "rag"
    params = StdioServerParameters(command=str(rag), args=["mcp"], env=env, cwd=tmp_path)

    async def run() -> Session:
        async with Client(params, read_timeout_seconds=120) as client:
            return await use_tools(client)

    session = anyio.run(run)
    check(session)
    assert json.loads(json.dumps(session.ask.structured_content))["model"] == "extractive"


def test_without_an_index_tools_and_resources_say_how_to_build_one(tmp_path: Path) -> None:
    env = {
        "RAG_INDEX_DIR": str(tmp_path / "no-index"),
        "RAG_STATE_DIR": str(tmp_path / "state"),
        "RAG_LLM_MODEL": "extractive",
        "HF_HUB_OFFLINE": "1",
        "OMP_NUM_THREADS": "1",
    }
    rag = Path(sys.executable).parent / "rag"
    params = StdioServerParameters(command=str(rag), args=["mcp"], env=env, cwd=tmp_path)

    async def run() -> tuple[CallToolResult, list[str]]:
        said: list[str] = []
        async with Client(params, read_timeout_seconds=120) as client:
            search = await client.call_tool("search_news", {"query": "ceasefire"})
            for uri in ("news://documents", f"news://documents/{PHASE_ONE_DOC}"):
                try:
                    await client.read_resource(uri)
                except Exception as exc:  # the SDK's error for a resource that failed
                    said.append(str(exc))
        return search, said

    search, said = anyio.run(run)

    assert search.is_error and "rag index build" in text_of(search)
    assert len(said) == 2
    assert all("no index in" in message and "rag index build" in message for message in said)
