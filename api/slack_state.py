"""What the Slack bot must remember: events already handled (SQLite) and per-user question rates."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

from rag.conversations import open_database

__all__ = ["RateLimiter", "SlackState"]

_KEEP_CLAIMS_S = 7 * 24 * 3600  # Slack retries within minutes; a week is plenty


class SlackState:
    """Claims on events and messages, so a retry or a repeat never gets a second answer.

    Kept in SQLite so a restart in the middle of Slack's retries does not answer twice.
    """

    def __init__(self, path: Path) -> None:
        self._lock = threading.Lock()
        self._db = open_database(path)
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS claims (key TEXT PRIMARY KEY, created REAL NOT NULL)"
        )
        self._claims = 0

    def claim(self, key: str) -> bool:
        """True the first time ``key`` is claimed, False ever after."""
        now = time.time()
        with self._lock:
            cursor = self._db.execute(
                "INSERT OR IGNORE INTO claims (key, created) VALUES (?, ?)", (key, now)
            )
            self._claims += 1
            if self._claims % 1000 == 0:
                self._db.execute("DELETE FROM claims WHERE created < ?", (now - _KEEP_CLAIMS_S,))
        return cursor.rowcount == 1

    def close(self) -> None:
        with self._lock:
            self._db.close()


class RateLimiter:
    """At most ``per_minute`` questions from each user in any sliding minute."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._per_minute = per_minute
        self._clock = clock
        self._lock = threading.Lock()
        self._asked: dict[str, deque[float]] = {}

    def allow(self, user: str) -> bool:
        """Count a question from ``user``; False (and not counted) when over the limit."""
        now = self._clock()
        with self._lock:
            times = self._asked.setdefault(user, deque())
            while times and times[0] <= now - 60:
                times.popleft()
            if len(times) >= self._per_minute:
                return False
            times.append(now)
            if len(self._asked) > 10_000:
                # Forget users who have been quiet for a minute, so memory stays bounded.
                self._asked = {u: t for u, t in self._asked.items() if t and t[-1] > now - 60}
            return True

    def retry_after(self, user: str) -> float:
        """Seconds until ``user`` may ask again (0 when they may now)."""
        now = self._clock()
        with self._lock:
            times = self._asked.get(user)
            if not times or len(times) < self._per_minute:
                return 0.0
            return max(0.0, times[0] + 60 - now)
