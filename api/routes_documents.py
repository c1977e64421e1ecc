"""``/v1/documents``: list, add (JSON or a multipart file) and delete documents.

A write is committed to disk before the reply is sent and the new snapshot is swapped into the
pipeline, so the very next answer sees it. Writes run in a thread, one at a time.
"""

from __future__ import annotations

from pathlib import PurePath

from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from api.deps import StateDep, StoreDep
from api.errors import ERROR_RESPONSES, ApiError
from api.schemas import DocumentChange, DocumentIn, DocumentList, DocumentOut, DocumentsAdded
from index.loaders import make_document, parse_upload
from rag.errors import DocumentError, NotFoundError
from rag.types import Document

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["documents"], responses=ERROR_RESPONSES)

_MAX_FILES = 20

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
                    "properties": {"file": {"type": "string", "format": "binary"}},
                }
            },
        },
    }
}


@router.get("/documents", response_model=DocumentList, summary="Every document, with counts")
async def list_documents(store: StoreDep) -> DocumentList:
    documents = [
        DocumentOut(
            doc_id=doc.doc_id,
            title=doc.title,
            chunks=store.chunk_count(doc.doc_id),
            published=doc.published,
            url=doc.url,
            source=doc.source,
        )
        for doc in sorted(store.documents(), key=lambda d: d.doc_id)
    ]
    return DocumentList(
        documents=documents, total_documents=len(documents), total_chunks=len(store)
    )


@router.post(
    "/documents",
    status_code=201,
    response_model=DocumentsAdded,
    summary="Add documents: JSON, or a .txt/.md/.html/.jsonl file as multipart 'file'",
    openapi_extra=_ADD_BODY,
)
async def add_documents(request: Request, state: StateDep) -> DocumentsAdded:
    content_type = request.headers.get("content-type", "").lower()
    if content_type.startswith("multipart/form-data"):
        docs = await _from_upload(request)
    elif content_type.startswith("application/json") or not content_type:
        docs = [_from_json(await request.body())]
    else:
        raise ApiError(
            400,
            "unsupported_media_type",
            "send application/json or multipart/form-data with a 'file' field",
        )
    if not docs:
        raise DocumentError("the upload holds no documents")
    report = await run_in_threadpool(state.add_documents, docs)
    store = report.store
    status = {doc_id: "added" for doc_id in report.added}
    status.update({doc_id: "updated" for doc_id in report.updated})
    changes = []
    for doc in docs:
        stored = store.document(doc.doc_id)
        changes.append(
            DocumentChange(
                doc_id=doc.doc_id,
                title=stored.title if stored else doc.title,
                chunks=store.chunk_count(doc.doc_id),
                status=status.get(doc.doc_id, "unchanged"),
            )
        )
    return DocumentsAdded(
        documents=changes, total_documents=len(store.documents()), total_chunks=len(store)
    )


@router.delete(
    "/documents/{doc_id}", status_code=204, response_class=Response, summary="Delete a document"
)
async def delete_document(doc_id: str, state: StateDep, store: StoreDep) -> Response:
    if store.document(doc_id) is None:
        raise NotFoundError(f"unknown doc_id: {doc_id[:200]}")
    await run_in_threadpool(state.remove_documents, [doc_id])
    return Response(status_code=204)


def _from_json(raw: bytes) -> Document:
    try:
        payload = DocumentIn.model_validate_json(raw)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_url=False)) from None
    return make_document(
        payload.text,
        doc_id=payload.doc_id,
        title=payload.title,
        published=payload.published,
        url=payload.url,
    )


async def _from_upload(request: Request) -> list[Document]:
    form = await request.form(max_files=_MAX_FILES, max_fields=_MAX_FILES)
    try:
        files = [v for v in form.getlist("file") if isinstance(v, UploadFile)]
        if not files:
            raise ApiError(422, "invalid_request", "multipart upload needs a 'file' field")
        docs: list[Document] = []
        for upload in files:
            name = PurePath(upload.filename or "").name
            docs.extend(parse_upload(name, await upload.read()))
        return docs
    finally:
        await form.close()
