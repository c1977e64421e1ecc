"""The one place errors become HTTP: domain and validation errors to ``{"error": {code, message}}``.

USER_ERRORS (rag.errors)         status
├── InputError                   422 invalid_input
│   └── NotFoundError            404 not_found
├── OverloadedError              503 overloaded (+ Retry-After)
├── LLMTimeoutError              504 timeout
├── LLMError, ModelError,
│   ConfigError                  503 unavailable
├── DocumentError                400 bad_document
├── UnknownDocumentError         404 not_found
└── IndexStateError              503 index_unavailable
RequestValidationError           422 invalid_request (400 malformed_json)
HTTPException                    its own status
ApiError                         raised by the api package itself, carries its status
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

from api.schemas import ErrorResponse
from index.errors import UnknownDocumentError
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
)

__all__ = [
    "ERROR_RESPONSES",
    "ApiError",
    "error_response",
    "install_error_handlers",
    "status_for",
]

log = logging.getLogger("api")

# Most specific first: the first isinstance match wins.
_DOMAIN_STATUS: tuple[tuple[type[Exception], int, str], ...] = (
    (NotFoundError, 404, "not_found"),
    (UnknownDocumentError, 404, "not_found"),
    (InputError, 422, "invalid_input"),
    (OverloadedError, 503, "overloaded"),
    (LLMTimeoutError, 504, "timeout"),
    (LLMError, 503, "llm_unavailable"),
    (ModelError, 503, "model_unavailable"),
    (ConfigError, 503, "misconfigured"),
    (DocumentError, 400, "bad_document"),
    (IndexStateError, 503, "index_unavailable"),
)

_HTTP_CODES: Mapping[int, str] = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "rate_limited",
    503: "unavailable",
    504: "timeout",
}


# For the OpenAPI document: every /v1 route may answer these, all with the same body.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse} for status in (400, 401, 404, 413, 422, 429, 503, 504)
}


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
    """The status code and error code of a domain error (400 for any other user error)."""
    for kind, status, code in _DOMAIN_STATUS:
        if isinstance(exc, kind):
            return status, code
    return 400, "bad_request"


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
) -> JSONResponse:
    all_headers = {**_retry_headers(retry_after), **(headers or {})}
    body = {"error": {"code": code, "message": message}}
    return JSONResponse(body, status_code=status, headers=all_headers)


def _one_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _validation_message(exc: RequestValidationError) -> tuple[int, str, str]:
    errors = list(exc.errors())
    if any(e.get("type") == "json_invalid" for e in errors):
        return 400, "malformed_json", "the request body is not valid JSON"
    parts = []
    for error in errors[:3]:
        where = ".".join(str(p) for p in error.get("loc", ()) if p != "body") or "body"
        parts.append(f"{where}: {error.get('msg', 'invalid')}")
    more = f" (+{len(errors) - 3} more)" if len(errors) > 3 else ""
    return 422, "invalid_request", "; ".join(parts) + more


async def _on_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    status, code, message = _validation_message(exc)
    return error_response(status, code, message)


async def _on_http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
    return error_response(exc.status_code, code, message, headers=exc.headers)


async def _on_api(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.code, exc.message, retry_after=exc.retry_after)


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    # A bug, not bad input: log the traceback, answer in the contract's shape.
    log.error("unhandled error on %s", request.url.path, exc_info=exc)
    return error_response(500, "internal_error", "internal error; see the server log")


async def _on_domain(request: Request, exc: Exception) -> JSONResponse:
    status, code = status_for(exc)
    retry_after = exc.retry_after if isinstance(exc, OverloadedError) else None
    if status >= 500:
        log.warning("%s on %s: %s", type(exc).__name__, request.url.path, _one_line(exc))
    return error_response(status, code, _one_line(exc), retry_after=retry_after)


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers; anything else is a bug and stays a logged 500."""
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(HTTPException, _on_http)
    app.add_exception_handler(ApiError, _on_api)
    for kind in USER_ERRORS:
        app.add_exception_handler(kind, _on_domain)
    app.add_exception_handler(Exception, _on_unexpected)
