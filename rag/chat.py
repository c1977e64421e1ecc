"""Conversations: a question asked within a conversation is answered with its earlier turns.

One engine behind the HTTP ``conversation_id``, the Slack threads and ``rag chat``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from rag.conversations import ConversationStore
from rag.types import Answer

if TYPE_CHECKING:
    from rag.pipeline import AnswerStream, Pipeline


class ChatEngine:
    """Looks up a conversation's history, asks the pipeline, and records the new turn."""

    def __init__(
        self,
        pipeline: Callable[[], Pipeline],
        conversations: ConversationStore,
        *,
        max_turns: int = 3,
    ) -> None:
        # A callable, so the API can swap in a pipeline over a newer index snapshot.
        self._pipeline = pipeline
        self._conversations = conversations
        self._max_turns = max_turns

    @property
    def conversations(self) -> ConversationStore:
        return self._conversations

    def ask(
        self,
        question: str,
        *,
        conversation_id: str | None = None,
        top_k: int | None = None,
        doc_ids: Sequence[str] | None = None,
    ) -> Answer:
        conversation_id = conversation_id or self._conversations.new_id()
        history = self._conversations.history(conversation_id, self._max_turns)
        answer = self._pipeline().ask(question, top_k=top_k, history=history, doc_ids=doc_ids)
        answer = _with_conversation(answer, conversation_id)
        self._conversations.append(conversation_id, question, answer)
        return answer

    def stream(
        self,
        question: str,
        *,
        conversation_id: str | None = None,
        top_k: int | None = None,
        doc_ids: Sequence[str] | None = None,
    ) -> AnswerStream:
        """Tokens as they come; the turn is recorded when the stream finishes."""
        conversation_id = conversation_id or self._conversations.new_id()
        history = self._conversations.history(conversation_id, self._max_turns)
        stream = self._pipeline().stream(question, top_k=top_k, history=history, doc_ids=doc_ids)

        def finish(answer: Answer) -> Answer:
            answer = _with_conversation(answer, conversation_id)
            self._conversations.append(conversation_id, question, answer)
            return answer

        stream.on_finish(finish)
        return stream


def _with_conversation(answer: Answer, conversation_id: str) -> Answer:
    from dataclasses import replace

    return replace(answer, conversation_id=conversation_id)
