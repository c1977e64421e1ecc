"""Server-Sent Events for ``/v1/ask``: ``token`` events as the model writes, then one ``done``.

The answer is produced on a generation-queue thread and handed to the event loop one delta at a
time. Problems found before the first event (a bad question, an unknown conversation) are
ordinary HTTP errors; a failure after the stream has begun is an ``error`` event.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING

from fastapi.responses import StreamingResponse

from api.errors import ApiError, error_body, status_for
from api.schemas import AskRequest, AskResponse
from rag.chat import ChatEngine
from rag.errors import USER_ERRORS
from rag.types import Answer

if TYPE_CHECKING:
    from api.state import AppState
    from rag.pipeline import AnswerStream

__all__ = ["SSE_HEADERS", "Event", "answer_events", "describe_error", "sse_event", "stream_answer"]

log = logging.getLogger("api")

Event = tuple[str, object]  # ("token", str) | ("done", Answer) | ("error", Exception)
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def sse_event(event: str, data: object) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


async def stream_answer(
    state: AppState, chat: ChatEngine, body: AskRequest, doc_ids: list[str] | None
) -> StreamingResponse:
    def start() -> AnswerStream:
        return chat.stream(
            body.question, conversation_id=body.conversation_id, top_k=body.top_k, doc_ids=doc_ids
        )

    events = await answer_events(state, start)

    async def body_events() -> AsyncIterator[bytes]:
        async for kind, value in events:
            if kind == "token":
                yield sse_event("token", {"text": value})
            elif kind == "done":
                assert isinstance(value, Answer)
                yield sse_event("done", AskResponse.from_answer(value).model_dump(mode="json"))
            else:
                assert isinstance(value, Exception)
                _, code, message = describe_error(value)
                yield sse_event("error", error_body(0, code, message))

    return StreamingResponse(body_events(), media_type="text/event-stream", headers=SSE_HEADERS)


async def answer_events(state: AppState, start: Callable[[], AnswerStream]) -> AsyncIterator[Event]:
    """The events of the answer ``start()`` begins on the generation queue: ``token``...,
    then ``done`` (metrics recorded) or ``error``. The first is awaited here, so a problem
    found before anything is sent raises as an ordinary HTTP error."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[Event] = asyncio.Queue()
    stop = threading.Event()  # set when the client goes away: stop generating
    deadline = time.monotonic() + state.settings.request_timeout_s

    def put(kind: str, value: object) -> None:
        try:
            loop.call_soon_threadsafe(queue.put_nowait, (kind, value))
        except RuntimeError:  # the loop has closed: nobody is listening any more
            stop.set()

    def produce() -> None:
        try:
            stream = start()
            for delta in stream:
                if stop.is_set():
                    return
                put("token", delta)
            put("done", stream.answer)
        except USER_ERRORS as exc:
            put("error", exc)
        except Exception as exc:  # a bug: logged with its traceback, reported as an event
            log.exception("streaming answer failed")
            put("error", exc)

    future = state.queue.submit(produce)  # 503 at once when full
    try:
        first = await _next(queue, deadline)
    except BaseException:
        stop.set()
        future.cancel()
        raise
    if first[0] == "error" and isinstance(first[1], USER_ERRORS):
        raise first[1]  # nothing sent yet: an ordinary HTTP error

    async def events() -> AsyncIterator[Event]:
        event = first
        try:
            while True:
                if event[0] == "done":
                    assert isinstance(event[1], Answer)
                    state.metrics.observe_answer(event[1])
                yield event
                if event[0] != "token":
                    return
                event = await _next(queue, deadline)
        except ApiError as exc:
            yield ("error", exc)
        finally:
            stop.set()

    return events()


async def _next(events: asyncio.Queue[Event], deadline: float) -> Event:
    try:
        return await asyncio.wait_for(events.get(), timeout=max(0.0, deadline - time.monotonic()))
    except TimeoutError:
        raise ApiError(504, "timeout", "no answer within the request deadline") from None


def describe_error(exc: Exception) -> tuple[int, str, str]:
    """The status, code and message an HTTP error for ``exc`` would carry."""
    if isinstance(exc, ApiError):
        return exc.status, exc.code, exc.message
    if isinstance(exc, USER_ERRORS):
        status, code = status_for(exc)
        return status, code, str(exc) or type(exc).__name__
    return 500, "internal_error", "internal error; see the server log"
