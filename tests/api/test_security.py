"""API keys, rate limits and the generation queue, as a caller meets them."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.queue import GenerationQueue
from api.security import ApiKeys, RateLimiter
from rag.errors import OverloadedError
from tests.api.conftest import AppFactory
from tests.fakes import ScriptedLLM

SEARCH = {"query": "hostages released"}


@pytest.fixture
def keyed(make_app: AppFactory) -> Iterator[TestClient]:
    with TestClient(make_app(api_keys="key-one, key-two")) as client:
        yield client


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "key-one"}, {"Authorization": ""}],
    ids=["none", "wrong-key", "no-scheme", "empty"],
)
def test_with_keys_set_v1_refuses_callers_without_one(keyed: TestClient, headers: dict) -> None:
    for method, path, kwargs in (
        ("post", "/v1/search", {"json": SEARCH}),
        ("post", "/v1/ask", {"json": {"question": "q"}}),
        ("get", "/v1/documents", {}),
        ("delete", "/v1/documents/x", {}),
        ("post", "/v1/ask", {"content": b"{malformed"}),  # 401 before the body is looked at
    ):
        response = getattr(keyed, method)(path, headers=headers, **kwargs)
        assert response.status_code == 401, path
        assert response.json()["error"]["code"] == "unauthorized"
        assert response.headers["WWW-Authenticate"] == "Bearer"


def test_any_configured_key_is_accepted(keyed: TestClient) -> None:
    for key in ("key-one", "key-two"):
        response = keyed.post("/v1/search", json=SEARCH, headers={"Authorization": f"Bearer {key}"})
        assert response.status_code == 200


def test_health_readiness_metrics_and_docs_stay_open(keyed: TestClient) -> None:
    for path in ("/healthz", "/readyz", "/metrics", "/docs", "/openapi.json"):
        assert keyed.get(path).status_code == 200, path


def test_openapi_documents_the_bearer_requirement(keyed: TestClient) -> None:
    schema = keyed.get("/openapi.json").json()
    assert schema["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert schema["paths"]["/v1/ask"]["post"]["security"] == [{"bearer": []}]


def test_api_keys_match_exactly() -> None:
    keys = ApiKeys(["secret"])
    assert keys.identify("Bearer secret") is not None
    assert keys.identify("bearer secret") is not None
    assert keys.identify("Bearer secret2") is None
    assert keys.identify("Bearer secre") is None
    assert keys.identify("Bearer ") is None
    assert keys.identify(None) is None
    assert "secret" not in (keys.identify("Bearer secret") or "")


def test_the_rate_limit_answers_429_with_retry_after(make_app: AppFactory) -> None:
    with TestClient(make_app(rate_limit_per_minute=3)) as client:
        statuses = [client.post("/v1/search", json=SEARCH).status_code for _ in range(4)]
        limited = client.post("/v1/search", json=SEARCH)
        health = client.get("/healthz")

    assert statuses == [200, 200, 200, 429]
    assert limited.json()["error"]["code"] == "rate_limited"
    assert int(limited.headers["Retry-After"]) >= 1
    assert health.status_code == 200  # only /v1/* is limited


def test_the_rate_limit_is_per_key(make_app: AppFactory) -> None:
    with TestClient(make_app(rate_limit_per_minute=2, api_keys="a,b")) as client:
        one = {"Authorization": "Bearer a"}
        two = {"Authorization": "Bearer b"}
        used = [client.post("/v1/search", json=SEARCH, headers=one).status_code for _ in range(3)]
        other = client.post("/v1/search", json=SEARCH, headers=two)

    assert used == [200, 200, 429]
    assert other.status_code == 200


def test_guessing_keys_is_rate_limited_too(make_app: AppFactory) -> None:
    with TestClient(make_app(rate_limit_per_minute=3, api_keys="right")) as client:
        wrong = {"Authorization": "Bearer guess"}
        statuses = [
            client.post("/v1/search", json=SEARCH, headers=wrong).status_code for _ in range(4)
        ]

    assert statuses == [401, 401, 401, 429]


def test_the_rate_limit_refills_over_time() -> None:
    limiter = RateLimiter(per_minute=600)  # ten a second
    while limiter.acquire("client") == 0.0:
        pass
    wait = limiter.acquire("client")
    assert 0 < wait <= 0.1
    time.sleep(wait + 0.02)
    assert limiter.acquire("client") == 0.0


def test_a_full_generation_queue_answers_503_with_retry_after(make_app: AppFactory) -> None:
    release = threading.Event()

    def blocked(messages: object) -> str:
        release.wait(10)
        return "The articles don't say."

    app = make_app(ScriptedLLM(blocked), generation_queue_size=1)
    with TestClient(app) as client:
        first: list[int] = []
        worker = threading.Thread(
            target=lambda: first.append(
                client.post(
                    "/v1/ask", json={"question": "How long did phase one last?"}
                ).status_code
            )
        )
        worker.start()
        queue = app.state.rag.queue
        deadline = time.monotonic() + 5
        while queue.depth < 1 and time.monotonic() < deadline:
            time.sleep(0.01)

        refused = client.post("/v1/ask", json={"question": "Who is the envoy?"})
        streamed = client.post("/v1/ask", json={"question": "Who is the envoy?", "stream": True})
        search = client.post("/v1/search", json=SEARCH)  # searching never queues
        metrics = client.get("/metrics").text
        release.set()
        worker.join(10)

    assert "rag_generation_rejected_total 2.0" in metrics  # both refusals counted
    assert refused.status_code == 503
    assert refused.json()["error"]["code"] == "overloaded"
    assert int(refused.headers["Retry-After"]) >= 1
    assert streamed.status_code == 503
    assert search.status_code == 200
    assert first == [200]


def test_the_queue_gives_places_back_when_work_finishes() -> None:
    queue = GenerationQueue(capacity=2)
    gate = threading.Event()
    running = [queue.submit(lambda: gate.wait(5)) for _ in range(2)]
    with pytest.raises(OverloadedError):
        queue.submit(lambda: None)

    gate.set()
    for future in running:
        future.result(5)
    assert queue.depth == 0
    assert queue.submit(lambda: 7).result(5) == 7
    queue.shutdown()
