"""The one place errors become HTTP: one status and one code for each kind of mistake, always in
the body ``{"error": {"code", "message"}}``; the message says what was wrong.

kind of mistake                                          status  code
the body cannot be parsed (JSON syntax, UTF-8, multipart)   400  malformed_body
no key, or a wrong one (api.security)                       401  unauthorized
no such path or document                                    404  not_found
a method the path does not have (with ``Allow``)            405  method_not_allowed
the doc_id exists and replacing was not asked for           409  conflict
the body is larger than allowed (api.security)              413  payload_too_large
a Content-Type the operation does not declare               415  unsupported_media_type
the body parses but breaks the schema or a rule             422  invalid_request
too many requests (api.security)                            429  rate_limited

and the server's own state, with ``Retry-After`` where waiting helps:
busy (queue full, index locked)   503 overloaded        model cannot load  503 model_unavailable
LLM failed                        503 llm_unavailable   a setting is wrong 503 misconfigured
index missing or damaged          503 index_unavailable state database     503 unavailable
still loading                     503 not_ready         LLM too slow       504 timeout

Domain errors (rag.errors, index.errors) map by class below; ``RequestValidationError`` and
starlette's ``HTTPException`` by the table; ``ApiError`` is raised by the api package with its
own status and code (taken from the table too).

The OpenAI-compatible routes (``/v1/chat/completions``, ``/v1/models``) answer the same status
and code in OpenAI's shape, which OpenAI's clients read: ``{"error": {"message", "type",
"param", "code"}}``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from api.routing import allowed_methods
from api.schemas import ErrorResponse
from api.schemas_openai import OpenAIErrorResponse
from index.errors import DocumentExistsError, IndexBusyError, ModelLoadError, UnknownDocumentError
from rag.errors import (
    USER_ERRORS,
    ConfigError,
    DocumentError,
    IndexStateError,
    InputError,
    LLMError,
    LLMTimeoutError,
    ModelError,
    NotFoundError,
    OverloadedError,
    StoreError,
)

__all__ = [
    "ERROR_RESPONSES",
    "OPENAI_ERROR_RESPONSES",
    "ApiError",
    "code_for",
    "error_body",
    "error_response",
    "install_error_handlers",
    "openai_path",
    "status_for",
]

log = logging.getLogger("api")

# Most specific first: the first isinstance match wins.
_DOMAIN_STATUS: tuple[tuple[type[Exception], int, str], ...] = (
    (NotFoundError, 404, "not_found"),
    (UnknownDocumentError, 404, "not_found"),
    (DocumentExistsError, 409, "conflict"),
    (InputError, 422, "invalid_request"),
    (DocumentError, 422, "invalid_request"),
    (OverloadedError, 503, "overloaded"),
    (IndexBusyError, 503, "overloaded"),
    (LLMTimeoutError, 504, "timeout"),
    (LLMError, 503, "llm_unavailable"),
    (ModelError, 503, "model_unavailable"),
    (ModelLoadError, 503, "model_unavailable"),
    (ConfigError, 503, "misconfigured"),
    (IndexStateError, 503, "index_unavailable"),
    (StoreError, 503, "unavailable"),
)

_HTTP_CODES: Mapping[int, str] = {
    400: "malformed_body",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "rate_limited",
    503: "unavailable",
    504: "timeout",
}

_RETRY_AFTER_S = 2.0  # for a busy index: another write is committing


def code_for(status: int) -> str:
    """The error code of a request mistake answered with ``status`` (see the table above)."""
    return _HTTP_CODES.get(status, "http_error")


# For the OpenAPI document: every /v1 route may answer these, all with the same body.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse}
    for status in (400, 401, 404, 409, 413, 415, 422, 429, 503, 504)
}
OPENAI_ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": OpenAIErrorResponse} for status in ERROR_RESPONSES
}
_OPENAI_PATHS = ("/v1/chat/completions", "/v1/models")
_OPENAI_TYPES: Mapping[int, str] = {
    401: "authentication_error",
    404: "not_found_error",
    429: "rate_limit_error",
}


def openai_path(path: str) -> bool:
    """Whether errors on ``path`` take OpenAI's shape."""
    return any(path == p or path.startswith(p + "/") for p in _OPENAI_PATHS)


def error_body(
    status: int, code: str, message: str, *, path: str = "", param: str | None = None
) -> dict[str, dict[str, str | None]]:
    """``{"error": {"code", "message"}}``, or OpenAI's shape on the OpenAI-compatible routes."""
    if not openai_path(path):
        return {"error": {"code": code, "message": message}}
    kind = _OPENAI_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


class ApiError(Exception):
    """An error the HTTP layer raises itself (not ready, too large, unauthorised, ...)."""

    def __init__(
        self, status: int, code: str, message: str, *, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.retry_after = retry_after


def status_for(exc: Exception) -> tuple[int, str]:
    """The status code and error code of a domain error (422 for any other user error)."""
    for kind, status, code in _DOMAIN_STATUS:
        if isinstance(exc, kind):
            return status, code
    return 422, "invalid_request"


def _retry_headers(retry_after: float | None) -> dict[str, str]:
    if retry_after is None:
        return {}
    return {"Retry-After": str(max(1, math.ceil(retry_after)))}


def error_response(
    status: int,
    code: str,
    message: str,
    *,
    retry_after: float | None = None,
    headers: Mapping[str, str] | None = None,
    path: str = "",
    param: str | None = None,
) -> JSONResponse:
    """The error reply; ``path`` is the request's (its shape depends on it, see above)."""
    all_headers = {**_retry_headers(retry_after), **(headers or {})}
    body = error_body(status, code, message, path=path, param=param)
    return JSONResponse(body, status_code=status, headers=all_headers)


def _one_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _validation_message(exc: RequestValidationError) -> tuple[int, str, str, str | None]:
    errors = list(exc.errors())
    if any(e.get("type") == "json_invalid" for e in errors):
        return 400, code_for(400), "the request body is not valid JSON", None
    parts = []
    params = []
    for error in errors[:3]:
        loc = list(error.get("loc", ()))
        if loc and loc[0] in ("body", "path", "query", "header"):
            loc = loc[1:]  # the field's name says enough
        where = ".".join(str(p) for p in loc) or "body"
        message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        parts.append(f"{where}: {message}")
        params.append(where)
    more = f" (+{len(errors) - 3} more)" if len(errors) > 3 else ""
    return 422, code_for(422), "; ".join(parts) + more, params[0] if params else None


async def _on_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    status, code, message, param = _validation_message(exc)
    return error_response(status, code, message, path=request.url.path, param=param)


async def _on_http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    code = code_for(exc.status_code)
    message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        # Starlette names the methods of the first route on the path only (GET, not GET, POST).
        headers["Allow"] = ", ".join(allowed_methods(request, headers.get("Allow", "")))
    return error_response(exc.status_code, code, message, headers=headers, path=request.url.path)


async def _on_api(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(
        exc.status, exc.code, exc.message, retry_after=exc.retry_after, path=request.url.path
    )


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    # A bug, not bad input: log the traceback, answer in the contract's shape.
    log.error("unhandled error on %s", request.url.path, exc_info=exc)
    return error_response(
        500, "internal_error", "internal error; see the server log", path=request.url.path
    )


async def _on_domain(request: Request, exc: Exception) -> JSONResponse:
    status, code = status_for(exc)
    retry_after = exc.retry_after if isinstance(exc, OverloadedError) else None
    if isinstance(exc, IndexBusyError):
        retry_after = _RETRY_AFTER_S
    if status >= 500:
        log.warning("%s on %s: %s", type(exc).__name__, request.url.path, _one_line(exc))
    return error_response(
        status, code, _one_line(exc), retry_after=retry_after, path=request.url.path
    )


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers; anything else is a bug and stays a logged 500."""
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(HTTPException, _on_http)
    app.add_exception_handler(ApiError, _on_api)
    for kind in USER_ERRORS:
        app.add_exception_handler(kind, _on_domain)
    app.add_exception_handler(Exception, _on_unexpected)
