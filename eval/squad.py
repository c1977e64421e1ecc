"""SQuAD 2.0 files: each paragraph becomes a document, each question an eval item.

The official JSON is ``{"version": "v2.0", "data": [{"title", "paragraphs": [{"context",
"qas": [{"id", "question", "answers": [{"text", "answer_start"}], "is_impossible",
"plausible_answers"?}]}]}]}``. A paragraph's ``doc_id`` is ``<title>-<nnn>-<hash>``: the
article title as a slug, the paragraph's position in the article and the first 8 hex digits
of its text's sha256, so the same file always gives the same ids and an edited paragraph a
new one. Answerable questions become ``factoid`` items whose gold document is their
paragraph; unanswerable ones (``is_impossible``) become ``unanswerable`` items that still
name their paragraph in ``requires_docs`` (a server without it cannot be asked them fairly).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eval.dataset import DatasetError, EvalItem, read_dataset_text
from index.loaders import make_document
from rag.errors import DocumentError
from rag.types import Document

__all__ = ["SQUAD_PREFIX", "SquadSet", "is_squad_file", "load_squad", "parse_squad"]

SQUAD_PREFIX = "squad:"
_SLUG = re.compile(r"[^A-Za-z0-9]+")


@dataclass(frozen=True)
class SquadSet:
    """The paragraphs as documents and the questions as items, in file order."""

    documents: tuple[Document, ...]
    items: tuple[EvalItem, ...]

    @property
    def answerable(self) -> int:
        return sum(1 for item in self.items if item.has_answer)


def is_squad_file(path: Path) -> bool:
    """Whether ``path`` is meant as a SQuAD file: a ``.json`` file holding one object with a
    ``data`` key. Its shape is not checked here, so that a malformed one goes to
    ``load_squad``, which names the problem. A JSONL eval set (several objects) is not one."""
    if path.suffix.lower() != ".json":
        return False
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    return isinstance(raw, dict) and "data" in raw


def load_squad(path: Path) -> SquadSet:
    text = read_dataset_text(path, "the SQuAD file")
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DatasetError(f"{path}: not JSON ({exc.msg}, line {exc.lineno})") from exc
    return parse_squad(raw, source=str(path))


def parse_squad(raw: Any, *, source: str = "<squad>") -> SquadSet:
    """The documents and items of a parsed SQuAD 2.0 file; a malformed part raises
    ``DatasetError`` naming where it is (article, paragraph, question)."""
    data = raw.get("data") if isinstance(raw, dict) else None
    if not isinstance(data, list) or not data:
        raise DatasetError(f"{source}: not a SQuAD file (no 'data' list of articles)")
    documents: list[Document] = []
    items: list[EvalItem] = []
    seen: set[str] = set()
    for a, article in enumerate(data):
        where = f"{source}: article {a}"
        if not isinstance(article, dict) or not isinstance(article.get("paragraphs"), list):
            raise DatasetError(f"{where}: expected an object with a 'paragraphs' list")
        title = _text(article, "title", where)
        for p, paragraph in enumerate(article["paragraphs"]):
            at = f"{where} ({title}), paragraph {p}"
            if not isinstance(paragraph, dict):
                raise DatasetError(f"{at}: expected an object")
            context = _text(paragraph, "context", at)
            doc_id = paragraph_id(title, p, context)
            try:
                documents.append(make_document(context, doc_id=doc_id, title=title))
            except DocumentError as exc:
                raise DatasetError(f"{at}: {exc}") from exc
            qas = paragraph.get("qas", [])
            if not isinstance(qas, list):
                raise DatasetError(f"{at}: 'qas' must be a list")
            for qa in qas:
                item = _item(qa, doc_id, at)
                if item.id in seen:
                    raise DatasetError(f"{at}: duplicate question id {item.id!r}")
                seen.add(item.id)
                items.append(item)
    if not items:
        raise DatasetError(f"{source}: the SQuAD file has no questions")
    return SquadSet(tuple(documents), tuple(items))


def paragraph_id(title: str, position: int, context: str) -> str:
    slug = _SLUG.sub("_", title).strip("_")[:60] or "article"
    digest = hashlib.sha256(context.encode("utf-8")).hexdigest()[:8]
    return f"{slug}-{position:03d}-{digest}"


def _item(qa: Any, doc_id: str, where: str) -> EvalItem:
    if not isinstance(qa, dict):
        raise DatasetError(f"{where}: a question must be an object")
    qid = _text(qa, "id", where)
    where = f"{where}, question {qid}"
    question = _text(qa, "question", where)
    impossible = qa.get("is_impossible", False)
    if not isinstance(impossible, bool):
        raise DatasetError(f"{where}: 'is_impossible' must be true or false")
    answers = _answers(qa.get("answers", []), where)
    if impossible:
        # plausible_answers are the tempting wrong spans; they are not gold.
        return EvalItem(qid, question.strip(), "unanswerable", (), (), requires_docs=(doc_id,))
    if not answers:
        raise DatasetError(f"{where}: an answerable question needs at least one answer")
    return EvalItem(qid, question.strip(), "factoid", answers, (doc_id,))


def _answers(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise DatasetError(f"{where}: 'answers' must be a list")
    texts: list[str] = []
    for answer in value:
        if not isinstance(answer, Mapping) or not isinstance(answer.get("text"), str):
            raise DatasetError(f"{where}: each answer must be an object with a 'text'")
        if answer["text"].strip():
            texts.append(answer["text"].strip())
    return tuple(dict.fromkeys(texts))  # the crowd often repeats a span; order kept


def _text(raw: Mapping[str, Any], key: str, where: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value.strip():
        raise DatasetError(f"{where}: {key!r} must be a non-empty string")
    return value
