"""Runs the dataset against the engine, in-process or over HTTP, and scores every answer."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from importlib import resources
from typing import TYPE_CHECKING, Any, Protocol

import httpx

from eval.dataset import EvalItem
from eval.scoring import CitedPassage, ItemResult, Observation, score_item
from rag.errors import USER_ERRORS
from rag.types import Answer, Hit

if TYPE_CHECKING:
    from rag.pipeline import Pipeline

__all__ = ["HttpTarget", "PipelineTarget", "Target", "engine_prompts", "run_eval"]

# Chunks fetched to rank documents for the retrieval metrics (several chunks share a document).
SEARCH_K = 10


class Target(Protocol):
    """Something that answers an eval question: the pipeline in-process, or a server."""

    @property
    def name(self) -> str: ...

    def observe(self, item: EvalItem) -> Observation: ...


class PipelineTarget:
    """Asks a ``Pipeline`` directly; follow-ups get the item's history."""

    name = "in-process"

    def __init__(self, pipeline: Pipeline, *, top_k: int | None = None) -> None:
        self._pipeline = pipeline
        self._top_k = top_k

    def observe(self, item: EvalItem) -> Observation:
        started = time.perf_counter()
        try:
            answer = self._pipeline.ask(item.question, top_k=self._top_k, history=item.history)
        except USER_ERRORS as exc:
            return _failed(str(exc), started)
        latency_ms = (time.perf_counter() - started) * 1000
        query = answer.standalone_question or item.question
        hits = self._pipeline.search(query, top_k=SEARCH_K)
        return _from_answer(answer, hits, latency_ms)


class HttpTarget:
    """Asks a running server through ``POST /v1/ask`` and ranks with ``POST /v1/search``.

    The API takes no history, so a follow-up's earlier user turns are asked first in one
    conversation, then the question itself; only the question's own request is timed.
    """

    def __init__(self, client: httpx.Client, *, top_k: int | None = None) -> None:
        self._client = client  # carries base_url and any auth header
        self._top_k = top_k

    @property
    def name(self) -> str:
        return str(self._client.base_url)

    def observe(self, item: EvalItem) -> Observation:
        started = time.perf_counter()
        try:
            conversation_id: str | None = None
            for turn in item.history:
                if turn.role == "user":
                    conversation_id = self._ask(turn.content, conversation_id)["conversation_id"]
            started = time.perf_counter()
            body = self._ask(item.question, conversation_id)
            latency_ms = (time.perf_counter() - started) * 1000
            query = body.get("standalone_question") or item.question
            search = self._post("/v1/search", {"query": query, "top_k": SEARCH_K})
            return _from_body(body, search, latency_ms)
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
            # A bad reply is this item's miss, shown in the report; the run goes on.
            return _failed(f"{type(exc).__name__}: {exc}", started)

    def _ask(self, question: str, conversation_id: str | None) -> dict[str, Any]:
        payload: dict[str, Any] = {"question": question}
        if conversation_id:
            payload["conversation_id"] = conversation_id
        if self._top_k is not None:
            payload["top_k"] = self._top_k
        return self._post("/v1/ask", payload)

    def _post(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        response = self._client.post(path, json=payload)
        if response.status_code != 200:
            detail = response.text[:200].replace("\n", " ")
            raise httpx.HTTPStatusError(
                f"{path} answered {response.status_code}: {detail}",
                request=response.request,
                response=response,
            )
        body: dict[str, Any] = response.json()
        return body


def run_eval(
    items: Sequence[EvalItem],
    target: Target,
    *,
    prompts: Sequence[str] = (),
    on_result: Callable[[ItemResult], None] | None = None,
) -> list[ItemResult]:
    """Every item through the target, scored; ``on_result`` sees each as it finishes."""
    results: list[ItemResult] = []
    for item in items:
        observation = target.observe(item)
        result = ItemResult(item, observation, score_item(item, observation, prompts=prompts))
        results.append(result)
        if on_result is not None:
            on_result(result)
    return results


def engine_prompts() -> list[str]:
    """The engine's prompt texts, so an answer that repeats them counts as a leak."""
    folder = resources.files("rag").joinpath("prompts")
    if not folder.is_dir():
        return []
    return [f.read_text("utf-8") for f in folder.iterdir() if f.name.endswith(".txt")]


def _from_answer(answer: Answer, hits: Sequence[Hit], latency_ms: float) -> Observation:
    return Observation(
        answer=answer.text,
        abstained=answer.abstained,
        citations=tuple(
            CitedPassage(c.n, c.doc_id, c.title, c.text, tuple(c.also_in)) for c in answer.citations
        ),
        retrieved=_ranking(hit.doc_ids for hit in hits),
        latency_ms=latency_ms,
        model=answer.model,
        degraded=answer.degraded,
        standalone_question=answer.standalone_question,
    )


def _from_body(body: dict[str, Any], search: dict[str, Any], latency_ms: float) -> Observation:
    return Observation(
        answer=body["answer"],
        abstained=bool(body["abstained"]),
        citations=tuple(
            CitedPassage(c["n"], c["doc_id"], c["title"], c["text"], tuple(c.get("also_in", [])))
            for c in body["citations"]
        ),
        retrieved=_ranking([r["doc_id"], *r.get("also_in", [])] for r in search["results"]),
        latency_ms=latency_ms,
        model=body.get("model", ""),
        degraded=bool(body.get("degraded", False)),
        standalone_question=body.get("standalone_question"),
    )


def _ranking(doc_ids_per_hit: Iterable[Sequence[str]]) -> tuple[tuple[str, ...], ...]:
    """Each hit's documents not ranked before, in hit order; a near-duplicate ranks with its
    passage. Hits that bring no new document are skipped, so ranks are documents found."""
    seen: set[str] = set()
    ranks: list[tuple[str, ...]] = []
    for doc_ids in doc_ids_per_hit:
        new = tuple(dict.fromkeys(d for d in doc_ids if d not in seen))
        if new:
            seen.update(new)
            ranks.append(new)
    return tuple(ranks)


def _failed(error: str, started: float) -> Observation:
    return Observation(
        answer="",
        abstained=False,
        citations=(),
        retrieved=(),
        latency_ms=(time.perf_counter() - started) * 1000,
        error=error,
    )
