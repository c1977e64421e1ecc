"""The app around the endpoints: health, readiness, metrics, docs, request ids and log lines."""

from __future__ import annotations

import json
import logging
import shutil
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from rag.components import open_writer
from tests.api.conftest import ZEBRA_TEXT, AppFactory, api_settings
from tests.fakes import HashEmbedder, ScriptedLLM


def wait_until_loaded(client: TestClient, timeout_s: float = 20.0) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        body = client.get("/readyz").json()
        if "loading" not in body["checks"].values():
            return body
        time.sleep(0.05)
    raise AssertionError("the app never finished loading")


def test_healthz_and_readyz_when_everything_is_loaded(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}

    ready = client.get("/readyz")
    assert ready.status_code == 200
    body = ready.json()
    assert body["status"] == "ready"
    assert body["documents"] == 5
    assert body["chunks"] >= 5
    assert body["slack"].startswith("off")


def test_without_an_index_readyz_says_how_to_build_one(tmp_path: Path) -> None:
    settings = api_settings(tmp_path)
    app = create_app(settings, embedder=HashEmbedder(), generator=ScriptedLLM("unused"))

    with TestClient(app) as client:
        body = wait_until_loaded(client)
        ready = client.get("/readyz")
        ask = client.post("/v1/ask", json={"question": "How long did phase one last?"})
        health = client.get("/healthz")

    assert ready.status_code == 503
    assert body["status"] == "not_ready"
    assert "rag index build" in body["error"]["message"]
    assert ask.status_code == 503
    assert ask.json()["error"]["code"] == "not_ready"
    assert health.status_code == 200


def test_the_first_document_added_makes_an_empty_server_ready(tmp_path: Path) -> None:
    settings = api_settings(tmp_path)
    app = create_app(settings, embedder=HashEmbedder(), generator=ScriptedLLM("unused"))

    with TestClient(app) as client:
        wait_until_loaded(client)
        added = client.post("/v1/documents", json={"doc_id": "zebra", "text": ZEBRA_TEXT})
        ready = client.get("/readyz")
        found = client.post("/v1/search", json={"query": "zebra crossings"}).json()

    assert added.status_code == 201
    assert ready.status_code == 200
    assert found["results"][0]["doc_id"] == "zebra"


def test_models_and_index_load_in_the_lifespan_from_settings(
    make_app: AppFactory, tmp_path: Path
) -> None:
    make_app()  # puts a copy of the seed index in tmp_path
    settings = api_settings(tmp_path)
    app = create_app(settings, embedder=HashEmbedder(), generator=ScriptedLLM("unused"))

    with TestClient(app) as client:
        body = wait_until_loaded(client)
        assert body["status"] == "ready"
        assert body["documents"] == 5
        assert client.post("/v1/search", json={"query": "hostages"}).status_code == 200


@pytest.mark.parametrize("broken", ["llm", "reranker"])
def test_a_model_that_fails_to_load_answers_nothing(
    make_app: AppFactory, tmp_path: Path, broken: str
) -> None:
    make_app()  # puts a copy of the seed index in tmp_path
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"not a model")
    settings = api_settings(
        tmp_path,
        index_poll_s=0.02,
        **(
            {"llm_model": "local/qwen2.5-0.5b-instruct", "local_model_path": junk}
            if broken == "llm"
            else {"rerank_model": str(tmp_path / "no-such-reranker")}
        ),
    )
    generator = None if broken == "llm" else ScriptedLLM("unused")
    app = create_app(settings, embedder=HashEmbedder(), generator=generator)

    with TestClient(app) as client:
        body = wait_until_loaded(client)
        time.sleep(0.3)  # the index watcher has polled many times since
        ask = client.post("/v1/ask", json={"question": "How long did phase one last?"})
        ready = client.get("/readyz")

    assert body["checks"]["models"].startswith("cannot load")
    assert ready.status_code == 503
    # Not the answer of another engine (a failed LLM made the watcher build an extractive one).
    assert ask.status_code == 503
    assert ask.json()["error"]["code"] == "not_ready"
    assert "cannot load" in ask.json()["error"]["message"]


def test_a_damaged_index_is_logged_once_and_followed_once_repaired(
    make_app: AppFactory, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    make_app()  # puts a copy of the seed index in tmp_path
    pointer = tmp_path / "index" / "CURRENT"
    version = pointer.read_text()
    pointer.write_text("../../etc\n")
    settings = api_settings(tmp_path, index_poll_s=0.02)
    app = create_app(settings, embedder=HashEmbedder(), generator=ScriptedLLM("unused"))

    with caplog.at_level(logging.WARNING, logger="api"), TestClient(app) as client:
        wait_until_loaded(client)
        time.sleep(0.3)  # many polls of the damaged index
        damaged = client.get("/readyz")
        pointer.write_text(version)  # repaired, as `rag index build` would
        deadline = time.monotonic() + 10
        while client.get("/readyz").status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.02)
        repaired = client.get("/readyz")

    said = [r.getMessage() for r in caplog.records if "cannot follow" in r.getMessage()]
    assert damaged.status_code == 503 and "damaged" in damaged.json()["error"]["message"]
    assert len(said) == 1, said
    assert repaired.status_code == 200


def _wait_for(client: TestClient, documents: int) -> dict:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        body = client.get("/readyz").json()
        if body.get("documents") == documents:
            return body
        time.sleep(0.02)
    raise AssertionError(f"the server never reported {documents} documents: {body}")


@pytest.mark.parametrize("then", ["rebuilt", "written through the server"])
def test_an_index_deleted_under_the_server_is_followed(
    make_app: AppFactory, tmp_path: Path, then: str
) -> None:
    make_app()  # puts a copy of the seed index (5 documents) in tmp_path
    settings = api_settings(tmp_path, index_poll_s=0.02)
    app = create_app(settings, embedder=HashEmbedder(), generator=ScriptedLLM("unused"))

    with TestClient(app) as client:
        _wait_for(client, 5)
        client.post("/v1/documents", json={"doc_id": "walrus", "text": "Walruses rest on ice."})
        _wait_for(client, 6)  # the server now holds v000002
        shutil.rmtree(settings.index_dir)  # its versions start again from v000001
        if then == "rebuilt":
            article = tmp_path / "zebra.txt"
            article.write_text("Zebra crossings\n\n" + ZEBRA_TEXT)
            open_writer(settings, HashEmbedder()).build([article])
        else:
            added = client.post("/v1/documents", json={"doc_id": "zebra", "text": ZEBRA_TEXT})
            assert added.status_code == 201
        body = _wait_for(client, 1)
        found = client.post("/v1/search", json={"query": "zebra crossings"}).json()
        listed = client.get("/v1/documents").json()

    # Not the deleted index's five documents, nor a new document the server cannot find.
    assert body["status"] == "ready"
    assert [hit["doc_id"] for hit in found["results"]] == [listed["documents"][0]["doc_id"]]
    assert "zebra" in listed["documents"][0]["doc_id"]


def test_metrics_count_requests_answers_and_index_size(client: TestClient) -> None:
    client.post("/v1/ask", json={"question": "How long did phase one last?"})
    client.post("/v1/ask", json={"question": ""})

    text = client.get("/metrics").text

    assert 'rag_http_requests_total{method="POST",route="/v1/ask",status="200"} 1.0' in text
    assert 'rag_http_requests_total{method="POST",route="/v1/ask",status="422"} 1.0' in text
    assert 'rag_http_request_duration_seconds_bucket{le="0.5",method="POST",route="/v1/ask"}' in (
        text
    )
    assert 'rag_answers_total{outcome="answered"} 1.0' in text
    assert "rag_answers_degraded_total 0.0" in text
    assert "rag_index_documents 5.0" in text


def test_each_app_has_its_own_metrics(make_app: AppFactory) -> None:
    with TestClient(make_app()) as one:
        one.get("/healthz")
        with TestClient(make_app()) as two:
            text = two.get("/metrics").text
    assert 'route="/healthz"' not in text


def test_openapi_and_docs_are_served(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    assert {"/v1/ask", "/v1/search", "/v1/documents", "/v1/documents/{doc_id}"} <= set(
        schema["paths"]
    )
    docs = client.get("/docs")
    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()


def test_the_request_id_is_echoed_or_made(client: TestClient) -> None:
    given = client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    made = client.get("/healthz")
    hostile = client.get("/healthz", headers={"X-Request-ID": "no spaces; or 200 chars" * 10})

    assert given.headers["X-Request-ID"] == "abc-123"
    assert len(made.headers["X-Request-ID"]) == 32
    assert len(hostile.headers["X-Request-ID"]) == 32


def _access_lines(caplog: pytest.LogCaptureFixture) -> list[dict]:
    return [json.loads(r.getMessage()) for r in caplog.records if r.name == "api.access"]


def test_one_json_log_line_per_request_without_the_question(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="api.access"):
        client.post(
            "/v1/ask",
            json={"question": "How long did phase one last?"},
            headers={"X-Request-ID": "req-1"},
        )

    (line,) = _access_lines(caplog)
    assert line["request_id"] == "req-1"
    assert line["route"] == "/v1/ask"
    assert line["status"] == 200
    assert line["latency_ms"] > 0
    assert "question" not in line
    assert "phase one" not in json.dumps(line)


def test_the_question_is_logged_only_when_enabled(
    make_app: AppFactory, caplog: pytest.LogCaptureFixture
) -> None:
    with (
        TestClient(make_app(log_questions=True)) as client,
        caplog.at_level(logging.INFO, logger="api.access"),
    ):
        client.post("/v1/ask", json={"question": "How long did phase one last?"})

    (line,) = _access_lines(caplog)
    assert line["question"] == "How long did phase one last?"


def test_cors_is_off_unless_configured(make_app: AppFactory) -> None:
    preflight = {
        "Origin": "https://news.example",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type",
    }
    with TestClient(make_app()) as client:
        off = client.options("/v1/search", headers=preflight)
    with TestClient(make_app(cors_origins="https://news.example")) as client:
        on = client.options("/v1/search", headers=preflight)

    assert "access-control-allow-origin" not in off.headers
    assert on.status_code == 200
    assert on.headers["access-control-allow-origin"] == "https://news.example"


def test_unknown_paths_and_methods_use_the_error_body(client: TestClient) -> None:
    missing = client.get("/v1/nothing-here")
    wrong_method = client.get("/v1/ask")

    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error"]["code"] == "method_not_allowed"
