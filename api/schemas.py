"""HTTP request and response models: pydantic lives here, at the edge, and nowhere in the engine."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from rag.types import Answer, Citation, Hit


class Filters(BaseModel):
    model_config = ConfigDict(extra="forbid")

    doc_ids: list[str] | None = Field(default=None, max_length=1000)


class AskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str = Field(min_length=1)
    top_k: int | None = Field(default=None, ge=1, le=50)
    conversation_id: str | None = Field(default=None, max_length=200)
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


class SearchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(min_length=1)
    top_k: int | None = Field(default=None, ge=1, le=50)
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


class DocumentIn(BaseModel):
    """A document given as JSON; ``doc_id`` comes from a content hash and ``title`` from the
    first line when left out."""

    model_config = ConfigDict(extra="forbid")

    doc_id: str | None = Field(default=None, max_length=200, pattern=r"^[^/\\\s][^/\\]*$")
    title: str | None = Field(default=None, max_length=1000)
    text: str = Field(min_length=1)
    published: str | None = Field(default=None, max_length=64)
    url: str | None = Field(default=None, max_length=2000)


class DocumentOut(BaseModel):
    doc_id: str
    title: str
    chunks: int
    published: str | None = None
    url: str | None = None
    source: str | None = None


class DocumentList(BaseModel):
    documents: list[DocumentOut]
    total_documents: int
    total_chunks: int


class DocumentChange(BaseModel):
    doc_id: str
    title: str
    chunks: int
    status: str  # added | updated | unchanged


class DocumentsAdded(BaseModel):
    documents: list[DocumentChange]
    total_documents: int
    total_chunks: int
