"""The ``Generator`` protocol: messages in, text deltas out."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol

from rag.types import Message


class Generator(Protocol):
    """A chat model. ``complete`` yields text deltas as they come.

    ``grammar`` (llama.cpp GBNF) holds the reply to a shape where the model can be held to one
    (the embedded model); other models ignore it. It raises ``LLMError`` (or
    ``LLMTimeoutError``) when the model fails, possibly mid-stream.
    """

    @property
    def model(self) -> str: ...

    def complete(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int | None = None,
        grammar: str | None = None,
    ) -> Iterator[str]: ...
