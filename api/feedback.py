"""Answer feedback (👍/👎) in SQLite, exported as eval cases so a bad answer becomes a test."""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Literal

from rag.conversations import open_database
from rag.errors import InputError, NotFoundError
from rag.settings import Settings
from rag.types import Answer, Message

__all__ = ["AnswerRecord", "EvalCase", "FeedbackStore", "Rating", "Vote", "eval_case", "export"]

Rating = Literal["up", "down"]
RATINGS: tuple[Rating, ...] = ("up", "down")

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS answers ("
    " answer_id TEXT PRIMARY KEY, created REAL NOT NULL, source TEXT NOT NULL,"
    " conversation_id TEXT, question TEXT NOT NULL, answer TEXT NOT NULL,"
    " abstained INTEGER NOT NULL, model TEXT NOT NULL,"
    " citations TEXT NOT NULL, history TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS votes ("
    " answer_id TEXT NOT NULL REFERENCES answers (answer_id), user TEXT NOT NULL,"
    " rating TEXT NOT NULL, created REAL NOT NULL, PRIMARY KEY (answer_id, user))",
)


@dataclass(frozen=True)
class AnswerRecord:
    """An answer as the user saw it, with what it cited and the turns before it."""

    answer_id: str
    question: str
    answer: str
    abstained: bool
    doc_ids: tuple[str, ...]  # cited documents, in citation order, without repeats
    history: tuple[Message, ...]
    conversation_id: str | None
    model: str
    source: str
    created: float


@dataclass(frozen=True)
class Vote:
    """Every user's rating of one answer, folded into one verdict."""

    answer: AnswerRecord
    ups: int
    downs: int
    updated: float

    @property
    def rating(self) -> Rating:
        # A tie counts as bad: a disputed answer is worth a look.
        return "up" if self.ups > self.downs else "down"


@dataclass(frozen=True)
class EvalCase:
    """One line of the eval dataset (``CONTRACT.md``), plus a ``note`` for a human to act on."""

    id: str
    question: str
    kind: str
    answers: tuple[str, ...]
    gold_docs: tuple[str, ...]
    history: tuple[Message, ...] = ()
    note: str | None = None

    def to_json(self) -> str:
        record: dict[str, object] = {
            "id": self.id,
            "question": self.question,
            "kind": self.kind,
            "answers": list(self.answers),
            "gold_docs": list(self.gold_docs),
        }
        if self.history:
            record["history"] = [{"role": m.role, "content": m.content} for m in self.history]
        if self.note:
            record["note"] = self.note
        return json.dumps(record, ensure_ascii=False)

    @property
    def complete(self) -> bool:
        """Usable by ``rag eval`` as it is; otherwise ``note`` says what a human must add."""
        if self.kind == "unanswerable":
            return True
        return bool(self.answers and self.gold_docs)


class FeedbackStore:
    """Answers shown to users and their votes, kept across restarts; safe across threads."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._db = open_database(path, _SCHEMA)

    @classmethod
    def open(cls, settings: Settings) -> FeedbackStore:
        return cls(settings.state_dir / "feedback.sqlite3")

    def record_answer(
        self, answer: Answer, *, history: Sequence[Message] = (), source: str = "slack"
    ) -> str:
        """Keep an answer so a later vote can name it; returns its id."""
        answer_id = "a-" + secrets.token_urlsafe(9)
        citations = [{"n": c.n, "doc_id": c.doc_id, "title": c.title} for c in answer.citations]
        turns = [{"role": m.role, "content": m.content} for m in history]
        with self._lock:
            self._db.execute(
                "INSERT INTO answers VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    answer_id,
                    time.time(),
                    source,
                    answer.conversation_id,
                    answer.question,
                    answer.text,
                    int(answer.abstained),
                    answer.model,
                    json.dumps(citations, ensure_ascii=False),
                    json.dumps(turns, ensure_ascii=False),
                ),
            )
        return answer_id

    def answer(self, answer_id: str) -> AnswerRecord | None:
        with self._lock:
            row = self._db.execute(
                f"SELECT {_ANSWER_COLUMNS} FROM answers a WHERE a.answer_id = ?", (answer_id,)
            ).fetchone()
        return _answer_record(row) if row else None

    def vote(self, answer_id: str, *, user: str, rating: str) -> Vote:
        """Record (or change) one user's rating of an answer."""
        if rating not in RATINGS:
            raise InputError(f"rating must be one of {', '.join(RATINGS)}, not {rating!r}")
        with self._lock:
            known = self._db.execute(
                "SELECT 1 FROM answers WHERE answer_id = ?", (answer_id,)
            ).fetchone()
            if known is None:
                raise NotFoundError(f"no answer {answer_id!r} to rate")
            self._db.execute(
                "INSERT INTO votes (answer_id, user, rating, created) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (answer_id, user) DO UPDATE"
                " SET rating = excluded.rating, created = excluded.created",
                (answer_id, user, rating, time.time()),
            )
        votes = self.votes(answer_ids=[answer_id])
        return votes[0]

    def votes(self, *, answer_ids: Iterable[str] | None = None) -> list[Vote]:
        """Every rated answer, oldest first, with its votes folded together."""
        query = (
            f"SELECT {_ANSWER_COLUMNS},"
            " SUM(v.rating = 'up'), SUM(v.rating = 'down'), MAX(v.created)"
            " FROM answers a JOIN votes v USING (answer_id)"
        )
        params: tuple[str, ...] = ()
        if answer_ids is not None:
            params = tuple(answer_ids)
            query += f" WHERE a.answer_id IN ({', '.join('?' for _ in params)})"
        query += " GROUP BY a.answer_id ORDER BY a.created, a.answer_id"
        with self._lock:
            rows = self._db.execute(query, params).fetchall()
        return [
            Vote(answer=_answer_record(row[:10]), ups=row[10], downs=row[11], updated=row[12])
            for row in rows
        ]

    def close(self) -> None:
        with self._lock:
            self._db.close()


_ANSWER_COLUMNS = (
    "a.answer_id, a.question, a.answer, a.abstained, a.citations, a.history,"
    " a.conversation_id, a.model, a.source, a.created"
)


def _answer_record(row: Sequence[object]) -> AnswerRecord:
    answer_id, question, text, abstained, citations, history, conv, model, source, created = row
    doc_ids = dict.fromkeys(c["doc_id"] for c in json.loads(str(citations)))
    turns = tuple(Message(m["role"], m["content"]) for m in json.loads(str(history)))
    return AnswerRecord(
        answer_id=str(answer_id),
        question=str(question),
        answer=str(text),
        abstained=bool(abstained),
        doc_ids=tuple(doc_ids),
        history=turns,
        conversation_id=None if conv is None else str(conv),
        model=str(model),
        source=str(source),
        created=float(str(created)),
    )


def eval_case(vote: Vote) -> EvalCase:
    """A rated answer as an eval case: 👍 keeps the answer as gold, 👎 leaves it for a human."""
    record = vote.answer
    kind = "followup" if record.history else "factoid"
    tally = f"{vote.ups} 👍 / {vote.downs} 👎"
    if vote.rating == "up":
        if record.abstained:
            # The bot said the articles don't answer it, and users agreed.
            return EvalCase(
                id=f"feedback-{record.answer_id}",
                question=record.question,
                kind="followup" if record.history else "unanswerable",
                answers=(),
                gold_docs=(),
                history=record.history,
            )
        return EvalCase(
            id=f"feedback-{record.answer_id}",
            question=record.question,
            kind=kind,
            answers=(record.answer,),
            gold_docs=record.doc_ids,
            history=record.history,
            note=None
            if record.doc_ids
            else f"rated good ({tally}) but cites nothing: add gold_docs.",
        )
    said = "abstained" if record.abstained else f"answered: {record.answer}"
    cited = ", ".join(record.doc_ids) or "nothing"
    return EvalCase(
        id=f"feedback-{record.answer_id}",
        question=record.question,
        kind=kind,
        answers=(),
        gold_docs=(),
        history=record.history,
        note=(
            f"rated bad ({tally}); the bot ({record.model}) {said} (cited {cited})."
            " Fill in answers and gold_docs."
        ),
    )


def export(store: FeedbackStore, out: IO[str], *, rating: Rating | None = None) -> list[EvalCase]:
    """Write every rated answer (or those rated ``rating``) as one eval JSONL line each."""
    cases = [eval_case(v) for v in store.votes() if rating is None or v.rating == rating]
    for case in cases:
        out.write(case.to_json() + "\n")
    return cases
