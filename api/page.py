"""The web page at ``/``: static files shipped in the package (``api/static``), no build step,
nothing loaded from another site (its Content-Security-Policy says so to the browser)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

__all__ = ["STATIC_DIR", "serve_page"]

STATIC_DIR = Path(__file__).resolve().parent / "static"
_POLICY = "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'"


def serve_page(app: FastAPI) -> None:
    """``GET /`` (the page) and ``/static/*`` (its script and style)."""
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(
            STATIC_DIR / "index.html",
            media_type="text/html",
            headers={"Content-Security-Policy": _POLICY, "Cache-Control": "no-cache"},
        )
