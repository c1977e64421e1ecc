"""What ``rag search``, ``rag ask`` and ``rag chat`` print, answered by a running server
(``rag.remote``) or in this process; ``rag.cli`` parses the options and calls these.

The server path imports httpx and the engine's plain values only: no model, no numpy.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING

import typer

from rag.settings import Settings

if TYPE_CHECKING:
    from rag.remote import RemoteEngine
    from rag.types import Answer

__all__ = [
    "ask_here",
    "ask_remote",
    "chat_here",
    "closing",
    "find_remote",
    "print_passages",
    "print_sources",
    "quote",
    "search_here",
    "search_remote",
    "stdin_lines",
]

Row = tuple[float, str, str, list[str], str]  # score, title, doc_id, also_in, text


def quote(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def find_remote(settings: Settings) -> RemoteEngine | None:
    """The `rag serve` at RAG_URL when it answers, with the first of RAG_API_KEYS as the key."""
    from rag.remote import find_server

    keys = settings.api_key_list
    return find_server(settings.url, keys[0] if keys else None)


@contextlib.contextmanager
def closing(remote: RemoteEngine) -> Iterator[RemoteEngine]:
    try:
        yield remote
    finally:
        remote.close()


# ---- search ------------------------------------------------------------------------------


def search_remote(remote: RemoteEngine, query: str, top_k: int | None, as_json: bool) -> list[Row]:
    body = remote.search(query, top_k=top_k)
    if as_json:
        typer.echo(json.dumps(body, indent=2, ensure_ascii=False))
        return []
    return [
        (r["score"], r["title"], r["doc_id"], r.get("also_in", []), r["text"])
        for r in body["results"]
    ]


def search_here(settings: Settings, query: str, top_k: int | None, as_json: bool) -> list[Row]:
    """The passages from an index loaded in this process (none when printed as JSON)."""
    from api.schemas import SearchResponse, SearchResult
    from rag.components import load_pipeline
    from rag.settings import EXTRACTIVE_MODEL

    # Passages only: no LLM to load.
    pipeline = load_pipeline(settings.model_copy(update={"llm_model": EXTRACTIVE_MODEL}))
    hits = pipeline.search(query, top_k=top_k)
    if as_json:
        body = SearchResponse(results=[SearchResult.from_hit(hit) for hit in hits])
        typer.echo(body.model_dump_json(indent=2))
        return []
    return [
        (hit.score, hit.chunk.title, hit.chunk.doc_id, list(hit.doc_ids[1:]), hit.chunk.text)
        for hit in hits
    ]


def print_passages(rows: list[Row]) -> None:
    if not rows:
        typer.echo("No passages found.")
    for rank, (score, title, doc_id, also_in, text) in enumerate(rows, start=1):
        also = f" (also in {', '.join(also_in)})" if also_in else ""
        typer.echo(f"[{rank}] {score:.3f}  {title}  {doc_id}{also}")
        typer.echo(f"    {quote(text, 300)}")


# ---- ask ---------------------------------------------------------------------------------


def ask_remote(
    remote: RemoteEngine, question: str, top_k: int | None, as_json: bool, stream: bool
) -> Answer | None:
    """The server's answer, printed (None when printed as JSON)."""
    from rag.remote import answer_from_body

    if stream and not as_json:
        pieces: list[str] = []
        body: dict[str, object] = {}
        for event, data in remote.stream(question, top_k=top_k):
            if event == "token":
                typer.echo(data["text"], nl=False)
                pieces.append(data["text"])
            elif event == "done":
                body = data
        answer = answer_from_body(body, remote.url)
        _after_stream("".join(pieces), answer)
        return answer
    body = remote.ask_json(question, top_k=top_k)
    if as_json:
        typer.echo(json.dumps(body, indent=2, ensure_ascii=False))
        return None
    answer = answer_from_body(body, remote.url)
    typer.echo(answer.text)
    return answer


def ask_here(
    settings: Settings, question: str, top_k: int | None, as_json: bool, stream: bool
) -> Answer | None:
    """This process's answer, printed (None when printed as JSON)."""
    from api.schemas import AskResponse
    from rag.components import load_pipeline

    pipeline = load_pipeline(settings)
    if stream and not as_json:
        answer_stream = pipeline.stream(question, top_k=top_k)
        pieces: list[str] = []
        for delta in answer_stream:
            typer.echo(delta, nl=False)
            pieces.append(delta)
        answer = answer_stream.answer
        _after_stream("".join(pieces), answer)
        return answer
    answer = pipeline.ask(question, top_k=top_k)
    if as_json:
        typer.echo(AskResponse.from_answer(answer).model_dump_json(indent=2))
        return None
    typer.echo(answer.text)
    return answer


def _after_stream(streamed: str, answer: Answer) -> None:
    typer.echo()
    if answer.text.strip() != streamed.strip():
        typer.echo(f"\nVerified answer: {answer.text}")


def print_sources(answer: Answer) -> None:
    if answer.degraded:
        typer.echo("(the model failed; this answer was extracted from the passages)", err=True)
    if answer.citations:
        typer.echo("\nSources:")
    for citation in answer.citations:
        date = f", {citation.published}" if citation.published else ""
        typer.echo(f"[{citation.n}] {citation.title} ({citation.doc_id}{date})")
        typer.echo(f"    “{quote(citation.text)}”")


# ---- chat --------------------------------------------------------------------------------


def stdin_lines() -> Iterator[str]:
    """Lines typed at a prompt on a terminal; plain lines from a pipe or file otherwise."""
    if not sys.stdin.isatty():
        yield from sys.stdin
        return
    while True:
        try:
            yield input("you> ")
        except EOFError:
            typer.echo()
            return


def chat_here(settings: Settings, conversation: str | None, top_k: int | None) -> str:
    """A conversation answered in this process; its id."""
    from rag.chat import ChatEngine, converse
    from rag.components import load_pipeline
    from rag.conversations import ConversationStore

    pipeline = load_pipeline(settings)
    conversations = ConversationStore(settings.state_dir / "conversations.sqlite3")
    try:
        engine = ChatEngine(lambda: pipeline, conversations)
        if sys.stdin.isatty():
            typer.echo("Ask about the articles; /new starts over, /quit leaves.", err=True)
        return converse(
            engine, stdin_lines(), typer.echo, conversation_id=conversation, top_k=top_k
        )
    finally:
        conversations.close()
