"""``/v1/documents``: list, read, add (JSON or multipart files), replace and delete documents.

A write is committed to disk before the reply is sent and the new snapshot is swapped into the
pipeline, so the very next answer sees it. Writes run in a thread, one at a time. ``POST`` only
creates: an existing ``doc_id`` is a 409 unless the request says ``?replace=true``; ``PUT``
replaces (or creates) the one document its path names.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import AfterValidator, ValidationError
from python_multipart.multipart import parse_options_header
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from api.deps import StateDep, StoreDep
from api.errors import ERROR_RESPONSES, ApiError, code_for
from api.jobs import JobResult
from api.schemas import (
    DocumentChange,
    DocumentDetail,
    DocumentFields,
    DocumentIn,
    DocumentList,
    DocumentOut,
    DocumentsAdded,
    JobAccepted,
    QueryFlag,
)
from api.state import AppState
from index.backend import IndexReader
from index.errors import DocumentError, DocumentExistsError
from index.loaders import ACCEPTED_SUFFIXES, MEDIA_TYPES, make_document, parse_upload
from index.validation import DOC_ID_MAX, DOC_ID_PATTERN, normalize_doc_id
from rag.errors import NotFoundError
from rag.types import Document

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["documents"], responses=ERROR_RESPONSES)

_MAX_FILES = 20
_FILE_TYPES = ", ".join(sorted(ACCEPTED_SUFFIXES))

# Both bodies on one path, as the contract says; FastAPI cannot declare that from parameters.
_ADD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": DocumentIn.model_json_schema()},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "additionalProperties": False,
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": (
                                f"UTF-8 text: {_FILE_TYPES} by the file name's suffix, else by "
                                "the part's Content-Type. Up to "
                                f"{_MAX_FILES} 'file' parts. A .jsonl file holds one "
                                '{"doc_id","title","text","published"?,"url"?} a line.'
                            ),
                        }
                    },
                },
                "encoding": {"file": {"contentType": ", ".join(MEDIA_TYPES)}},
            },
        },
    }
}
_CHANGED: dict[int | str, dict[str, Any]] = {
    200: {"description": "Replaced or unchanged: every document was there already"},
    201: {"description": "At least one document was added"},
    202: {
        "model": JobAccepted,
        "description": (
            "Accepted as a job: the documents hold more text than RAG_JOB_THRESHOLD_CHARS; "
            "they are on disk and GET /v1/jobs/{job_id} reports progress"
        ),
    },
}

DocIdPath = Annotated[
    str,
    Path(
        min_length=1,
        max_length=DOC_ID_MAX,
        json_schema_extra={"pattern": DOC_ID_PATTERN},
        description="A doc_id (compared in Unicode NFC)",
    ),
    AfterValidator(normalize_doc_id),
]
ReplaceFlag = Annotated[
    QueryFlag,
    Query(description="Replace documents whose doc_id exists (else such a doc_id is a 409)"),
]


@router.get("/documents", response_model=DocumentList, summary="Every document, with counts")
async def list_documents(store: StoreDep) -> DocumentList:
    documents = [
        DocumentOut(**_described(doc, store))
        for doc in sorted(store.documents(), key=lambda d: d.doc_id)
    ]
    return DocumentList(
        documents=documents, total_documents=len(documents), total_chunks=len(store)
    )


@router.post(
    "/documents",
    status_code=201,
    response_model=DocumentsAdded,
    responses=_CHANGED,
    summary=f"Add documents: JSON, or {_FILE_TYPES} files as multipart 'file' parts",
    openapi_extra=_ADD_BODY,
)
async def add_documents(
    request: Request, response: Response, state: StateDep, replace: ReplaceFlag = False
) -> DocumentsAdded:
    content_type = request.headers.get("content-type", "").lower()
    if content_type.startswith("multipart/form-data"):
        docs = await _from_upload(request)
    else:  # application/json (api.routing has refused any other type)
        docs = [_document(_parse_json(DocumentIn, await request.body()))]
    return await _write(state, docs, replace=replace, response=response)


@router.get(
    "/documents/{doc_id}",
    response_model=DocumentDetail,
    summary="One document, with its stored text",
)
async def get_document(doc_id: DocIdPath, store: StoreDep) -> DocumentDetail:
    doc = store.document(doc_id)
    if doc is None:
        raise NotFoundError(f"unknown doc_id: {doc_id[:200]}")
    return DocumentDetail(**_described(doc, store), text=doc.text)


def _described(doc: Document, store: IndexReader) -> dict[str, Any]:
    """What the document list and a single document both say of a stored document."""
    return {
        "doc_id": doc.doc_id,
        "title": doc.title,
        "chunks": store.chunk_count(doc.doc_id),
        "published": doc.published,
        "url": doc.url,
        "source": doc.source,
    }


@router.put(
    "/documents/{doc_id}",
    response_model=DocumentsAdded,
    responses=_CHANGED,
    summary="Replace the document (or create it)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": DocumentFields.model_json_schema()}},
        }
    },
)
async def put_document(
    doc_id: DocIdPath, request: Request, response: Response, state: StateDep
) -> DocumentsAdded:
    fields = _parse_json(DocumentFields, await request.body())
    return await _write(state, [_document(fields, doc_id)], replace=True, response=response)


@router.delete(
    "/documents/{doc_id}", status_code=204, response_class=Response, summary="Delete a document"
)
async def delete_document(doc_id: DocIdPath, state: StateDep, store: StoreDep) -> Response:
    if store.document(doc_id) is None:
        raise NotFoundError(f"unknown doc_id: {doc_id[:200]}")
    await run_in_threadpool(state.remove_documents, [doc_id])
    return Response(status_code=204)


async def _write(
    state: AppState, docs: Sequence[Document], *, replace: bool, response: Response
) -> Any:
    if sum(len(doc.text) for doc in docs) > state.settings.job_threshold_chars:
        return await _submit(state, docs, replace=replace)
    try:
        report = await run_in_threadpool(partial(state.add_documents, docs, replace=replace))
    except DocumentExistsError as exc:
        first = exc.doc_ids[0]
        raise ApiError(
            409,
            code_for(409),
            f"{exc}; to replace it, PUT /v1/documents/{first} or POST with ?replace=true",
        ) from None
    store = report.store
    changes = [DocumentChange(**asdict(result)) for result in JobResult.each(report, docs)]
    response.status_code = 201 if report.added else 200
    return DocumentsAdded(
        documents=changes, total_documents=len(store.documents()), total_chunks=len(store)
    )


async def _submit(state: AppState, docs: Sequence[Document], *, replace: bool) -> JSONResponse:
    """Keep the documents as a job and answer 202 at once; a doc_id clash is refused now,
    not minutes later (the job checks again when it commits)."""
    if len({doc.doc_id for doc in docs}) != len(docs):
        raise DocumentError("a doc_id is given twice")
    store = state.store
    if not replace and store is not None:
        taken = [doc.doc_id for doc in docs if store.document(doc.doc_id) is not None]
        if taken:
            raise ApiError(
                409,
                code_for(409),
                f"doc_id {taken[0]!r} is already in the index; to replace it, "
                f"PUT /v1/documents/{taken[0]} or POST with ?replace=true",
            )
    job_id = await run_in_threadpool(partial(state.submit_job, docs, replace=replace))
    url = f"/v1/jobs/{job_id}"
    body = JobAccepted(job_id=job_id, status="queued", url=url)
    return JSONResponse(body.model_dump(), status_code=202, headers={"Location": url})


def _parse_json(model: type[DocumentFields], raw: bytes) -> Any:
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_url=False)) from None


def _document(fields: DocumentFields, doc_id: str | None = None) -> Document:
    return make_document(
        fields.text,
        doc_id=getattr(fields, "doc_id", None) or doc_id,
        title=fields.title,
        published=fields.published,
        url=fields.url,
    )


async def _from_upload(request: Request) -> list[Document]:
    body = await request.body()  # kept by the request: the form below parses it, not the socket
    _, options = parse_options_header(request.headers["content-type"])
    boundary = options.get(b"boundary")  # without one, the form parser refuses the body (400)
    if boundary and b"--" + boundary + b"--" not in body:
        # The parser keeps quiet about a body cut off before its closing boundary: it yields
        # no part, which would read as an upload without a 'file' field.
        raise ApiError(400, code_for(400), "the multipart body ends before its closing boundary")
    form = await request.form(max_files=_MAX_FILES, max_fields=_MAX_FILES)
    try:
        unknown = sorted(set(form.keys()) - {"file"})
        if unknown:
            raise ApiError(422, code_for(422), f"unknown multipart field {unknown[0]!r}")
        parts = form.getlist("file")
        if not parts:
            raise ApiError(422, code_for(422), "multipart upload needs a 'file' field")
        docs: list[Document] = []
        for part in parts:
            if not isinstance(part, UploadFile):
                raise ApiError(422, code_for(422), "the 'file' field must be a file")
            docs.extend(parse_upload(part.filename or "", await part.read(), part.content_type))
        return docs
    finally:
        await form.close()
