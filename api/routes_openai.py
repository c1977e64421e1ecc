"""OpenAI-compatible ``/v1/models`` and ``/v1/chat/completions``, for OpenAI's clients and the
chat front ends built on them (Open WebUI, LibreChat).

The last message is the question and earlier user and assistant messages the conversation, so
the client holds the conversation as OpenAI's API expects. The answer is the one ``/v1/ask``
gives, with the same auth, limits, deadline and status codes; errors take OpenAI's shape here
(``api.errors``). Streamed, it is ``chat.completion.chunk`` events ending in ``data: [DONE]``;
the last chunk carries the citations.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse

from api.deadline import answer_in_time
from api.deps import PipelineDep, StateDep
from api.errors import OPENAI_ERROR_RESPONSES, error_body
from api.routes import check_text
from api.schemas import CitationOut
from api.schemas_openai import (
    MODEL_ID,
    AssistantMessage,
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    Choice,
    ChunkChoice,
    Delta,
    ModelCard,
    ModelList,
    OtherMessage,
    UserMessage,
)
from api.streaming import SSE_HEADERS, answer_events, describe_error
from rag.settings import EXTRACTIVE_MODEL
from rag.types import Answer, Message

if TYPE_CHECKING:
    from rag.pipeline import AnswerStream

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["openai"], responses=OPENAI_ERROR_RESPONSES)

_HISTORY_MESSAGES = 6  # the last three turns, as a conversation_id on /v1/ask keeps
_STARTED = int(time.time())


@router.get("/models", response_model=ModelList, summary="The model to name (OpenAI-compatible)")
async def models() -> ModelList:
    return ModelList(data=[ModelCard(id=MODEL_ID, created=_STARTED, owned_by="rag-news")])


@router.post(
    "/chat/completions",
    response_model=ChatCompletion,
    summary="Answer the last user message with citations (OpenAI-compatible)",
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def chat_completions(
    body: ChatCompletionRequest, request: Request, state: StateDep, pipeline: PipelineDep
) -> object:
    """JSON by default; ``chat.completion.chunk`` Server-Sent Events with ``"stream": true``.
    Citations are in ``citations`` beside ``choices``; ``[n]`` in the content names them."""
    question, history = _question(body.messages)
    check_text(question, "messages", state.settings)
    if state.settings.log_questions:
        request.state.log["question"] = question
    completion_id = f"chatcmpl-{uuid.uuid4().hex}"
    if body.stream:

        def start() -> AnswerStream:
            return pipeline.stream(question, top_k=body.top_k, history=history)

        return _streamed(completion_id, await answer_events(state, start))

    def answer() -> Answer:
        return pipeline.ask(question, top_k=body.top_k, history=history)

    def fallback() -> Answer:
        extracted = pipeline.extractive().ask(question, top_k=body.top_k, history=history)
        return replace(extracted, degraded=True, model=EXTRACTIVE_MODEL)

    result, seconds = await answer_in_time(state, answer, fallback)
    completion = ChatCompletion(
        id=completion_id,
        created=int(time.time()),
        choices=[Choice(message=AssistantMessage(content=result.text))],
        citations=[CitationOut.from_citation(c) for c in result.citations],
        abstained=result.abstained,
        degraded=result.degraded,
    )
    headers = {"Server-Timing": f"answer;dur={seconds * 1000:.2f}"}
    return Response(completion.model_dump_json(), media_type="application/json", headers=headers)


def _question(messages: Sequence[UserMessage | OtherMessage]) -> tuple[str, list[Message]]:
    """The last user message's text (the schema makes sure there is one) and the user and
    assistant turns before it."""
    last = max(n for n, m in enumerate(messages) if isinstance(m, UserMessage))
    history = [
        Message(role="user" if isinstance(m, UserMessage) else "assistant", content=m.text)
        for m in messages[:last]
        if m.role in ("user", "assistant") and m.text.strip()
    ]
    return messages[last].text, history[-_HISTORY_MESSAGES:]


def _streamed(completion_id: str, events: AsyncIterator[tuple[str, object]]) -> StreamingResponse:
    created = int(time.time())

    def chunk(delta: Delta, **fields: object) -> bytes:
        # Only the fields set here are sent: a delta names what it carries, and the
        # citations ride on the last chunk only.
        choice = ChunkChoice(index=0, delta=delta, finish_reason="stop" if fields else None)
        data = ChatCompletionChunk(
            id=completion_id,
            object="chat.completion.chunk",
            created=created,
            model=MODEL_ID,
            choices=[choice],
            **fields,
        )
        return f"data: {data.model_dump_json(exclude_unset=True)}\n\n".encode()

    async def body() -> AsyncIterator[bytes]:
        yield chunk(Delta(role="assistant", content=""))
        streamed: list[str] = []
        async for kind, value in events:
            if kind == "token":
                assert isinstance(value, str)
                streamed.append(value)
                yield chunk(Delta(content=value))
            elif kind == "done":
                assert isinstance(value, Answer)
                # The checks may have changed the draft the model streamed: the client only
                # keeps what it was sent, so the checked answer follows, as `rag ask --stream`.
                shown = "".join(streamed).strip()
                if value.text.strip() != shown:
                    yield chunk(Delta(content=f"\n\nVerified answer: {value.text}"))
                citations = [CitationOut.from_citation(c) for c in value.citations]
                yield chunk(
                    Delta(),
                    citations=citations,
                    abstained=value.abstained,
                    degraded=value.degraded,
                )
                yield b"data: [DONE]\n\n"
            else:
                assert isinstance(value, Exception)
                status, code, message = describe_error(value)
                data = error_body(status, code, message, path="/v1/chat/completions")
                yield f"data: {json.dumps(data)}\n\n".encode()

    return StreamingResponse(body(), media_type="text/event-stream", headers=SSE_HEADERS)
