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
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from fastapi.responses import StreamingResponse

from api.errors import ApiError, status_for
from api.schemas import AskRequest, AskResponse
from rag.chat import ChatEngine
from rag.errors import USER_ERRORS
from rag.types import Answer

if TYPE_CHECKING:
    from api.state import AppState

__all__ = ["sse_event", "stream_answer"]

log = logging.getLogger("api")

_Event = tuple[str, object]  # ("token", str) | ("done", Answer) | ("error", Exception)


def sse_event(event: str, data: object) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


async def stream_answer(
    state: AppState, chat: ChatEngine, body: AskRequest, doc_ids: list[str] | None
) -> StreamingResponse:
    loop = asyncio.get_running_loop()
    events: asyncio.Queue[_Event] = asyncio.Queue()
    stop = threading.Event()  # set when the client goes away: stop generating
    deadline = time.monotonic() + state.settings.request_timeout_s

    def put(kind: str, value: object) -> None:
        try:
            loop.call_soon_threadsafe(events.put_nowait, (kind, value))
        except RuntimeError:  # the loop has closed: nobody is listening any more
            stop.set()

    def produce() -> None:
        try:
            stream = chat.stream(
                body.question,
                conversation_id=body.conversation_id,
                top_k=body.top_k,
                doc_ids=doc_ids,
            )
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
        first = await _next(events, deadline)
    except BaseException:
        stop.set()
        future.cancel()
        raise
    if first[0] == "error" and isinstance(first[1], USER_ERRORS):
        raise first[1]  # nothing sent yet: an ordinary HTTP error

    async def body_events() -> AsyncIterator[bytes]:
        event = first
        try:
            while True:
                kind, value = event
                if kind == "token":
                    yield sse_event("token", {"text": value})
                elif kind == "done":
                    assert isinstance(value, Answer)
                    state.metrics.observe_answer(value)
                    yield sse_event("done", AskResponse.from_answer(value).model_dump(mode="json"))
                    return
                else:
                    assert isinstance(value, Exception)
                    yield sse_event("error", _error_body(value))
                    return
                event = await _next(events, deadline)
        except ApiError as exc:
            yield sse_event("error", {"error": {"code": exc.code, "message": exc.message}})
        finally:
            stop.set()

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(body_events(), media_type="text/event-stream", headers=headers)


async def _next(events: asyncio.Queue[_Event], deadline: float) -> _Event:
    try:
        return await asyncio.wait_for(events.get(), timeout=max(0.0, deadline - time.monotonic()))
    except TimeoutError:
        raise ApiError(504, "timeout", "no answer within the request deadline") from None


def _error_body(exc: Exception) -> dict[str, dict[str, str]]:
    if isinstance(exc, USER_ERRORS):
        _, code = status_for(exc)
        return {"error": {"code": code, "message": str(exc) or type(exc).__name__}}
    return {"error": {"code": "internal_error", "message": "internal error; see the server log"}}
