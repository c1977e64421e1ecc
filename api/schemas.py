"""HTTP request and response models: pydantic lives here, at the edge, and nowhere in the engine.

Requests are strict (``StrictModel``): what ``/openapi.json`` says is what is accepted, no more
(no ``"stream": 0`` taken for false) and no less (every rule is in the schema, written with the
patterns of ``index.validation``). A field whose limit is a setting names it in ``x-limit``;
``api.openapi`` writes the configured number into the published schema.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from index.validation import (
    DOC_ID_MAX,
    DOC_ID_PATTERN,
    VISIBLE_PATTERN,
    has_visible,
    normalize_doc_id,
    without_controls,
)
from rag.types import Answer, Citation, Hit


class StrictModel(BaseModel):
    """A request body: unknown fields and coerced types are refused (422)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    @model_validator(mode="before")
    @classmethod
    def _unicode_only(cls, data: Any) -> Any:
        # Python's JSON parser lets a lone surrogate ("\ud800") through; no encoding can store it.
        if _has_surrogate(data):
            raise ValueError("a string holds a lone surrogate, which is not Unicode text")
        return data


_SURROGATE = re.compile("[\ud800-\udfff]")


def _has_surrogate(value: object) -> bool:
    if isinstance(value, str):
        return not value.isascii() and _SURROGATE.search(value) is not None
    if isinstance(value, dict):
        return any(_has_surrogate(k) or _has_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_surrogate(item) for item in value)
    return False


def _integral(value: object) -> object:
    # JSON Schema counts 3.0 as an integer; a bool or a string is not one.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _visible(text: str) -> str:
    if not has_visible(text):
        raise ValueError("needs a visible character (it is empty, blank or only control codes)")
    return without_controls(text)


def _doc_id(value: str) -> str:
    return normalize_doc_id(value)


DocId = Annotated[
    str,
    Field(min_length=1, max_length=DOC_ID_MAX, json_schema_extra={"pattern": DOC_ID_PATTERN}),
    AfterValidator(_doc_id),
]
# Free text: must show something; control characters (NUL, ...) become spaces.
VisibleText = Annotated[
    str,
    Field(min_length=1, json_schema_extra={"pattern": VISIBLE_PATTERN}),
    AfterValidator(_visible),
]
Question = Annotated[
    str,
    Field(
        min_length=1,
        json_schema_extra={"pattern": VISIBLE_PATTERN, "x-limit": "max_question_chars"},
    ),
    AfterValidator(_visible),
]
TopK = Annotated[int, Field(ge=1, le=50), BeforeValidator(_integral)]
PositiveInt = Annotated[int, Field(ge=1), BeforeValidator(_integral)]


# Other text: control characters become spaces.
ConversationId = Annotated[str, Field(max_length=200), AfterValidator(without_controls)]
Title = Annotated[str, Field(max_length=1000), AfterValidator(without_controls)]
Published = Annotated[str, Field(max_length=64), AfterValidator(without_controls)]
Url = Annotated[str, Field(max_length=2000), AfterValidator(without_controls)]


def _query_flag(value: object) -> object:
    # A query string carries text: "true" or "false", as the schema's boolean is written there.
    if value in ("true", "false"):
        return value == "true"
    if isinstance(value, bool):
        return value
    raise ValueError("must be true or false")


QueryFlag = Annotated[bool, BeforeValidator(_query_flag)]


class Filters(StrictModel):
    doc_ids: list[DocId] | None = Field(default=None, min_length=1, max_length=1000)


class AskRequest(StrictModel):
    question: Question
    top_k: TopK | None = None
    conversation_id: ConversationId | None = None
    stream: bool = False
    filters: Filters | None = None


class CitationOut(BaseModel):
    n: int
    doc_id: str
    title: str
    text: str
    start: int
    end: int
    score: float
    url: str | None = None
    published: str | None = None
    also_in: list[str] = []

    @classmethod
    def from_citation(cls, citation: Citation) -> CitationOut:
        return cls(
            n=citation.n,
            doc_id=citation.doc_id,
            title=citation.title,
            text=citation.text,
            start=citation.start,
            end=citation.end,
            score=round(citation.score, 4),
            url=citation.url,
            published=citation.published,
            also_in=list(citation.also_in),
        )


class AskResponse(BaseModel):
    answer: str
    abstained: bool
    citations: list[CitationOut]
    conversation_id: str | None = None
    model: str
    degraded: bool
    timings_ms: dict[str, float]
    standalone_question: str | None = None

    @classmethod
    def from_answer(cls, answer: Answer) -> AskResponse:
        return cls(
            answer=answer.text,
            abstained=answer.abstained,
            citations=[CitationOut.from_citation(c) for c in answer.citations],
            conversation_id=answer.conversation_id,
            model=answer.model,
            degraded=answer.degraded,
            timings_ms={k: round(v, 2) for k, v in answer.timings_ms.items()},
            standalone_question=answer.standalone_question,
        )


class SearchRequest(StrictModel):
    query: Question
    top_k: TopK | None = None
    filters: Filters | None = None


class SearchResult(BaseModel):
    doc_id: str
    chunk_id: int
    title: str
    text: str
    start: int
    end: int
    score: float
    also_in: list[str] = []
    published: str | None = None
    url: str | None = None

    @classmethod
    def from_hit(cls, hit: Hit) -> SearchResult:
        chunk = hit.chunk
        return cls(
            doc_id=chunk.doc_id,
            chunk_id=chunk.chunk_id,
            title=chunk.title,
            text=chunk.text,
            start=chunk.start,
            end=chunk.end,
            score=round(hit.score, 4),
            also_in=[d for d in hit.doc_ids if d != chunk.doc_id],
            published=hit.published,
            url=hit.url,
        )


class SearchResponse(BaseModel):
    results: list[SearchResult]


class ErrorBody(BaseModel):
    code: str
    message: str


class ErrorResponse(BaseModel):
    error: ErrorBody


# ---- documents (added by the HTTP helper) ---------------------------------------------------


class DocumentFields(StrictModel):
    """A document's content; ``title`` comes from the first line when left out."""

    title: Title | None = None
    text: VisibleText
    published: Published | None = None
    url: Url | None = None


class DocumentIn(DocumentFields):
    """A document given as JSON; ``doc_id`` comes from a content hash when left out."""

    doc_id: DocId | None = None


class DocumentOut(BaseModel):
    doc_id: str
    title: str
    chunks: int
    published: str | None = None
    url: str | None = None
    source: str | None = None


class DocumentDetail(DocumentOut):
    text: str  # the stored (cleaned) text that citations' start/end point into


class DocumentList(BaseModel):
    documents: list[DocumentOut]
    total_documents: int
    total_chunks: int


class DocumentChange(BaseModel):
    doc_id: str
    title: str
    chunks: int
    status: Literal["added", "updated", "unchanged"]


class DocumentsAdded(BaseModel):
    documents: list[DocumentChange]
    total_documents: int
    total_chunks: int


# ---- jobs (large uploads indexed in the background) -----------------------------------------

JOB_ID_PATTERN = r"^j-[0-9a-f]{32}$"


class JobAccepted(BaseModel):
    """``202 Accepted``: the documents are kept and will be indexed; poll ``url``."""

    job_id: str
    status: Literal["queued"]
    url: str


class JobProgress(BaseModel):
    chunks_embedded: int
    chunks_total: int  # 0 until the documents are chunked


class JobOut(BaseModel):
    job_id: str
    status: Literal["queued", "running", "done", "failed"]
    replace: bool
    documents: int  # how many documents the job holds (0 once done: the index has them)
    progress: JobProgress
    results: list[DocumentChange]  # one per document once done
    error: ErrorBody | None = None  # once failed: the code a synchronous request would get
