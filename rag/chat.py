"""Conversations: a question asked within a conversation is answered with its earlier turns.

One engine behind the HTTP ``conversation_id``, the Slack threads and ``rag chat``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Protocol

from rag.conversations import ConversationStore
from rag.errors import InputError, RemoteError
from rag.types import Answer, Message

if TYPE_CHECKING:
    from rag.pipeline import AnswerStream, Pipeline

__all__ = ["Asker", "ChatEngine", "converse", "format_answer"]

QUIT_COMMANDS = frozenset({"/quit", "/exit", "/q"})


class Asker(Protocol):
    """What a conversation asks: this process's ``ChatEngine``, or a server (``rag.remote``)."""

    def ask(
        self, question: str, *, conversation_id: str | None = None, top_k: int | None = None
    ) -> Answer: ...


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

    def history(self, conversation_id: str) -> list[Message]:
        """The earlier turns a question in this conversation would be answered with."""
        return self._conversations.history(conversation_id, self._max_turns)

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
        answer = replace(answer, conversation_id=conversation_id)
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
            answer = replace(answer, conversation_id=conversation_id)
            self._conversations.append(conversation_id, question, answer)
            return answer

        stream.on_finish(finish)
        return stream


def format_answer(answer: Answer, *, quote_chars: int = 160) -> str:
    """An answer for a terminal: the text, then each source with its title, date and a quote."""
    lines = [answer.text.strip()]
    if answer.degraded:
        lines.append("(the language model was unavailable; extracted from the articles)")
    if answer.citations and not answer.abstained:
        lines.append("Sources:")
        for c in answer.citations:
            when = f", {c.published[:10]}" if c.published else ""
            quote = " ".join(c.text.split())
            if len(quote) > quote_chars:
                quote = quote[:quote_chars].rsplit(" ", 1)[0] + "…"
            lines.append(f"  [{c.n}] {c.title} ({c.doc_id}{when})")
            lines.append(f"      “{quote}”")
    return "\n".join(lines)


def converse(
    engine: Asker,
    lines: Iterable[str],
    write: Callable[[str], None],
    *,
    conversation_id: str | None = None,
    top_k: int | None = None,
) -> str:
    """Answer each line as the next turn of one conversation; returns the conversation id.

    Stops at the end of ``lines`` or at ``/quit``; ``/new`` starts a fresh conversation.
    A question the engine rejects (empty, too long) is reported and the chat goes on.
    """
    conversation_id = conversation_id or ConversationStore.new_id()
    for line in lines:
        question = line.strip()
        if not question:
            continue
        if question.lower() in QUIT_COMMANDS:
            break
        if question.lower() == "/new":
            conversation_id = ConversationStore.new_id()
            write(f"(new conversation {conversation_id})")
            continue
        try:
            answer = engine.ask(question, conversation_id=conversation_id, top_k=top_k)
        except (InputError, RemoteError) as exc:
            write(f"error: {exc}")
            continue
        write(format_answer(answer))
        write("")
    return conversation_id
