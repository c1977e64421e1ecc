"""``/v1/documents``: list, add (JSON and files), delete; seen by the very next answer; durable."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import PHASE_ONE_DOC, ZEBRA_TEXT, AppFactory

ZEBRA = ZEBRA_TEXT


def searched_doc_ids(client: TestClient, query: str) -> set[str]:
    response = client.post("/v1/search", json={"query": query, "top_k": 5})
    assert response.status_code == 200
    return {r["doc_id"] for r in response.json()["results"]}


def test_list_shows_every_seed_document_with_chunk_counts(client: TestClient) -> None:
    body = client.get("/v1/documents").json()

    assert body["total_documents"] == 5
    assert PHASE_ONE_DOC in {d["doc_id"] for d in body["documents"]}
    assert all(d["chunks"] >= 1 for d in body["documents"])
    assert body["total_chunks"] == sum(d["chunks"] for d in body["documents"])


def test_a_json_document_is_in_the_very_next_answer(client: TestClient) -> None:
    response = client.post(
        "/v1/documents", json={"doc_id": "zebra", "text": ZEBRA, "published": "2024-05-01"}
    )

    assert response.status_code == 201
    added = response.json()
    assert added["documents"] == [
        {"doc_id": "zebra", "title": ZEBRA.splitlines()[0], "chunks": 1, "status": "added"}
    ]
    assert added["total_documents"] == 6
    assert "zebra" in searched_doc_ids(client, "zebra crossings pedestrian accidents")
    answer = client.post("/v1/ask", json={"question": "How many zebra crossings were studied?"})
    assert "zebra" in {c["doc_id"] for c in answer.json()["citations"]}


def test_the_same_document_twice_is_unchanged_then_updated(client: TestClient) -> None:
    client.post("/v1/documents", json={"doc_id": "zebra", "text": ZEBRA})
    again = client.post("/v1/documents", json={"doc_id": "zebra", "text": ZEBRA})
    changed = client.post("/v1/documents", json={"doc_id": "zebra", "text": ZEBRA + " More."})

    assert again.json()["documents"][0]["status"] == "unchanged"
    assert changed.json()["documents"][0]["status"] == "updated"
    assert again.json()["total_documents"] == 6


def test_without_a_doc_id_one_is_made_from_the_content(client: TestClient) -> None:
    first = client.post("/v1/documents", json={"text": ZEBRA}).json()["documents"][0]
    second = client.post("/v1/documents", json={"text": ZEBRA}).json()["documents"][0]

    assert first["doc_id"] == second["doc_id"]
    assert second["status"] == "unchanged"


@pytest.mark.parametrize(
    ("filename", "data"),
    [
        ("zebra.txt", ZEBRA.encode()),
        ("zebra.md", ("# " + ZEBRA).encode()),
        (
            "zebra.html",
            (
                "<html><head><title>Zebra crossing study</title><script>var x=1;</script></head>"
                "<body><nav>Home | News</nav><p>" + ZEBRA.split("\n\n")[1] + "</p></body></html>"
            ).encode(),
        ),
        (
            "batch.jsonl",
            json.dumps({"doc_id": "zebra", "title": "Zebra study", "text": ZEBRA}).encode(),
        ),
    ],
    ids=["txt", "md", "html", "jsonl"],
)
def test_an_uploaded_file_is_indexed(client: TestClient, filename: str, data: bytes) -> None:
    response = client.post("/v1/documents", files={"file": (filename, data)})

    assert response.status_code == 201, response.text
    (doc,) = response.json()["documents"]
    assert doc["doc_id"] == "zebra"  # the file name, or the doc_id inside the .jsonl
    assert doc["chunks"] >= 1
    assert "zebra" in searched_doc_ids(client, "zebra crossings pedestrian accidents")


def test_html_scripts_and_navigation_are_not_indexed(client: TestClient) -> None:
    html = b"<html><body><script>secretvariable()</script><p>" + ZEBRA.encode() + b"</p></body>"
    client.post("/v1/documents", files={"file": ("zebra.html", html)})

    stored = client.post("/v1/search", json={"query": "zebra crossings"}).json()["results"]
    assert all("secretvariable" not in r["text"] for r in stored)


@pytest.mark.parametrize(
    ("kwargs", "status", "code"),
    [
        ({"files": {"file": ("report.pdf", b"%PDF-1.4 ...")}}, 400, "bad_document"),
        ({"files": {"file": ("empty.txt", b"   \n")}}, 400, "bad_document"),
        ({"files": {"file": ("bad.jsonl", b"{not json}\n")}}, 400, "bad_document"),
        ({"files": {"other": ("zebra.txt", ZEBRA.encode())}}, 422, "invalid_request"),
        ({"json": {"title": "no text"}}, 422, "invalid_request"),
        ({"json": {"text": ""}}, 422, "invalid_request"),
        ({"json": {"text": 12}}, 422, "invalid_request"),
        ({"json": {"doc_id": "../../etc/passwd", "text": ZEBRA}}, 422, "invalid_request"),
        ({"content": b'{"text": "unterminated'}, 400, "malformed_json"),
        (
            {"content": b"text=hello", "headers": {"Content-Type": "text/plain"}},
            400,
            "unsupported_media_type",
        ),
    ],
    ids=[
        "pdf",
        "empty-file",
        "bad-jsonl",
        "wrong-field",
        "no-text",
        "empty-text",
        "text-not-string",
        "path-in-doc-id",
        "malformed-json",
        "wrong-content-type",
    ],
)
def test_bad_uploads_get_a_4xx_and_change_nothing(
    client: TestClient, kwargs: dict, status: int, code: str
) -> None:
    response = client.post("/v1/documents", **kwargs)

    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    assert client.get("/v1/documents").json()["total_documents"] == 5


def test_an_oversized_upload_is_refused_with_413(make_app: AppFactory) -> None:
    with TestClient(make_app(max_body_bytes=64_000)) as client:
        big = ZEBRA.encode() * 400  # ~90 kB
        response = client.post("/v1/documents", files={"file": ("big.txt", big)})

        assert response.status_code == 413
        assert client.get("/v1/documents").json()["total_documents"] == 5


def test_a_deleted_document_is_gone_from_the_very_next_answer(client: TestClient) -> None:
    assert PHASE_ONE_DOC in searched_doc_ids(client, "phase one 42 days")

    response = client.delete(f"/v1/documents/{PHASE_ONE_DOC}")

    assert response.status_code == 204
    assert response.content == b""
    assert PHASE_ONE_DOC not in searched_doc_ids(client, "phase one 42 days")
    answer = client.post("/v1/ask", json={"question": "How long did phase one last?"}).json()
    assert PHASE_ONE_DOC not in {c["doc_id"] for c in answer["citations"]}
    assert client.get("/v1/documents").json()["total_documents"] == 4


def test_deleting_an_unknown_document_is_404(client: TestClient) -> None:
    response = client.delete("/v1/documents/no-such-doc")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_added_and_deleted_documents_survive_a_restart(make_app: AppFactory) -> None:
    with TestClient(make_app()) as client:
        assert client.post("/v1/documents", json={"doc_id": "zebra", "text": ZEBRA}).status_code
        assert client.delete(f"/v1/documents/{PHASE_ONE_DOC}").status_code == 204

    # A new app on the same directories, as after a restart.
    with TestClient(make_app()) as client:
        listed = {d["doc_id"] for d in client.get("/v1/documents").json()["documents"]}
        assert "zebra" in listed
        assert PHASE_ONE_DOC not in listed
        assert "zebra" in searched_doc_ids(client, "zebra crossings pedestrian accidents")


def test_an_app_given_only_a_pipeline_still_takes_documents(make_app: AppFactory) -> None:
    with TestClient(make_app(with_writer=False)) as client:
        response = client.post("/v1/documents", json={"doc_id": "zebra", "text": ZEBRA})
        assert response.status_code == 201
        assert "zebra" in searched_doc_ids(client, "zebra crossings pedestrian accidents")
