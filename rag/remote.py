"""A running ``rag serve``, asked over HTTP: how ``rag ask``, ``rag search`` and ``rag chat``
answer in well under a second instead of loading the models in every process.

Only ``httpx`` and the engine's plain values are imported here (no torch, no
sentence-transformers, no litellm); ``find_server`` gives up within a fraction of a second when
nothing answers at the URL, and the CLI then answers in-process.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from rag.errors import RemoteError
from rag.types import Answer, Citation

if TYPE_CHECKING:
    import httpx

__all__ = ["RemoteEngine", "answer_from_body", "find_server"]

_PROBE_TIMEOUT_S = 0.3
_ANSWER_TIMEOUT_S = 300.0


def find_server(url: str, api_key: str | None = None) -> RemoteEngine | None:
    """The server at ``url`` when it answers ``/readyz`` with 200 within the probe timeout."""
    import httpx

    try:
        response = httpx.get(f"{url.rstrip('/')}/readyz", timeout=_PROBE_TIMEOUT_S)
    except httpx.HTTPError:
        return None
    if response.status_code != 200:
        return None
    return RemoteEngine(url, api_key)


class RemoteEngine:
    """``/v1/ask`` and ``/v1/search`` of one server; its errors raise ``RemoteError``."""

    def __init__(self, url: str, api_key: str | None = None) -> None:
        import httpx

        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.url = url.rstrip("/")
        self._client = httpx.Client(base_url=self.url, headers=headers, timeout=_ANSWER_TIMEOUT_S)

    def close(self) -> None:
        self._client.close()

    def ask_json(
        self, question: str, *, top_k: int | None = None, conversation_id: str | None = None
    ) -> dict[str, Any]:
        """The ``/v1/ask`` body."""
        body = _request(question, top_k, conversation_id)
        return self._checked(self._client.post("/v1/ask", json=body))

    def stream(
        self, question: str, *, top_k: int | None = None
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        """``/v1/ask`` as Server-Sent Events: ``("token", {"text"})``..., ``("done", body)``."""
        body = {**_request(question, top_k, None), "stream": True}
        with self._client.stream("POST", "/v1/ask", json=body) as response:
            if response.status_code != 200:
                response.read()
                self._checked(response)
            event = ""
            for line in response.iter_lines():
                if line.startswith("event: "):
                    event = line.removeprefix("event: ")
                elif line.startswith("data: "):
                    data = json.loads(line.removeprefix("data: "))
                    if event == "error":
                        raise RemoteError(_message(self.url, data))
                    yield event, data

    def ask(
        self, question: str, *, conversation_id: str | None = None, top_k: int | None = None
    ) -> Answer:
        """The answer as the engine's value (``rag chat`` asks through this)."""
        body = self.ask_json(question, top_k=top_k, conversation_id=conversation_id)
        return answer_from_body(body)

    def search(self, query: str, *, top_k: int | None = None) -> dict[str, Any]:
        """The ``/v1/search`` body."""
        body: dict[str, object] = {"query": query}
        if top_k is not None:
            body["top_k"] = top_k
        return self._checked(self._client.post("/v1/search", json=body))

    def _checked(self, response: httpx.Response) -> dict[str, Any]:
        try:
            data = response.json()
        except ValueError:
            data = {}
        if response.status_code >= 400 or not isinstance(data, dict):
            raise RemoteError(_message(self.url, data, response.status_code))
        return data


def _request(question: str, top_k: int | None, conversation_id: str | None) -> dict[str, object]:
    body: dict[str, object] = {"question": question}
    if top_k is not None:
        body["top_k"] = top_k
    if conversation_id is not None:
        body["conversation_id"] = conversation_id
    return body


def _message(url: str, data: object, status: int | None = None) -> str:
    error = data.get("error") if isinstance(data, Mapping) else None
    if isinstance(error, Mapping) and "message" in error:
        detail = f"{error['message']} ({error.get('code', status)})"
    else:
        detail = f"HTTP {status}"
    return f"{url}: {detail} (--local answers in this process instead)"


def answer_from_body(body: Mapping[str, Any]) -> Answer:
    """The ``/v1/ask`` body as the engine's own ``Answer`` (what the CLI prints)."""
    citations = tuple(
        Citation(
            n=c["n"],
            doc_id=c["doc_id"],
            title=c["title"],
            text=c["text"],
            start=c["start"],
            end=c["end"],
            score=c["score"],
            url=c.get("url"),
            published=c.get("published"),
            also_in=tuple(c.get("also_in", ())),
        )
        for c in body.get("citations", [])
    )
    return Answer(
        question=body.get("standalone_question") or "",
        text=body["answer"],
        abstained=body["abstained"],
        citations=citations,
        model=body["model"],
        degraded=body["degraded"],
        timings_ms=body.get("timings_ms", {}),
        conversation_id=body.get("conversation_id"),
    )
