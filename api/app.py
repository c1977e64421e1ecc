"""``create_app``: the HTTP service, with models and the index loaded once in the lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi_offline import FastAPIOffline

from api import page, routes, routes_documents, routes_health, routes_jobs, routes_openai
from api.access import REQUEST_ID_HEADER, AccessMiddleware
from api.errors import install_error_handlers
from api.mcp_tools import mount_mcp
from api.routing import publish_setting_limits, require_declared_media_type
from api.security import ApiKeys, RateLimiter, SecurityMiddleware, SharedRateLimiter
from api.state import AppState
from index.embedder import Embedder
from rag.generation import Generator
from rag.settings import Settings, get_settings

if TYPE_CHECKING:
    from index.writer import IndexWriter
    from rag.pipeline import Pipeline

__all__ = ["create_app"]

log = logging.getLogger("api")


def create_app(
    settings: Settings | None = None,
    *,
    pipeline: Pipeline | None = None,
    writer: IndexWriter | None = None,
    embedder: Embedder | None = None,
    generator: Generator | None = None,
) -> FastAPI:
    """A new app. Parts given here are used as they are (tests pass fakes); the rest load
    from ``settings`` in the background once the server starts (``/readyz`` tells when)."""
    settings = settings or get_settings()
    state = AppState(
        settings, pipeline=pipeline, writer=writer, embedder=embedder, generator=generator
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state.start_loading()
        try:
            async with mcp_sessions.run():
                yield
        finally:
            state.close()

    # FastAPIOffline serves Swagger UI's and ReDoc's files from its package, not a CDN; the
    # pages themselves are api.page's (with a policy that keeps them there).
    app = FastAPIOffline(
        docs_url=None,
        redoc_url=None,
        static_url=page.DOCS_ASSETS,
        title="rag-news",
        summary="Questions answered from news articles, with verified citations.",
        version="0.1.0",
        lifespan=lifespan,
        # Every route, whoever adds it, takes only the media types its schema declares (415).
        dependencies=[Depends(require_declared_media_type)],
    )
    app.state.rag = state
    install_error_handlers(app)
    app.include_router(routes.router)
    app.include_router(routes_documents.router)
    app.include_router(routes_openai.router)
    app.include_router(routes_jobs.router)
    app.include_router(routes_health.router)
    _include_slack(app, state)
    mcp_sessions = mount_mcp(app, state)
    page.serve_page(app)
    page.serve_docs(app)

    # Added innermost first: access logging sees every response, CORS answers preflights
    # before auth, and auth and limits run before any body is parsed.
    keys = ApiKeys(settings.api_key_list)
    app.add_middleware(
        SecurityMiddleware,
        keys=keys,
        limiter=(
            SharedRateLimiter(settings.rate_limit_per_minute, settings.state_dir / "rate.sqlite3")
            if settings.workers > 1
            else RateLimiter(settings.rate_limit_per_minute)
        ),
        max_body_bytes=settings.max_body_bytes,
    )
    if settings.cors_origin_list:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origin_list,
            allow_methods=["GET", "POST", "PUT", "DELETE"],
            allow_headers=["Authorization", "Content-Type", REQUEST_ID_HEADER],
            expose_headers=[REQUEST_ID_HEADER, "Retry-After"],
        )
    app.add_middleware(AccessMiddleware, metrics=state.metrics, templates=lambda: _templates(app))
    if keys.enabled:
        _document_bearer_auth(app)
    publish_setting_limits(app, settings)
    return app


def _templates(app: FastAPI) -> list[str]:
    """Every route's path template: the documented ones plus /docs, /openapi.json and such."""
    documented = list(app.openapi().get("paths", {}))
    paths = (getattr(route, "path", None) for route in app.router.routes)
    plain = [path for path in paths if isinstance(path, str)]
    return documented + plain


def _include_slack(app: FastAPI, state: AppState) -> None:
    """Mount the Slack routes (``api.slack``) when its credentials are set."""
    from api.slack import slack_router, slack_status

    router = slack_router(state.settings, state.chat)
    state.slack = slack_status(state.settings)
    if router is not None:
        app.include_router(router)


def _document_bearer_auth(app: FastAPI) -> None:
    """Show the Bearer requirement of ``/v1/*`` in ``/openapi.json`` and the ``/docs`` page."""
    from fastapi.openapi.utils import get_openapi

    def openapi() -> dict[str, object]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title, version=app.version, summary=app.summary, routes=app.routes
        )
        components = schema.setdefault("components", {})
        components["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
        for path, operations in schema.get("paths", {}).items():
            if path.startswith("/v1/"):
                for operation in operations.values():
                    operation["security"] = [{"bearer": []}]
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
