"""``/v1/ask`` (JSON or Server-Sent Events) and ``/v1/search``: parse, call, map to a response."""

from __future__ import annotations

import asyncio
import time

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel

from api.deadline import answer_in_time
from api.deps import ChatDep, PipelineDep, StateDep
from api.errors import ERROR_RESPONSES
from api.schemas import (
    AskRequest,
    AskResponse,
    Filters,
    SearchRequest,
    SearchResponse,
    SearchResult,
)
from api.state import AppState
from api.streaming import stream_answer
from rag.errors import InputError, NotFoundError
from rag.settings import Settings
from rag.types import Answer, Hit

__all__ = ["check_text", "router"]

router = APIRouter(prefix="/v1", tags=["answers"], responses=ERROR_RESPONSES)


@router.post(
    "/ask",
    response_model=AskResponse,
    summary="Answer a question with citations",
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def ask(body: AskRequest, request: Request, state: StateDep, chat: ChatDep) -> object:
    """JSON by default; Server-Sent Events (``token``..., ``done``) with ``"stream": true``
    or ``Accept: text/event-stream``."""
    check_text(body.question, "question", state.settings)
    doc_ids = _doc_ids(body.filters, state)
    if state.settings.log_questions:
        request.state.log["question"] = body.question
    if body.stream or "text/event-stream" in request.headers.get("accept", ""):
        return await stream_answer(state, chat, body, doc_ids)

    def answer() -> Answer:
        return chat.ask(
            body.question,
            conversation_id=body.conversation_id,
            top_k=body.top_k,
            doc_ids=doc_ids,
        )

    def fallback() -> Answer:
        return state.extractive_answer(
            body.question,
            conversation_id=body.conversation_id,
            top_k=body.top_k,
            doc_ids=doc_ids,
        )

    result, seconds = await answer_in_time(state, answer, fallback)
    return _json(AskResponse.from_answer(result), timing=("answer", seconds))


@router.post("/search", response_model=SearchResponse, summary="Passages only, no LLM")
async def search(body: SearchRequest, state: StateDep, pipeline: PipelineDep) -> Response:
    check_text(body.query, "query", state.settings)
    doc_ids = _doc_ids(body.filters, state)

    def search() -> tuple[list[Hit], float]:
        started = time.perf_counter()
        hits = pipeline.search(body.query, top_k=body.top_k, doc_ids=doc_ids)
        return hits, time.perf_counter() - started

    hits, seconds = await asyncio.get_running_loop().run_in_executor(state.searches, search)
    results = [SearchResult.from_hit(hit) for hit in hits]
    return _json(SearchResponse(results=results), timing=("search", seconds))


def _json(body: BaseModel, *, timing: tuple[str, float]) -> Response:
    """``body`` as JSON, with the engine's own time in a ``Server-Timing`` header (the
    access middleware adds the whole request's). Built here from a model that is already
    valid, FastAPI would validate it once more against ``response_model``: ~0.1 ms."""
    name, seconds = timing
    headers = {"Server-Timing": f"{name};dur={seconds * 1000:.2f}"}
    return Response(body.model_dump_json(), media_type="application/json", headers=headers)


def check_text(text: str, field: str, settings: Settings) -> None:
    # The schema's maxLength for the field (api.routing publishes the setting there).
    if len(text) > settings.max_question_chars:
        raise InputError(f"{field} is longer than {settings.max_question_chars} characters")


def _doc_ids(filters: Filters | None, state: AppState) -> list[str] | None:
    if filters is None or filters.doc_ids is None:
        return None  # an empty list is refused by the schema (minItems 1)
    store = state.require_store()
    unknown = [doc_id for doc_id in filters.doc_ids if store.document(doc_id) is None]
    if unknown:
        raise NotFoundError(f"unknown doc_id: {unknown[0][:200]}")
    return list(dict.fromkeys(filters.doc_ids))
