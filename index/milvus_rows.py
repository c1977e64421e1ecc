"""Rows of the Milvus backend's collections, and the small conversions they need."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from index.disk import directory_size
from index.types import Chunk, Document

PART_BYTES = 60_000  # a document's text is stored in parts of at most this many UTF-8 bytes
FIELD_CHARS = 16_000  # title, url, source: at most 4 bytes a character, under VARCHAR's 65,535


def store_size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return directory_size(path) if path.is_dir() else 0


def document_rows(doc: Document) -> list[dict[str, Any]]:
    texts = split_bytes(doc.text, PART_BYTES)
    meta = json.dumps(
        {
            "title": clip(doc.title, FIELD_CHARS),
            "published": doc.published,
            "url": clip(doc.url, 8_000) if doc.url else None,
            "source": clip(doc.source, 8_000) if doc.source else None,
            "hash": doc.content_hash,
        },
        ensure_ascii=False,
    )
    return [
        {
            "part_id": int_id(doc.doc_id, "part", str(n)),
            "doc_id": doc.doc_id,
            "part": n,
            "parts": len(texts),
            "text": text,
            "meta": meta,
            "pad": [0.0, 0.0],
        }
        for n, text in enumerate(texts)
    ]


def chunk_from(entity: dict[str, Any]) -> Chunk:
    return Chunk(
        chunk_id=int(entity["chunk_id"]),
        doc_id=entity["doc_id"],
        title=entity["title"],
        ordinal=int(entity["ordinal"]),
        start=int(entity["start"]),
        end=int(entity["end"]),
        text=entity["text"],
    )


def where_in(field: str, values: Sequence[str]) -> str:
    # A JSON string literal is a Milvus string literal (quotes and backslashes escaped).
    return f"{field} in [{', '.join(json.dumps(v, ensure_ascii=False) for v in values)}]"


def int_id(*parts: str) -> int:
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") & ((1 << 63) - 1)


def chunk_id(doc_id: str, ordinal: int, text: str) -> int:
    return int_id(doc_id, str(ordinal), text)


def clip(text: str, chars: int) -> str:
    return text[:chars]


def clip_bytes(text: str, limit: int) -> str:
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    return data[:limit].decode("utf-8", errors="ignore")


def split_bytes(text: str, limit: int) -> list[str]:
    """``text`` in pieces of at most ``limit`` UTF-8 bytes, never splitting a character."""
    data = text.encode("utf-8")
    parts, start = [], 0
    while True:
        end = min(len(data), start + limit)
        while end < len(data) and (data[end] & 0xC0) == 0x80:  # inside a character
            end -= 1
        parts.append(data[start:end].decode("utf-8"))
        if end >= len(data):
            return parts
        start = end
