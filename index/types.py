"""The index layer's values: a document as stored and the chunks cut from it."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass


def content_hash(*parts: str | None) -> str:
    """A stable sha256 over the given parts (never Python's salted ``hash()``)."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update((part or "").encode("utf-8"))
        digest.update(b"\x1f")
    return digest.hexdigest()


@dataclass(frozen=True)
class Document:
    """One article as stored: ``text`` is the cleaned text every offset points into."""

    doc_id: str
    title: str
    text: str
    published: str | None = None  # ISO 8601 date, when known
    url: str | None = None
    source: str | None = None  # the file it came from; None when added through the API

    @property
    def content_hash(self) -> str:
        return content_hash(self.title, self.text, self.published, self.url)


@dataclass(frozen=True)
class Chunk:
    """A passage of a document: ``text == document.text[start:end]``."""

    chunk_id: int  # the int64 id in the vector index; never reused
    doc_id: str
    title: str
    ordinal: int  # position of the chunk within its document, from 0
    start: int
    end: int
    text: str
