"""One structured log line and the metrics for every request, tagged with its request id."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Callable, Iterable

from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.metrics import Metrics

__all__ = ["REQUEST_ID_HEADER", "AccessMiddleware"]

REQUEST_ID_HEADER = "X-Request-ID"
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

log = logging.getLogger("api.access")


class AccessMiddleware:
    """Outermost layer: sees every response, auth refusals and errors included.

    Routes add fields to the line through ``request.state.log`` (a dict), e.g. the question
    when ``RAG_LOG_QUESTIONS`` is on.
    """

    def __init__(
        self, app: ASGIApp, *, metrics: Metrics, templates: Callable[[], Iterable[str]]
    ) -> None:
        self.app = app
        self.metrics = metrics
        self._templates = templates
        self._patterns: list[tuple[re.Pattern[str], str]] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = _request_id(scope)
        extra: dict[str, object] = {}
        scope.setdefault("state", {})["log"] = extra
        scope["state"]["request_id"] = request_id
        status = 500
        header = (REQUEST_ID_HEADER.lower().encode(), request_id.encode())

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                # The whole request so far, beside any engine time the route put in: a client
                # tells the HTTP layer's share from the engine's with no clock of its own.
                took = f"app;dur={(time.perf_counter() - started) * 1000:.2f}".encode()
                message["headers"] = [*message.get("headers", []), header, (_TIMING, took)]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            route = self._route_template(scope)
            self.metrics.observe_request(route, scope["method"], status, seconds)
            if log.isEnabledFor(logging.INFO):
                line = {
                    "event": "request",
                    "request_id": request_id,
                    "method": scope["method"],
                    "route": route,
                    "path": scope["path"],
                    "status": status,
                    "latency_ms": round(seconds * 1000, 2),
                    **extra,
                }
                log.info(json.dumps(line, ensure_ascii=False, default=str))

    def _route_template(self, scope: Scope) -> str:
        """The template, not the path: ``/v1/documents/{doc_id}`` is one series, not one per id."""
        path = getattr(scope.get("route"), "path", None)
        if isinstance(path, str):
            return path
        # Refused before routing (401, 413, 429): match the path against the known templates.
        if self._patterns is None:
            self._patterns = [(compile_path(t)[0], t) for t in self._templates()]
        for pattern, template in self._patterns:
            if pattern.match(scope["path"]):
                return template
        return "<unmatched>"


_TIMING = b"server-timing"


def _request_id(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            candidate = value.decode("latin-1")
            if _SAFE_ID.match(candidate):
                return candidate
            break
    return uuid.uuid4().hex
