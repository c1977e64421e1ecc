"""An answer within the request deadline: the model's, or the passages' when the model is slow.

``/v1/ask`` and ``/v1/chat/completions`` both answer this way: generation runs on the
generation queue (503 at once when it is full); when it has not finished a few seconds before
the deadline, the best-supported sentences answer instead (``degraded``), and only when even
that misses the deadline is the reply a 504.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from starlette.concurrency import run_in_threadpool

from api.errors import ApiError
from api.state import AppState
from rag.types import Answer

__all__ = ["answer_in_time"]

_FALLBACK_S = 5.0  # at most this much of the deadline is kept for the extractive fallback


async def answer_in_time(
    state: AppState, answer: Callable[[], Answer], fallback: Callable[[], Answer]
) -> tuple[Answer, float]:
    """``answer()`` on the generation queue, else ``fallback()``; the answer and its seconds."""

    def timed() -> tuple[Answer, float]:
        started = time.perf_counter()
        result = answer()
        return result, time.perf_counter() - started

    deadline = state.settings.request_timeout_s
    reserve = min(_FALLBACK_S, deadline / 4)  # kept back for the extractive fallback
    future = state.queue.submit(timed)  # 503 at once when full
    try:
        result, seconds = await asyncio.wait_for(
            asyncio.wrap_future(future), timeout=deadline - reserve
        )
    except TimeoutError:
        pass
    else:
        state.metrics.observe_answer(result)
        return result, seconds
    # Generation is too slow (or stuck in the queue): answer from the passages instead.
    try:
        result = await asyncio.wait_for(run_in_threadpool(fallback), timeout=reserve)
    except TimeoutError:
        raise ApiError(504, "timeout", "no answer within the request deadline") from None
    state.metrics.observe_answer(result)
    return result, result.timings_ms.get("total", 0.0) / 1000
