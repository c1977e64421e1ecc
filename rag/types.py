"""The values that flow through the engine: hits, citations, messages, answers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from index.types import Chunk, Document, content_hash

__all__ = ["Answer", "Chunk", "Citation", "Document", "Hit", "Message", "Role", "content_hash"]

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True)
class Hit:
    """A retrieved passage with its fused score and every document that carries it."""

    chunk: Chunk
    score: float
    doc_ids: tuple[str, ...]  # chunk.doc_id first, then near-duplicates in other documents
    published: str | None = None
    url: str | None = None


@dataclass(frozen=True)
class Citation:
    """A passage an answer cites, numbered as the ``[n]`` markers in the answer text."""

    n: int
    doc_id: str
    title: str
    text: str
    start: int
    end: int
    score: float
    url: str | None = None
    published: str | None = None
    also_in: tuple[str, ...] = ()  # other documents carrying the same passage


@dataclass(frozen=True)
class Message:
    role: Role
    content: str


@dataclass(frozen=True)
class Answer:
    """What the engine replies: text with ``[n]`` markers and the citations they name."""

    question: str
    text: str
    abstained: bool
    citations: tuple[Citation, ...]
    model: str
    degraded: bool = False
    timings_ms: Mapping[str, float] = field(default_factory=dict)
    standalone_question: str | None = None  # the follow-up rewritten, when history was given
    conversation_id: str | None = None
