"""Deterministic stand-ins for the models, passed in through constructors."""

from __future__ import annotations

import hashlib
import re
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
    Every call's messages are kept in ``calls`` for assertions.
    """

    def __init__(self, *script: Script, model: str = "fake/scripted") -> None:
        self._script = list(script) or [""]
        self._model = model
        self.calls: list[list[Message]] = []

    @property
    def model(self) -> str:
        return self._model

    def complete(
        self, messages: Sequence[Message], *, max_tokens: int | None = None
    ) -> Iterator[str]:
        self.calls.append(list(messages))
        entry = self._script[min(len(self.calls) - 1, len(self._script) - 1)]
        if isinstance(entry, Exception):
            raise entry
        reply = entry(messages) if callable(entry) else entry
        # Stream word by word, as a real model would.
        for piece in re.findall(r"\S+\s*|\s+", reply):
            yield piece


class FailingLLM(ScriptedLLM):
    def __init__(self, error: Exception | None = None) -> None:
        super().__init__(error or LLMError("the model is down"))
