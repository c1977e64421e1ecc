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


def test_posting_an_existing_doc_id_is_a_conflict_and_changes_nothing(
    client: TestClient,
) -> None:
    client.post("/v1/documents", json={"doc_id": "zebra", "text": ZEBRA})
    again = client.post("/v1/documents", json={"doc_id": "zebra", "text": "Other text entirely."})
    upload = client.post("/v1/documents", files={"file": ("zebra.txt", b"Other text again.")})

    for response in (again, upload):
        assert response.status_code == 409, response.text
        error = response.json()["error"]
        assert error["code"] == "conflict"
        assert "'zebra'" in error["message"] and "replace" in error["message"]
    assert client.get("/v1/documents/zebra").json()["text"] == ZEBRA


def test_replacing_is_asked_for_with_put_or_replace_true(client: TestClient) -> None:
    created = client.put("/v1/documents/zebra", json={"text": ZEBRA})
    same = client.put("/v1/documents/zebra", json={"text": ZEBRA})
    changed = client.put("/v1/documents/zebra", json={"text": ZEBRA + " More."})
    posted = client.post("/v1/documents?replace=true", json={"doc_id": "zebra", "text": ZEBRA})

    assert [r.status_code for r in (created, same, changed, posted)] == [201, 200, 200, 200]
    statuses = [r.json()["documents"][0]["status"] for r in (created, same, changed, posted)]
    assert statuses == ["added", "unchanged", "updated", "updated"]
    assert posted.json()["total_documents"] == 6
    assert client.get("/v1/documents/zebra").json()["text"] == ZEBRA
    # The path names the document: a doc_id in a PUT body is an unknown field.
    assert client.put("/v1/documents/zebra", json={"doc_id": "x", "text": ZEBRA}).status_code == 422


def test_without_a_doc_id_one_is_made_from_the_content(client: TestClient) -> None:
    first = client.post("/v1/documents", json={"text": ZEBRA})
    second = client.post("/v1/documents", json={"text": ZEBRA})

    doc_id = first.json()["documents"][0]["doc_id"]
    assert first.status_code == 201 and doc_id.startswith("doc-")
    assert second.status_code == 409 and doc_id in second.json()["error"]["message"]


def test_a_doc_id_twice_in_one_upload_is_refused_naming_the_line(client: TestClient) -> None:
    lines = [
        {"doc_id": "zebra", "text": ZEBRA},
        {"doc_id": "other", "text": "Another story."},
        {"doc_id": "zebra", "text": "A second zebra story."},
    ]
    data = "\n".join(json.dumps(line) for line in lines).encode()
    response = client.post("/v1/documents", files={"file": ("batch.jsonl", data)})
    two_files = client.post(
        "/v1/documents",
        files=[("file", ("zebra.txt", ZEBRA.encode())), ("file", ("zebra.md", b"# Zebra"))],
    )

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_request"
    message = response.json()["error"]["message"]
    assert "batch.jsonl:3" in message and "'zebra'" in message and "line 1" in message
    assert two_files.status_code == 422 and "'zebra'" in two_files.json()["error"]["message"]
    assert client.get("/v1/documents").json()["total_documents"] == 5


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
        ({"files": {"file": ("report.pdf", b"%PDF-1.4 ...")}}, 422, "invalid_request"),
        ({"files": {"file": ("empty.txt", b"   \n")}}, 422, "invalid_request"),
        ({"files": {"file": ("bad.jsonl", b"{not json}\n")}}, 422, "invalid_request"),
        ({"files": {"other": ("zebra.txt", ZEBRA.encode())}}, 422, "invalid_request"),
        ({"json": {"title": "no text"}}, 422, "invalid_request"),
        ({"json": {"text": ""}}, 422, "invalid_request"),
        ({"json": {"text": "\u0000"}}, 422, "invalid_request"),
        ({"json": {"text": 12}}, 422, "invalid_request"),
        ({"json": {"doc_id": "../../etc/passwd", "text": ZEBRA}}, 422, "invalid_request"),
        ({"content": b'{"text": "unterminated'}, 400, "malformed_body"),
        (
            {
                "content": b'--b\r\nContent-Disposition: form-data; name="file"; '
                b'filename="zebra.txt"\r\n\r\n' + ZEBRA.encode(),
                "headers": {"Content-Type": "multipart/form-data; boundary=b"},
            },
            400,
            "malformed_body",
        ),
        (
            {"content": b"text=hello", "headers": {"Content-Type": "text/plain"}},
            415,
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
        "only-nul",
        "text-not-string",
        "path-in-doc-id",
        "malformed-json",
        "multipart-cut-off",
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
