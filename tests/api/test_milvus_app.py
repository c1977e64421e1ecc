"""The HTTP service over the Milvus backend (Milvus Lite): add, search, replace, delete."""

from __future__ import annotations

import time
from pathlib import Path

from fastapi.testclient import TestClient

from api.app import create_app
from tests.api.conftest import ZEBRA_TEXT, api_settings
from tests.fakes import HashEmbedder, ScriptedLLM, cite_first_passage


def test_the_service_runs_on_milvus_lite(tmp_path: Path) -> None:
    settings = api_settings(
        tmp_path, index_backend="milvus", milvus_uri=str(tmp_path / "milvus.db")
    )
    app = create_app(settings, embedder=HashEmbedder(), generator=ScriptedLLM(cite_first_passage))
    with TestClient(app) as client:
        deadline = time.monotonic() + 60
        while app.state.rag.loading and time.monotonic() < deadline:
            time.sleep(0.05)
        assert client.get("/readyz").status_code == 503  # an empty Milvus: no index yet
        added = client.post("/v1/documents", json={"doc_id": "zebra", "text": ZEBRA_TEXT})
        assert added.status_code == 201, added.text
        assert client.get("/readyz").status_code == 200
        found = client.post("/v1/search", json={"query": "zebra crossings accidents"}).json()
        assert found["results"][0]["doc_id"] == "zebra"
        again = client.post("/v1/documents", json={"doc_id": "zebra", "text": "Other."})
        assert again.status_code == 409
        replaced = client.put("/v1/documents/zebra", json={"text": "Trains leave at noon."})
        assert replaced.status_code == 200
        assert replaced.json()["documents"][0]["status"] == "updated"
        assert client.delete("/v1/documents/zebra").status_code == 204
        assert client.get("/v1/documents/zebra").status_code == 404
