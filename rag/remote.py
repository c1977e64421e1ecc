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
# Twice the server's own default deadline (RAG_REQUEST_TIMEOUT_S, 60 s): a server that says
# nothing for that long is hung, and the CLI says so rather than wait.
_ANSWER_TIMEOUT_S = 120.0
_SEARCH_TIMEOUT_S = 30.0  # a search takes milliseconds
_SEARCH_FIELDS = ("score", "title", "doc_id", "text")
_LOCAL_HINT = "(--local answers in this process instead)"  # ends every error about the server


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
        return self._post("/v1/ask", body, _ANSWER_TIMEOUT_S)

    def stream(
        self, question: str, *, top_k: int | None = None
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        """``/v1/ask`` as Server-Sent Events: ``("token", {"text"})``..., ``("done", body)``."""
        import httpx

        body = {**_request(question, top_k, None), "stream": True}
        try:
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
        except httpx.HTTPError as exc:
            raise RemoteError(_unreachable(self.url, exc)) from exc
        except ValueError as exc:  # an event's data that is not JSON
            raise RemoteError(_not_ours(self.url, f"an event that is not JSON ({exc})")) from exc

    def ask(
        self, question: str, *, conversation_id: str | None = None, top_k: int | None = None
    ) -> Answer:
        """The answer as the engine's value (``rag chat`` asks through this)."""
        body = self.ask_json(question, top_k=top_k, conversation_id=conversation_id)
        return answer_from_body(body, self.url)

    def search(self, query: str, *, top_k: int | None = None) -> dict[str, Any]:
        """The ``/v1/search`` body."""
        body: dict[str, object] = {"query": query}
        if top_k is not None:
            body["top_k"] = top_k
        found = self._post("/v1/search", body, _SEARCH_TIMEOUT_S)
        results = found.get("results")
        if not isinstance(results, list) or not all(
            isinstance(r, dict) and all(field in r for field in _SEARCH_FIELDS) for r in results
        ):
            raise RemoteError(_not_ours(self.url, "a reply without search results"))
        return found

    def _post(self, path: str, body: dict[str, object], timeout_s: float) -> dict[str, Any]:
        import httpx

        try:
            response = self._client.post(path, json=body, timeout=timeout_s)
        except httpx.HTTPError as exc:  # refused, dropped, timed out
            raise RemoteError(_unreachable(self.url, exc)) from exc
        return self._checked(response)

    def _checked(self, response: httpx.Response) -> dict[str, Any]:
        try:
            data = response.json()
        except ValueError:
            data = None
        if response.status_code >= 400:
            raise RemoteError(_message(self.url, data, response.status_code))
        if not isinstance(data, dict):
            raise RemoteError(_not_ours(self.url, "a reply that is not a JSON object"))
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
    return f"{url}: {detail} {_LOCAL_HINT}"


def _unreachable(url: str, exc: Exception) -> str:
    """A transport failure in one line: refused, dropped mid-reply, or no reply in time."""
    import httpx

    if isinstance(exc, httpx.TimeoutException):
        what = "no reply in time"
    else:
        what = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return f"{url}: the server did not answer ({what}) {_LOCAL_HINT}"


def _not_ours(url: str, what: str) -> str:
    return f"{url}: {what}; is it a `rag serve`? {_LOCAL_HINT}"


def answer_from_body(body: Mapping[str, Any], url: str = "the server") -> Answer:
    """The ``/v1/ask`` body as the engine's own ``Answer`` (what the CLI prints); a body that
    is not one raises ``RemoteError``."""
    try:
        return _answer(body)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise RemoteError(_not_ours(url, f"a reply that is not an answer ({exc!r})")) from exc


def _answer(body: Mapping[str, Any]) -> Answer:
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
