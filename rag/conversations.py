"""Conversation history in SQLite, shared by the HTTP API, the Slack bot and ``rag chat``."""

from __future__ import annotations

import json
import secrets
import sqlite3
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from rag.errors import StoreError
from rag.types import Answer, Message

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS turns ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " conversation_id TEXT NOT NULL, created REAL NOT NULL,"
    " question TEXT NOT NULL, answer TEXT NOT NULL, citations TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS turns_conv ON turns (conversation_id, id)",
)


def open_database(path: Path, schema: Sequence[str] = ()) -> sqlite3.Connection:
    """A SQLite database shared between threads (callers hold their own lock), in WAL mode,
    with ``schema`` applied. A file that is not a usable database raises ``StoreError``."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            for statement in schema:
                db.execute(statement)
        except BaseException:
            db.close()
            raise
    except (sqlite3.Error, OSError) as exc:
        raise StoreError(
            f"cannot use {path} ({exc}); move it away to start a new one"
            if isinstance(exc, sqlite3.DatabaseError)
            and not isinstance(exc, sqlite3.OperationalError)
            else f"cannot open {path} ({exc})"
        ) from exc
    return db


class ConversationStore:
    """Turns of each conversation, kept across restarts. Safe to share between threads."""

    def __init__(self, path: Path) -> None:
        self._lock = threading.Lock()
        self._db = open_database(path, _SCHEMA)

    @staticmethod
    def new_id() -> str:
        return "c-" + secrets.token_urlsafe(12)

    def exists(self, conversation_id: str) -> bool:
        with self._lock:
            row = self._db.execute(
                "SELECT 1 FROM turns WHERE conversation_id = ? LIMIT 1", (conversation_id,)
            ).fetchone()
        return row is not None

    def history(self, conversation_id: str, max_turns: int = 3) -> list[Message]:
        """The last ``max_turns`` question/answer pairs, oldest first, as chat messages."""
        with self._lock:
            rows = self._db.execute(
                "SELECT question, answer FROM turns WHERE conversation_id = ?"
                " ORDER BY id DESC LIMIT ?",
                (conversation_id, max_turns),
            ).fetchall()
        messages: list[Message] = []
        for question, answer in reversed(rows):
            messages.append(Message("user", question))
            messages.append(Message("assistant", answer))
        return messages

    def append(self, conversation_id: str, question: str, answer: Answer) -> None:
        citations = json.dumps([c.doc_id for c in answer.citations])
        with self._lock:
            self._db.execute(
                "INSERT INTO turns (conversation_id, created, question, answer, citations)"
                " VALUES (?, ?, ?, ?, ?)",
                (conversation_id, time.time(), question, answer.text, citations),
            )

    def close(self) -> None:
        with self._lock:
            self._db.close()
