"""Files to documents: .txt, .md, .html/.htm and .jsonl, cleaned; unreadable files reported."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from index.cleaning import clean_text, first_line
from index.errors import DocumentError
from index.types import Document, content_hash
from index.validation import normalize_doc_id, without_controls

ACCEPTED_SUFFIXES = frozenset({".txt", ".md", ".html", ".htm", ".jsonl"})
# An uploaded file whose name has none of those suffixes is read by its declared type.
MEDIA_TYPES = {
    "text/plain": ".txt",
    "text/markdown": ".md",
    "text/html": ".html",
    "application/jsonl": ".jsonl",
    "application/x-ndjson": ".jsonl",
}
# Elements that never hold article text.
_STRIP_TAGS = (
    "script",
    "style",
    "noscript",
    "nav",
    "footer",
    "aside",
    "form",
    "iframe",
    "svg",
    "template",
    "button",
    "select",
    "figure",
)
_BLOCK_TAGS = (
    "p",
    "div",
    "section",
    "article",
    "main",
    "li",
    "ul",
    "ol",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "blockquote",
    "pre",
    "table",
    "tr",
    "td",
    "th",
    "dd",
    "dt",
    "figcaption",
)


@dataclass
class LoadResult:
    """Documents read from disk, and the files (or jsonl lines) that could not be read."""

    documents: list[Document] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)


def load_documents(paths: Sequence[Path]) -> LoadResult:
    """Read every accepted file under ``paths`` (directories are walked recursively)."""
    result = LoadResult()
    seen: dict[str, str] = {}
    for path in _files(paths, result):
        try:
            docs, failures = _read_file(path)
        except DocumentError as exc:
            result.failures.append((str(path), str(exc)))
            continue
        result.failures.extend(failures)
        for doc in docs:
            if doc.doc_id in seen:
                result.failures.append(
                    (str(path), f"duplicate doc_id {doc.doc_id!r} (also in {seen[doc.doc_id]})")
                )
                continue
            seen[doc.doc_id] = str(path)
            result.documents.append(doc)
    return result


def parse_upload(filename: str, data: bytes, media_type: str | None = None) -> list[Document]:
    """Documents from an uploaded file's bytes; raises ``DocumentError`` when unusable.

    The type comes from the name's suffix, else from ``media_type`` (``MEDIA_TYPES``); the
    doc_id of a single document is the name without that suffix. A name with folders in it
    (``../../etc/passwd.txt``) is refused rather than cut down to its last part.
    """
    if "/" in filename or "\\" in filename:
        raise DocumentError(f"file name {filename[:80]!r} has folders in it; send the bare name")
    suffix = Path(filename).suffix.lower()
    stem = Path(filename).stem if filename else ""
    if suffix not in ACCEPTED_SUFFIXES:
        declared = (media_type or "").split(";")[0].strip().lower()
        if declared not in MEDIA_TYPES:
            raise DocumentError(
                f"unsupported file type {suffix or '(none)'!r} ({declared or 'no media type'}); "
                f"accepted: {', '.join(sorted(ACCEPTED_SUFFIXES))}, "
                f"or a part of type {', '.join(MEDIA_TYPES)}"
            )
        suffix, stem = MEDIA_TYPES[declared], filename
    text = _decode(data)
    if suffix == ".jsonl":
        docs, failures = _parse_jsonl(text, source=None, label=filename or "upload")
        if failures:
            where, reason = failures[0]
            raise DocumentError(f"{where}: {reason}")
        if not docs:
            raise DocumentError(f"{filename or 'upload'}: no documents in the file")
        return docs
    return [_parse_single(text, suffix, doc_id=stem or None, source=None)]


def make_document(
    text: str,
    *,
    doc_id: str | None = None,
    title: str | None = None,
    published: str | None = None,
    url: str | None = None,
    source: str | None = None,
) -> Document:
    """A document from raw text: cleaned (control characters become spaces); title from the
    first line and id from a content hash when not given. Raises ``DocumentError`` when the
    id is not valid (``index.validation``) or nothing is left to index."""
    text = without_controls(text)
    raw_title = first_line(text)
    stored = clean_text(text)
    if not stored:
        raise DocumentError("the document has no text")
    title = _optional_str(title) or raw_title
    if doc_id is None:
        doc_id = "doc-" + content_hash(title, stored)[:16]
    try:
        doc_id = normalize_doc_id(doc_id)
    except ValueError as exc:
        raise DocumentError(f"invalid doc_id {doc_id[:40]!r}: {exc}") from None
    return Document(
        doc_id=doc_id,
        title=title,
        text=stored,
        published=_optional_str(published),
        url=_optional_str(url),
        source=source,
    )


def list_files(paths: Sequence[Path], failures: list[tuple[str, str]]) -> list[Path]:
    """Every accepted file under ``paths``; what cannot be read is added to ``failures``."""
    result = LoadResult()
    files = list(_files(paths, result))
    failures.extend(result.failures)
    return files


def _files(paths: Sequence[Path], result: LoadResult) -> Iterator[Path]:
    for path in paths:
        path = Path(path)
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                if child.suffix.lower() in ACCEPTED_SUFFIXES and child.is_file():
                    yield child
        elif path.is_file():
            if path.suffix.lower() in ACCEPTED_SUFFIXES:
                yield path
            else:
                result.failures.append((str(path), f"unsupported file type {path.suffix!r}"))
        elif os.path.lexists(path):  # a FIFO, a device, a broken or looping link
            result.failures.append((str(path), "not a regular file or directory"))
        else:
            result.failures.append((str(path), "no such file or directory"))


def _read_file(path: Path) -> tuple[list[Document], list[tuple[str, str]]]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DocumentError(f"cannot read: {exc.strerror or exc}") from exc
    text = _decode(data)
    source = str(path.resolve())
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        # A bad line is reported on its own; the good lines of the file still load.
        return _parse_jsonl(text, source=source, label=str(path))
    return [_parse_single(text, suffix, doc_id=path.stem, source=source)], []


def _decode(data: bytes) -> str:
    # Anywhere in the file, not only near its start: UTF-8 text never holds a NUL byte.
    if b"\x00" in data:
        raise DocumentError("binary file, not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DocumentError(f"not UTF-8 text (byte {exc.start})") from exc


def _parse_single(text: str, suffix: str, *, doc_id: str | None, source: str | None) -> Document:
    if suffix in (".html", ".htm"):
        title, body = html_to_text(text)
        return make_document(body, doc_id=doc_id, title=title, source=source)
    if suffix == ".md":  # "# Headline": the title is the line without its heading marks
        title = first_line(text).lstrip("#").strip() or None
        return make_document(text, doc_id=doc_id, title=title, source=source)
    return make_document(text, doc_id=doc_id, source=source)


def _parse_jsonl(
    text: str, *, source: str | None, label: str
) -> tuple[list[Document], list[tuple[str, str]]]:
    docs: list[Document] = []
    failures: list[tuple[str, str]] = []
    first_line_of: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{label}:{number}"
        try:
            record = json.loads(line)
            if not isinstance(record, dict):
                raise DocumentError("expected a JSON object")
            body = record.get("text")
            if not isinstance(body, str) or not body.strip():
                raise DocumentError('missing "text"')
            fields = {key: _string_field(record, key) for key in _JSONL_FIELDS}
            doc = make_document(body, source=source, **fields)
        except json.JSONDecodeError as exc:
            failures.append((where, f"invalid JSON ({exc.msg})"))
            continue
        except DocumentError as exc:
            failures.append((where, str(exc)))
            continue
        if doc.doc_id in first_line_of:
            failures.append(
                (
                    where,
                    f"duplicate doc_id {doc.doc_id!r} (first on line {first_line_of[doc.doc_id]})",
                )
            )
            continue
        first_line_of[doc.doc_id] = number
        docs.append(doc)
    return docs, failures


_JSONL_FIELDS = ("doc_id", "title", "published", "url")


def _string_field(record: dict[str, object], key: str) -> str | None:
    value = record.get(key)
    if value is None or isinstance(value, str):
        return value
    raise DocumentError(f'"{key}" must be a string')


def _optional_str(value: str | None) -> str | None:
    if value is None:
        return None
    text = without_controls(value).strip()
    return text or None


def html_to_text(html: str) -> tuple[str | None, str]:
    """(title, body text) of an HTML page: scripts, navigation, header and footer removed."""
    from bs4 import BeautifulSoup  # lazy: only HTML input needs it

    soup = BeautifulSoup(html, "html.parser")
    page_title = soup.title.get_text(" ", strip=True) if soup.title else None
    for tag in soup(_STRIP_TAGS):
        tag.decompose()
    for tag in soup("header"):
        # The site's masthead goes; an article's own header holds its headline and stays.
        if tag.find_parent(["article", "main"]) is None:
            tag.decompose()
    if soup.head:
        soup.head.decompose()
    body = soup.find("article") or soup.find("main") or soup.body or soup
    heading = body.find("h1")
    title = (heading.get_text(" ", strip=True) if heading else None) or page_title
    for br in body.find_all("br"):
        br.replace_with(" ")
    for tag in body.find_all(_BLOCK_TAGS):
        tag.insert_before("\n\n")
        tag.insert_after("\n\n")
    lines = []
    for piece in body.get_text().split("\n\n"):
        line = " ".join(piece.split())
        lines.append(line)
    text = "\n\n".join(line for line in lines if line)
    if title and not text.startswith(title):
        text = f"{title}\n\n{text}"
    return title, text
