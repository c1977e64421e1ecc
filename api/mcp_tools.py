"""The MCP server (the official ``mcp`` SDK): tools ``search_news`` and ``ask_news``, and the
documents as resources, for agents that speak the Model Context Protocol.

One server definition over a small ``NewsSource``: ``rag serve`` mounts it at ``/mcp``
(streamable HTTP, answers through the app's queue and deadline); ``rag mcp`` runs it over stdio
on an in-process pipeline. A tool replies with text for the model to read and the same answer as
structured content (the ``/v1/ask`` and ``/v1/search`` bodies), citations included.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Annotated, Any, Protocol

from fastapi import FastAPI
from mcp.server.mcpserver import MCPServer
from mcp_types import CallToolResult, TextContent
from pydantic import Field

from api.deadline import answer_in_time
from api.errors import ApiError
from api.schemas import AskResponse, SearchResult
from rag.errors import USER_ERRORS, NotFoundError
from rag.settings import EXTRACTIVE_MODEL
from rag.types import Answer, Document, Hit

if TYPE_CHECKING:
    from mcp.server.streamable_http_manager import StreamableHTTPSessionManager

    from api.state import AppState
    from rag.pipeline import Pipeline

__all__ = ["AppNews", "NewsSource", "PipelineNews", "build_mcp_server", "mount_mcp"]

MCP_PATH = "/mcp"
# A tool answers these as an error result, without a traceback in the log.
_REFUSED: tuple[type[Exception], ...] = (*USER_ERRORS, ApiError)

DOCUMENT_URI = "news://documents/{doc_id}"


class NewsSource(Protocol):
    """What the tools read: answers, passages and documents."""

    async def ask(self, question: str) -> Answer: ...

    async def search(self, query: str, top_k: int) -> list[Hit]: ...

    def documents(self) -> list[Document]: ...


def build_mcp_server(source: NewsSource) -> MCPServer:
    """A new MCP server over ``source`` (one per app: its HTTP session manager runs once)."""
    from mcp.server.mcpserver.exceptions import ResourceError, ToolError

    # The SDK calls logging.basicConfig when a server is made (a rich handler on the root
    # logger at INFO); the service's own logging is configured by `rag serve`, so undo it.
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    server: MCPServer = MCPServer(
        "rag-news",
        instructions=(
            "Questions about the indexed news articles. ask_news answers with [n] citations "
            "(or says the articles don't say); search_news returns the passages only."
        ),
    )
    root.handlers[:] = handlers
    root.setLevel(level)

    @server.tool()
    async def search_news(
        query: Annotated[str, Field(min_length=1, max_length=2000, description="What to find")],
        top_k: Annotated[int, Field(ge=1, le=50, description="How many passages")] = 5,
    ) -> CallToolResult:
        """The passages of the news articles that best match QUERY (no answer written)."""
        try:
            hits = await source.search(query, top_k)
        except _REFUSED as exc:
            raise ToolError(str(exc)) from None
        results = [SearchResult.from_hit(hit) for hit in hits]
        lines = [
            f"[{n}] {r.title} ({r.doc_id}, score {r.score:.3f})\n{r.text}"
            for n, r in enumerate(results, start=1)
        ]
        structured = {"results": [r.model_dump(mode="json") for r in results]}
        return _result("\n\n".join(lines) or "No passages found.", structured)

    @server.tool()
    async def ask_news(
        question: Annotated[
            str, Field(min_length=1, max_length=2000, description="A question about the news")
        ],
    ) -> CallToolResult:
        """Answer QUESTION from the news articles; every claim cites its source as [n]."""
        try:
            answer = await source.ask(question)
        except _REFUSED as exc:
            raise ToolError(str(exc)) from None
        body = AskResponse.from_answer(answer)
        sources = [f"[{c.n}] {c.title} ({c.doc_id}): {c.text}" for c in body.citations]
        text = body.answer + ("\n\nSources:\n" + "\n".join(sources) if sources else "")
        return _result(text, body.model_dump(mode="json"))

    @server.resource(
        "news://documents",
        name="documents",
        description="Every indexed article: doc_id, title, published, url",
        mime_type="application/json",
    )
    def list_documents() -> str:
        listed = [
            {"doc_id": d.doc_id, "title": d.title, "published": d.published, "url": d.url}
            for d in sorted(documents(), key=lambda d: d.doc_id)
        ]
        return json.dumps({"documents": listed}, ensure_ascii=False)

    @server.resource(
        DOCUMENT_URI,
        name="document",
        description="One article's stored text (citations' start/end point into it)",
        mime_type="text/plain",
    )
    def read_document(doc_id: str) -> str:
        for document in documents():
            if document.doc_id == doc_id:
                return document.text
        raise ResourceError(str(NotFoundError(f"no document {doc_id}")))

    def documents() -> list[Document]:
        """The source's documents; a source that cannot list them (no index) says why, as
        the tools do, rather than the SDK's generic error and a traceback in the log."""
        try:
            return source.documents()
        except _REFUSED as exc:
            raise ResourceError(str(exc)) from None

    return server


def _result(text: str, structured: dict[str, Any]) -> CallToolResult:
    return CallToolResult(
        content=[TextContent(type="text", text=text)], structured_content=structured
    )


class AppNews:
    """The app's own pipeline: answers go through its queue and deadline, as on ``/v1/ask``."""

    def __init__(self, state: AppState) -> None:
        self._state = state

    async def ask(self, question: str) -> Answer:
        pipeline = self._state.require_pipeline()
        return (await answer_in_time(self._state, *_answerers(pipeline, question)))[0]

    async def search(self, query: str, top_k: int) -> list[Hit]:
        pipeline = self._state.require_pipeline()
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._state.searches, lambda: pipeline.search(query, top_k=top_k)
        )

    def documents(self) -> list[Document]:
        return self._state.require_store().documents()


class PipelineNews:
    """A pipeline in this process (``rag mcp``), loaded on the first call that needs it."""

    def __init__(self, load: Callable[[], Pipeline]) -> None:
        self._load = load
        self._pipeline: Pipeline | None = None

    def _get(self) -> Pipeline:
        if self._pipeline is None:
            self._pipeline = self._load()
        return self._pipeline

    async def ask(self, question: str) -> Answer:
        return await asyncio.to_thread(lambda: self._get().ask(question))

    async def search(self, query: str, top_k: int) -> list[Hit]:
        return await asyncio.to_thread(lambda: self._get().search(query, top_k=top_k))

    def documents(self) -> list[Document]:
        store = self._get().retriever.store
        return list(store.documents())  # type: ignore[attr-defined]


def _answerers(pipeline: Pipeline, question: str) -> tuple[Callable[[], Answer], ...]:
    def answer() -> Answer:
        return pipeline.ask(question)

    def fallback() -> Answer:
        return replace(pipeline.extractive().ask(question), degraded=True, model=EXTRACTIVE_MODEL)

    return answer, fallback


def mount_mcp(app: FastAPI, state: AppState) -> StreamableHTTPSessionManager:
    """Serve the tools at ``/mcp`` (streamable HTTP, stateless, JSON replies) on ``app``; the
    returned session manager must run in the app's lifespan."""
    server = build_mcp_server(AppNews(state))
    # The SDK's own route, added to the app's (not mounted: a mount answers /mcp with a redirect
    # to /mcp/). Its DNS-rebinding protection admits Host 127.0.0.1, localhost and [::1].
    http_app = server.streamable_http_app(
        streamable_http_path=MCP_PATH, stateless_http=True, json_response=True
    )
    app.router.routes.extend(http_app.routes)
    return server.session_manager
