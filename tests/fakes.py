"""Deterministic stand-ins for the models, passed in through constructors."""

from __future__ import annotations

import hashlib
import http.server
import itertools
import json
import re
import threading
import urllib.parse
from collections.abc import Callable, Iterator, Sequence

import numpy as np

from rag.errors import LLMError
from rag.types import Message

_WORD = re.compile(r"[a-z0-9]+")


class HashEmbedder:
    """Bag-of-words vectors from sha256-seeded word vectors, L2-normalised.

    Texts that share words get similar vectors, so retrieval behaves sensibly in tests.
    """

    def __init__(self, dimension: int = 64, name: str = "hash-embedder") -> None:
        self._dimension = dimension
        self._name = name
        self._cache: dict[str, np.ndarray] = {}

    @property
    def name(self) -> str:
        return self._name

    @property
    def dimension(self) -> int:
        return self._dimension

    def _word_vector(self, word: str) -> np.ndarray:
        vector = self._cache.get(word)
        if vector is None:
            seed = int.from_bytes(hashlib.sha256(word.encode()).digest()[:8], "little")
            vector = np.random.default_rng(seed).standard_normal(self._dimension)
            self._cache[word] = vector
        return vector

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self._dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in _WORD.findall(text.lower()):
                out[row] += self._word_vector(word)
            norm = np.linalg.norm(out[row])
            if norm > 0:
                out[row] /= norm
            else:
                out[row, 0] = 1.0
        return out


Script = str | Callable[[Sequence[Message]], str] | Exception


class ScriptedLLM:
    """A fake chat model: replies from a script, one entry per call (the last one repeats).

    An entry is a fixed reply, a function of the messages, or an exception to raise.
    Every call's messages are kept in ``calls`` (its grammar in ``grammars``) for assertions.
    """

    def __init__(self, *script: Script, model: str = "fake/scripted") -> None:
        self._script = list(script) or [""]
        self._model = model
        self.calls: list[list[Message]] = []
        self.grammars: list[str | None] = []  # each call's grammar

    @property
    def model(self) -> str:
        return self._model

    def complete(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int | None = None,
        grammar: str | None = None,
    ) -> Iterator[str]:
        self.calls.append(list(messages))
        self.grammars.append(grammar)
        entry = self._script[min(len(self.calls) - 1, len(self._script) - 1)]
        if isinstance(entry, Exception):
            raise entry
        reply = entry(messages) if callable(entry) else entry
        # Stream word by word, as a real model would.
        yield from re.findall(r"\S+\s*|\s+", reply)


class FailingLLM(ScriptedLLM):
    def __init__(self, error: Exception | None = None) -> None:
        super().__init__(error or LLMError("the model is down"))


class FakeSlack:
    """A fake Slack Web API: a real HTTP server on 127.0.0.1 that records every call.

    Point ``RAG_SLACK_API_URL`` (or a ``WebClient``'s ``base_url``) at ``.url``. Each call is kept
    as ``(method, params)`` in ``calls``; ``wait_for`` blocks (bounded) until enough arrived.
    """

    BOT_USER_ID = "UBOT"
    BOT_ID = "BBOT"

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, object]]] = []
        self._serial = itertools.count(1)  # message timestamps, unique per fake
        self._changed = threading.Condition()
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                method = self.path.split("?")[0].rsplit("/", 1)[-1]
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if "json" in (self.headers.get("Content-Type") or ""):
                    params: dict[str, object] = json.loads(raw or b"{}")
                else:
                    params = dict(urllib.parse.parse_qsl(raw.decode()))
                    if isinstance(params.get("blocks"), str):
                        params["blocks"] = json.loads(str(params["blocks"]))
                body = json.dumps(fake._reply(method, params)).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                with fake._changed:
                    fake.calls.append((method, params))
                    fake._changed.notify_all()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/api/"

    def _reply(self, method: str, params: dict[str, object]) -> dict[str, object]:
        if method == "auth.test":
            return {
                "ok": True,
                "team_id": "T1",
                "user_id": self.BOT_USER_ID,
                "bot_id": self.BOT_ID,
                "user": "rag",
            }
        if method == "chat.postMessage":
            ts = f"1700000000.{next(self._serial):06d}"
            return {"ok": True, "channel": params.get("channel"), "ts": ts}
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": f"1700000000.{next(self._serial):06d}"}
        return {"ok": True}

    def posts(self, method: str = "chat.postMessage") -> list[dict[str, object]]:
        with self._changed:
            return [params for name, params in self.calls if name == method]

    def wait_for(
        self, method: str = "chat.postMessage", count: int = 1, timeout: float = 20.0
    ) -> list[dict[str, object]]:
        """The first ``count`` calls of ``method``; AssertionError if they don't come in time."""
        with self._changed:
            arrived = self._changed.wait_for(
                lambda: sum(name == method for name, _ in self.calls) >= count, timeout
            )
            found = [params for name, params in self.calls if name == method]
        assert arrived, f"expected {count} {method} call(s) within {timeout} s, got {found}"
        return found[:count]

    def close(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
            self._server.server_close()
            self._thread.join()


_PASSAGE_LINE = re.compile(r"^\[(\d+)\] \([^)]*\) (.+)$", re.M)


def cite_first_passage(messages: Sequence[Message]) -> str:
    """A fake model that answers with the passage sentence sharing most words with the question
    (the first on a tie), cited: a diligent extractive reader."""
    prompt = messages[-1].content
    question = re.search(r"<question>(.*?)</question>", prompt, re.S)
    asked = _long_words(question.group(1)) if question else set()
    best: tuple[int, str, str] | None = None
    for match in _PASSAGE_LINE.finditer(prompt):
        for sentence in re.split(r"(?<=[.!?])\s", match.group(2)):
            shared = len(asked & _long_words(sentence))
            if best is None or shared > best[0]:
                best = (shared, sentence, match.group(1))
    if best is None:
        return "The articles don't say."
    return f"{best[1]} [{best[2]}]"


def _long_words(text: str) -> set[str]:
    return {word for word in re.findall(r"\w+", text.lower()) if len(word) > 3}
