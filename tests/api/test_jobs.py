"""Large uploads become jobs (202 + GET /v1/jobs/{job_id}); small writes never wait for them."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import numpy as np
from fastapi.testclient import TestClient

from tests.api.conftest import ZEBRA_TEXT, AppFactory
from tests.fakes import HashEmbedder

BIG = "Harbour report\n\n" + "Ships crowd the harbour as the port expands its quays. " * 60


def wait_for_job(client: TestClient, job_id: str, timeout: float = 30.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        body = client.get(f"/v1/jobs/{job_id}").json()
        if body["status"] in ("done", "failed") or time.monotonic() > deadline:
            return body
        time.sleep(0.05)


def test_a_large_upload_is_accepted_as_a_job_and_lands(make_app: AppFactory) -> None:
    with TestClient(make_app(job_threshold_chars=1000)) as client:
        response = client.post("/v1/documents", json={"doc_id": "harbour", "text": BIG})
        assert response.status_code == 202, response.text
        accepted = response.json()
        assert accepted["status"] == "queued"
        assert response.headers["location"] == accepted["url"] == f"/v1/jobs/{accepted['job_id']}"
        job = wait_for_job(client, accepted["job_id"])
        assert job["status"] == "done", job
        assert job["error"] is None and job["replace"] is False
        assert job["progress"]["chunks_embedded"] == job["progress"]["chunks_total"] > 1
        [result] = job["results"]
        assert result["doc_id"] == "harbour" and result["status"] == "added"
        assert result["chunks"] == job["progress"]["chunks_total"]
        assert client.get("/v1/documents/harbour").status_code == 200
        # A small document is still answered at once.
        small = client.post("/v1/documents", json={"doc_id": "zebra", "text": ZEBRA_TEXT})
        assert small.status_code == 201


def test_a_job_keeps_the_conflict_rules(make_app: AppFactory) -> None:
    with TestClient(make_app(job_threshold_chars=1000)) as client:
        first = client.post("/v1/documents", json={"doc_id": "harbour", "text": BIG})
        assert wait_for_job(client, first.json()["job_id"])["status"] == "done"
        again = client.post("/v1/documents", json={"doc_id": "harbour", "text": BIG + " More."})
        assert again.status_code == 409
        assert again.json()["error"]["code"] == "conflict"
        replaced = client.put("/v1/documents/harbour", json={"text": BIG + " More."})
        assert replaced.status_code == 202
        job = wait_for_job(client, replaced.json()["job_id"])
        assert job["replace"] is True and job["results"][0]["status"] == "updated"
        twice = client.post(
            "/v1/documents?replace=true",
            files=[("file", ("a.jsonl", _jsonl_twice()))],
        )
        assert twice.status_code == 422


def _jsonl_twice() -> bytes:
    import json

    line = json.dumps({"doc_id": "same", "title": "T", "text": BIG})
    return f"{line}\n{line}\n".encode()


def test_unknown_and_malformed_job_ids(client: TestClient) -> None:
    missing = client.get("/v1/jobs/j-" + "0" * 32)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    assert client.get("/v1/jobs/nope").status_code == 422


class GatedEmbedder(HashEmbedder):
    """Blocks while embedding the large document until the test releases it."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Event()
        self.release = threading.Event()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if any("quays" in t for t in texts):
            self.entered.set()
            assert self.release.wait(30)
        return super().embed(texts)


def test_a_small_document_is_acknowledged_while_a_large_one_is_embedding(
    make_app: AppFactory,
) -> None:
    gate = GatedEmbedder()
    with TestClient(make_app(embedder=gate, job_threshold_chars=1000)) as client:
        job_id = client.post("/v1/documents", json={"doc_id": "harbour", "text": BIG}).json()[
            "job_id"
        ]
        try:
            assert gate.entered.wait(30)
            small = client.post("/v1/documents", json={"doc_id": "zebra", "text": ZEBRA_TEXT})
            assert small.status_code == 201
            assert not gate.release.is_set()  # the large one is still embedding
            assert client.get(f"/v1/jobs/{job_id}").json()["status"] == "running"
            listed = {d["doc_id"] for d in client.get("/v1/documents").json()["documents"]}
            assert "zebra" in listed and "harbour" not in listed
        finally:
            gate.release.set()
        assert wait_for_job(client, job_id)["status"] == "done"
        listed = {d["doc_id"] for d in client.get("/v1/documents").json()["documents"]}
        assert {"zebra", "harbour"} <= listed
