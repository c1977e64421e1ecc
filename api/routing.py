"""The published schema and the requests held to it: limits that are settings written into
``/openapi.json``; the media types an operation declares there, enforced; every method a path
has, for ``Allow``. All read the app's own routes and schema, so a route added anywhere is
covered without registering it here."""

from __future__ import annotations

import functools
import re
from typing import Any

from fastapi import FastAPI, Request
from starlette.routing import Match, compile_path

from rag.settings import Settings

__all__ = ["allowed_methods", "publish_setting_limits", "require_declared_media_type"]

_METHOD_ORDER = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


async def require_declared_media_type(request: Request) -> None:
    """An app-wide dependency: a body whose Content-Type the operation does not declare in
    ``/openapi.json`` is refused with 415 before it is parsed (no Content-Type counts as JSON)."""
    declared = _declared_media_types(request)
    if not declared or not _has_body(request):
        return
    sent = request.headers.get("content-type", "application/json")
    media_type = sent.split(";", 1)[0].strip().lower()
    if media_type not in declared:
        from api.errors import ApiError, code_for

        raise ApiError(
            415,
            code_for(415),
            f"this operation takes {' or '.join(declared)}, not {media_type or 'an empty type'}",
        )


def allowed_methods(request: Request, also: str = "") -> list[str]:
    """Every method the request's path answers, in the usual order: those ``/openapi.json``
    documents for it, those of plain routes (``/docs``), and ``also`` (a starlette ``Allow``)."""
    path = request.scope["path"]
    methods = {method.strip().upper() for method in also.split(",") if method.strip()}
    for template, operations in request.app.openapi().get("paths", {}).items():
        if _path_regex(template).match(path):
            methods |= {m.upper() for m in operations if m.upper() in _METHOD_ORDER}
    for route in request.app.router.routes:  # included routers hold their own; see above
        route_methods = getattr(route, "methods", None)
        if route_methods and route.matches(request.scope)[0] != Match.NONE:
            methods |= set(route_methods)
    if "GET" in methods:
        methods.add("HEAD")
    return sorted(methods, key=lambda m: (*_METHOD_ORDER, m).index(m))


@functools.lru_cache(maxsize=256)
def _path_regex(template: str) -> re.Pattern[str]:
    return compile_path(template)[0]


def _declared_media_types(request: Request) -> list[str]:
    route = request.scope.get("route")
    path = getattr(route, "path_format", None)
    if path is None or not getattr(route, "include_in_schema", False):
        return []
    operation = request.app.openapi().get("paths", {}).get(path, {}).get(request.method.lower())
    content = (operation or {}).get("requestBody", {}).get("content", {})
    return [media_type.lower() for media_type in content]


def _has_body(request: Request) -> bool:
    length = request.headers.get("content-length")
    if length is not None:
        return length.strip() not in ("", "0")
    return "transfer-encoding" in request.headers


def publish_setting_limits(app: FastAPI, settings: Settings) -> None:
    """Write the configured number into each schema property marked ``x-limit: SETTING``
    (e.g. ``maxLength`` of a question is ``RAG_MAX_QUESTION_CHARS``)."""
    inner = app.openapi

    def openapi() -> dict[str, Any]:
        schema = inner()
        if not getattr(app.state, "limits_published", False):
            _fill_limits(schema, settings)
            app.state.limits_published = True
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _fill_limits(node: object, settings: Settings) -> None:
    if isinstance(node, dict):
        setting = node.pop("x-limit", None)
        if isinstance(setting, str):
            node["maxLength"] = int(getattr(settings, setting))
        for value in node.values():
            _fill_limits(value, settings)
    elif isinstance(node, list):
        for value in node:
            _fill_limits(value, settings)
