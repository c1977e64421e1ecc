"""``GET /v1/jobs/{job_id}``: where a large upload (answered ``202 Accepted``) has got to."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from api.deps import StateDep
from api.errors import ERROR_RESPONSES
from api.schemas import JOB_ID_PATTERN, DocumentChange, ErrorBody, JobOut, JobProgress
from rag.errors import NotFoundError

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["documents"], responses=ERROR_RESPONSES)

JobIdPath = Annotated[
    str, Path(pattern=JOB_ID_PATTERN, description="The job_id a 202 Accepted answer gave")
]


@router.get("/jobs/{job_id}", response_model=JobOut, summary="Progress of an upload job")
async def get_job(job_id: JobIdPath, state: StateDep) -> JobOut:
    job = state.jobs.get(job_id)
    if job is None:
        raise NotFoundError(f"unknown job_id: {job_id}")
    error = (
        ErrorBody(code=job.error_code, message=job.error_message or "")
        if job.error_code is not None
        else None
    )
    return JobOut(
        job_id=job.job_id,
        status=job.status,
        replace=job.replace,
        documents=job.documents,
        progress=JobProgress(chunks_embedded=job.chunks_done, chunks_total=job.chunks_total),
        results=[
            DocumentChange(doc_id=r.doc_id, title=r.title, chunks=r.chunks, status=r.status)
            for r in job.results
        ],
        error=error,
    )
