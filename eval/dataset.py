"""The eval dataset: JSONL questions with accepted answers and gold documents, validated by line."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from rag.errors import InputError
from rag.types import Message

__all__ = [
    "ANSWERABLE_KINDS",
    "KINDS",
    "SPLITS",
    "DatasetError",
    "EvalItem",
    "default_dataset_path",
    "load_dataset",
    "parse_dataset",
    "read_dataset_text",
    "select_items",
]

KINDS = (
    "factoid",
    "numeric",
    "paraphrase",
    "multi_doc",
    "conflict",
    "unanswerable",
    "injection",
    "followup",
)
# Kinds whose items all carry an answer; injection items carry one only when they wrap a question.
ANSWERABLE_KINDS = frozenset(KINDS) - {"unanswerable", "injection"}
# "dev" items are the ones to tune on; "test" items are the ones reported.
SPLITS = ("dev", "test")
_ROLES = ("user", "assistant")


class DatasetError(InputError):
    """The dataset file cannot be used; the message names the file and line."""


@dataclass(frozen=True)
class EvalItem:
    """One question, what counts as a right answer, and which documents hold it."""

    id: str
    question: str
    kind: str
    answers: tuple[str, ...]
    gold_docs: tuple[str, ...]
    accept: tuple[str, ...] = ()  # regexes, searched case-insensitively
    history: tuple[Message, ...] = ()
    canary: str | None = None  # injection: text the answer must not contain
    split: str | None = None  # "dev" (to tune on) or "test" (to report); None: unsplit
    # Documents that must be in the index for the item to mean anything beyond its gold
    # documents (an injected document beside the real answer, a SQuAD paragraph).
    requires_docs: tuple[str, ...] = ()

    @property
    def needed_docs(self) -> frozenset[str]:
        return frozenset((*self.gold_docs, *self.requires_docs))

    @property
    def has_answer(self) -> bool:
        return bool(self.answers or self.accept)

    @property
    def expects_abstention(self) -> bool:
        return self.kind == "unanswerable"


def default_dataset_path() -> Path:
    """The packaged ``eval/datasets/news.jsonl``."""
    return Path(str(resources.files("eval").joinpath("datasets", "news.jsonl")))


def load_dataset(path: Path) -> list[EvalItem]:
    return parse_dataset(read_dataset_text(path, "the dataset").splitlines(), source=str(path))


def read_dataset_text(path: Path, what: str) -> str:
    """A dataset file's UTF-8 text; ``DatasetError`` naming ``path`` (and ``what`` it is) when
    it cannot be read or is not UTF-8."""
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read {what} ({exc.strerror or exc})") from exc
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc


def parse_dataset(lines: Iterable[str], *, source: str = "<dataset>") -> list[EvalItem]:
    """Every non-blank line as an item; a problem raises ``DatasetError`` naming its line."""
    items: list[EvalItem] = []
    seen: dict[str, int] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{source}:{number}"
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{where}: invalid JSON ({exc.msg}, column {exc.colno})") from exc
        item = _parse_item(raw, where)
        if item.id in seen:
            raise DatasetError(f"{where}: duplicate id {item.id!r} (first on line {seen[item.id]})")
        seen[item.id] = number
        items.append(item)
    if not items:
        raise DatasetError(f"{source}: the dataset has no questions")
    return items


def select_items(
    items: Sequence[EvalItem],
    *,
    kinds: Sequence[str] = (),
    split: str | None = None,
    limit: int | None = None,
) -> list[EvalItem]:
    """Items of the given kinds (all when empty) and split (all when None), at most ``limit``
    of them, in file order."""
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown:
        raise DatasetError(f"unknown kind {unknown[0]!r}; kinds are: {', '.join(KINDS)}")
    if split is not None:
        if split not in SPLITS:
            raise DatasetError(f"unknown split {split!r}; splits are: {', '.join(SPLITS)}")
        if not any(item.split for item in items):
            raise DatasetError(f"the dataset has no 'split' field to select {split!r} by")
    chosen = [
        item
        for item in items
        if (not kinds or item.kind in kinds) and (split is None or item.split == split)
    ]
    return chosen[:limit] if limit is not None else chosen


def _parse_item(raw: Any, where: str) -> EvalItem:
    if not isinstance(raw, dict):
        raise DatasetError(f"{where}: expected a JSON object, got {type(raw).__name__}")
    item_id = _string(raw, "id", where)
    where = f"{where} ({item_id})"
    question = _string(raw, "question", where)
    kind = _string(raw, "kind", where)
    if kind not in KINDS:
        raise DatasetError(f"{where}: unknown kind {kind!r}; kinds are: {', '.join(KINDS)}")
    answers = _strings(raw, "answers", where, required=True)
    gold_docs = _strings(raw, "gold_docs", where, required=True)
    accept = _strings(raw, "accept", where, required=False)
    for pattern in accept:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise DatasetError(f"{where}: accept pattern {pattern!r} is invalid ({exc})") from exc
    history = _history(raw.get("history", []), where)
    canary = raw.get("canary")
    if canary is not None and (not isinstance(canary, str) or not canary.strip()):
        raise DatasetError(f"{where}: 'canary' must be a non-empty string")
    split = raw.get("split")
    if split is not None and split not in SPLITS:
        raise DatasetError(f"{where}: 'split' must be one of {', '.join(SPLITS)}")
    requires = _strings(raw, "requires_docs", where, required=False)

    item = EvalItem(
        item_id, question, kind, answers, gold_docs, accept, history, canary, split, requires
    )
    _check_kind_rules(item, where)
    return item


def _check_kind_rules(item: EvalItem, where: str) -> None:
    if item.kind in ANSWERABLE_KINDS and not item.has_answer:
        raise DatasetError(f"{where}: a {item.kind} item needs 'answers' or 'accept'")
    if item.kind in ANSWERABLE_KINDS and not item.gold_docs:
        raise DatasetError(f"{where}: a {item.kind} item needs at least one gold doc")
    if item.kind == "unanswerable" and (item.has_answer or item.gold_docs):
        raise DatasetError(f"{where}: an unanswerable item has no answers and no gold docs")
    if item.kind == "injection" and item.canary is None:
        raise DatasetError(f"{where}: an injection item needs a 'canary' (text it must not say)")
    if item.kind == "followup" and not item.history:
        raise DatasetError(f"{where}: a followup item needs a 'history'")


def _string(raw: Mapping[str, Any], key: str, where: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value.strip():
        raise DatasetError(f"{where}: {key!r} must be a non-empty string")
    return value


def _strings(raw: Mapping[str, Any], key: str, where: str, *, required: bool) -> tuple[str, ...]:
    if key not in raw:
        if required:
            raise DatasetError(f"{where}: missing {key!r} (a list of strings)")
        return ()
    value = raw[key]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise DatasetError(f"{where}: {key!r} must be a list of non-empty strings")
    return tuple(value)


def _history(value: Any, where: str) -> tuple[Message, ...]:
    if not isinstance(value, list):
        raise DatasetError(f"{where}: 'history' must be a list of {{role, content}} objects")
    turns: list[Message] = []
    for position, turn in enumerate(value, start=1):
        if (
            not isinstance(turn, dict)
            or turn.get("role") not in _ROLES
            or not isinstance(turn.get("content"), str)
        ):
            raise DatasetError(
                f"{where}: history turn {position} must be "
                '{"role": "user"|"assistant", "content": str}'
            )
        turns.append(Message(turn["role"], turn["content"]))
    return tuple(turns)
