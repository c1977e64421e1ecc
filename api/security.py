"""Who may call and how much: Bearer API keys, a per-client rate limit, a request body limit.

One ASGI middleware, so the checks run before any body is parsed: an unauthorised request
gets 401 whatever its body, and an oversized body is refused before it is read in full.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import error_response

__all__ = ["ApiKeys", "RateLimiter", "SecurityMiddleware"]

PROTECTED_PREFIXES = ("/v1/", "/mcp")  # the JSON API and the MCP tools; the page is open


class ApiKeys:
    """The configured keys; ``identify`` compares in constant time and never short-circuits."""

    def __init__(self, keys: Sequence[str]) -> None:
        self._keys = [key.encode() for key in keys]

    @property
    def enabled(self) -> bool:
        return bool(self._keys)

    def identify(self, authorization: str | None) -> str | None:
        """The caller's identity (a digest of the key, never the key) or None when refused."""
        scheme, _, token = (authorization or "").partition(" ")
        candidate = token.strip().encode() if scheme.lower() == "bearer" else b""
        matched = False
        for key in self._keys:
            # Check every key, so timing does not reveal which one (or how many) matched.
            matched |= hmac.compare_digest(candidate, key)
        if not matched or not candidate:
            return None
        return "key:" + hashlib.sha256(candidate).hexdigest()[:16]


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """A token bucket per caller: ``per_minute`` requests a minute, bursts up to the same."""

    _MAX_CALLERS = 10_000  # beyond this, idle callers (full buckets) are forgotten

    def __init__(self, per_minute: int) -> None:
        self._capacity = float(per_minute)
        self._rate = per_minute / 60.0
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def acquire(self, caller: str) -> float:
        """0.0 when the request may go ahead, else the seconds to wait before retrying."""
        now = time.monotonic()
        with self._lock:
            bucket = self._buckets.get(caller)
            if bucket is None:
                if len(self._buckets) >= self._MAX_CALLERS:
                    self._forget_idle(now)
                bucket = self._buckets[caller] = _Bucket(self._capacity, now)
            bucket.tokens = min(self._capacity, bucket.tokens + (now - bucket.updated) * self._rate)
            bucket.updated = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return 0.0
            return (1.0 - bucket.tokens) / self._rate

    def _forget_idle(self, now: float) -> None:
        full_after = self._capacity / self._rate
        self._buckets = {
            caller: bucket
            for caller, bucket in self._buckets.items()
            if now - bucket.updated < full_after
        }


class SharedRateLimiter:
    """``RateLimiter``'s token buckets in a SQLite file, so the API processes of one machine
    (``rag serve --workers N``) share one budget per caller instead of N."""

    def __init__(self, per_minute: int, path: Path) -> None:
        from rag.conversations import open_database

        self._capacity = float(per_minute)
        self._rate = per_minute / 60.0
        self._lock = threading.Lock()
        self._db = open_database(
            path,
            (
                "CREATE TABLE IF NOT EXISTS buckets"
                " (caller TEXT PRIMARY KEY, tokens REAL, updated REAL)",
            ),
        )
        self._db.execute("PRAGMA synchronous=OFF")  # a lost refill after a crash is harmless
        self._db.execute("PRAGMA busy_timeout=2000")

    def acquire(self, caller: str) -> float:
        """0.0 when the request may go ahead, else the seconds to wait before retrying."""
        now = time.time()  # one clock for every process
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")  # one process at a time reads and writes the bucket
            try:
                row = db.execute(
                    "SELECT tokens, updated FROM buckets WHERE caller = ?", (caller,)
                ).fetchone()
                tokens = self._capacity if row is None else row[0] + (now - row[1]) * self._rate
                tokens = min(self._capacity, tokens)
                wait = 0.0
                if tokens >= 1.0:
                    tokens -= 1.0
                else:
                    wait = (1.0 - tokens) / self._rate
                db.execute(
                    "INSERT OR REPLACE INTO buckets (caller, tokens, updated) VALUES (?, ?, ?)",
                    (caller, tokens, now),
                )
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            return wait


class _BodyTooLarge(Exception):
    pass


class SecurityMiddleware:
    """Auth and rate limit on ``/v1/*``; a body size limit on every request."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        keys: ApiKeys,
        limiter: RateLimiter | SharedRateLimiter,
        max_body_bytes: int,
    ) -> None:
        self.app = app
        self.keys = keys
        self.limiter = limiter
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        if _protected(scope["path"]) and scope["method"] != "OPTIONS":
            caller = self._caller(scope, headers)
            if caller is None:
                # Failed attempts count against the client's address: no free key guessing.
                wait = self.limiter.acquire(_address(scope))
                if wait > 0:
                    await self._rate_limited(wait, scope, receive, send)
                    return
                response = error_response(
                    401,
                    "unauthorized",
                    "missing or invalid API key: send 'Authorization: Bearer KEY'",
                    headers={"WWW-Authenticate": "Bearer"},
                    path=scope["path"],
                )
                await response(scope, receive, send)
                return
            wait = self.limiter.acquire(caller)
            if wait > 0:
                await self._rate_limited(wait, scope, receive, send)
                return
        length = headers.get(b"content-length", b"")
        if length.isdigit() and int(length) > self.max_body_bytes:
            await self._too_large(scope, receive, send)
            return
        try:
            body_receive = await self._buffered(receive) if _has_body(headers) else receive
        except _BodyTooLarge:
            await self._too_large(scope, receive, send)
            return
        await self.app(scope, body_receive, send)

    def _caller(self, scope: Scope, headers: dict[bytes, bytes]) -> str | None:
        if self.keys.enabled:
            return self.keys.identify(headers.get(b"authorization", b"").decode("latin-1"))
        return _address(scope)

    async def _rate_limited(self, wait: float, scope: Scope, receive: Receive, send: Send) -> None:
        message = f"rate limit exceeded; retry in {math.ceil(wait)} s"
        response = error_response(
            429, "rate_limited", message, retry_after=wait, path=scope["path"]
        )
        await response(scope, receive, send)

    async def _buffered(self, receive: Receive) -> Receive:
        """Read the whole body (up to the limit) so no route ever sees an oversized one."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return _replay([message], receive)
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                raise _BodyTooLarge
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
        return _replay([body], receive)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        message = f"request body larger than {self.max_body_bytes} bytes"
        response = error_response(
            413, "payload_too_large", message, headers={"Connection": "close"}, path=scope["path"]
        )
        await response(scope, receive, send)


def _protected(path: str) -> bool:
    return any(path == p.rstrip("/") or path.startswith(p) for p in PROTECTED_PREFIXES)


def _address(scope: Scope) -> str:
    client = scope.get("client")
    return "ip:" + (client[0] if client else "unknown")


def _has_body(headers: dict[bytes, bytes]) -> bool:
    return b"content-length" in headers or b"transfer-encoding" in headers


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()  # then whatever comes next (e.g. http.disconnect)

    return replay
