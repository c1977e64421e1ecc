"""``/healthz`` (the process is alive), ``/readyz`` (models and index loaded) and ``/metrics``."""

from __future__ import annotations

import os

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

from api.deps import StateDep
from api.metrics import CONTENT_TYPE_LATEST

__all__ = ["router"]

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="The process is alive")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Models and index loaded (503 until then, saying what is missing)",
    responses={503: {"description": "Not ready; `error.message` says what is missing"}},
)
async def readyz(state: StateDep) -> JSONResponse:
    checks = {"models": "loading" if state.loading else "ok", "index": "ok"}
    checks.update(state.problems)
    if state.loading:
        checks["index"] = "loading"
    body: dict[str, object] = {"status": "ready" if state.ready else "not_ready", "checks": checks}
    store = state.store
    if store is not None:
        stats = store.stats()
        body["documents"] = stats.documents
        body["chunks"] = stats.chunks
    body["slack"] = state.slack
    body["pid"] = os.getpid()  # which API process answered (`rag serve --workers N`)
    if state.ready:
        return JSONResponse(body)
    problems = [f"{part}: {what}" for part, what in checks.items() if what != "ok"]
    body["error"] = {"code": "not_ready", "message": "; ".join(problems)}
    return JSONResponse(body, status_code=503, headers={"Retry-After": "5"})


@router.get(
    "/metrics",
    summary="Prometheus metrics (open, like /healthz: counts only, no document content)",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}},
)
async def metrics(state: StateDep) -> Response:
    state.metrics.queue_depth.set(state.queue.depth)
    return Response(state.metrics.render(), media_type=CONTENT_TYPE_LATEST)
