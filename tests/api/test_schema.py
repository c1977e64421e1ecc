"""The API keeps its own schema: strict types, every rule published, one status and one code for
each kind of mistake on every route, and ``Allow`` naming every method of a path."""

from __future__ import annotations

import json

import jsonschema_rs
import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import PHASE_ONE_DOC, ZEBRA_TEXT, AppFactory

# Each JSON operation with a body that is valid for it.
OPERATIONS = [
    ("POST", "/v1/ask", {"question": "How long did phase one last?"}),
    ("POST", "/v1/search", {"query": "phase one"}),
    ("POST", "/v1/documents", {"doc_id": "zebra", "text": ZEBRA_TEXT}),
    ("PUT", "/v1/documents/zebra", {"text": ZEBRA_TEXT}),
]
OPERATION_IDS = ["ask", "search", "add-document", "put-document"]


MISTAKES = [
    ("malformed-json", 400, "malformed_body"),
    ("not-utf-8", 400, "malformed_body"),
    ("text-plain", 415, "unsupported_media_type"),
    ("form-urlencoded", 415, "unsupported_media_type"),
    ("multipart-for-json", 415, "unsupported_media_type"),
    ("not-an-object", 422, "invalid_request"),
    ("unknown-field", 422, "invalid_request"),
    ("number-as-text", 422, "invalid_request"),
]


@pytest.mark.parametrize(
    ("method", "path", "valid", "mistake", "status", "code"),
    [
        pytest.param(*operation, *mistake, id=f"{name}-{mistake[0]}")
        for operation, name in zip(OPERATIONS, OPERATION_IDS, strict=True)
        for mistake in MISTAKES
        # multipart is the other body /v1/documents takes
        if not (mistake[0] == "multipart-for-json" and operation[1] == "/v1/documents")
    ],
)
def test_one_mistake_gets_one_status_and_code_on_every_route(
    client: TestClient, method: str, path: str, valid: dict, mistake: str, status: int, code: str
) -> None:
    good = json.dumps(valid).encode()
    first_text_field = next(k for k, v in valid.items() if isinstance(v, str) and k != "doc_id")
    bodies = {
        "malformed-json": (good[:-3], "application/json"),
        "not-utf-8": (good.replace(b'"}', b'\xff"}'), "application/json"),
        "text-plain": (good, "text/plain"),
        "form-urlencoded": (b"question=hi&query=hi&text=hi", "application/x-www-form-urlencoded"),
        "multipart-for-json": (b"--b\r\n\r\nx\r\n--b--\r\n", "multipart/form-data; boundary=b"),
        "not-an-object": (b"[1, 2]", "application/json"),
        "unknown-field": (json.dumps({**valid, "surprise": 1}).encode(), "application/json"),
        "number-as-text": (json.dumps({**valid, first_text_field: 7}).encode(), "application/json"),
    }
    content, content_type = bodies[mistake]

    response = client.request(method, path, content=content, headers={"Content-Type": content_type})

    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["message"]
    assert client.get("/v1/documents").json()["total_documents"] == 5


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("stream", 0),
        ("stream", "true"),
        ("top_k", True),
        ("top_k", "3"),
        ("top_k", 2.5),
        ("conversation_id", 12),
    ],
)
def test_types_are_not_coerced(client: TestClient, field: str, value: object) -> None:
    body = {"question": "How long did phase one last?", field: value}

    response = client.post("/v1/ask", json=body)

    assert response.status_code == 422
    assert response.json()["error"]["message"].startswith(field)


def test_a_whole_float_is_an_integer_as_json_schema_says(client: TestClient) -> None:
    response = client.post("/v1/search", json={"query": "phase one", "top_k": 2.0})

    assert response.status_code == 200 and len(response.json()["results"]) == 2


def test_every_rule_the_server_applies_is_in_the_schema(make_app: AppFactory) -> None:
    with TestClient(make_app(max_question_chars=100)) as client:
        schema = client.get("/openapi.json").json()
        too_long = client.post("/v1/search", json={"query": "x" * 101})
        empty_filter = client.post("/v1/search", json={"query": "q", "filters": {"doc_ids": []}})
    components = schema["components"]["schemas"]
    question = components["AskRequest"]["properties"]["question"]
    doc_ids = components["Filters"]["properties"]["doc_ids"]["anyOf"][0]

    assert question["maxLength"] == 100 and too_long.status_code == 422
    assert doc_ids["minItems"] == 1 and empty_filter.status_code == 422
    assert "x-limit" not in json.dumps(schema)
    # What the schema says of a question is what the server does with it.
    validator = jsonschema_rs.validator_for(question)
    for text in ["\u0000", " \n\t", "\u200b", "?", "What\u0000 happened?"]:
        with TestClient(make_app()) as client:
            status = client.post("/v1/search", json={"query": text}).status_code
        assert (status == 200) is validator.is_valid(text), repr(text)


def test_the_accepted_file_types_are_in_the_schema(client: TestClient) -> None:
    operation = client.get("/openapi.json").json()["paths"]["/v1/documents"]["post"]
    multipart = operation["requestBody"]["content"]["multipart/form-data"]
    declared = multipart["encoding"]["file"]["contentType"]
    described = multipart["schema"]["properties"]["file"]["description"]

    for media_type in ("text/plain", "text/markdown", "text/html", "application/jsonl"):
        assert media_type in declared
    for suffix in (".txt", ".md", ".html", ".htm", ".jsonl"):
        assert suffix in described
    assert multipart["schema"]["additionalProperties"] is False
    # A part declared as one of those types is read as that type, whatever its name.
    response = client.post(
        "/v1/documents", files={"file": ("file", ZEBRA_TEXT.encode(), "text/markdown")}
    )
    assert response.status_code == 201 and response.json()["documents"][0]["doc_id"] == "file"


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ("/v1/documents", "GET, HEAD, POST"),
        (f"/v1/documents/{PHASE_ONE_DOC}", "GET, HEAD, PUT, DELETE"),
        ("/v1/ask", "POST"),
    ],
)
def test_a_method_a_path_lacks_gets_405_naming_every_method_it_has(
    client: TestClient, path: str, allowed: str
) -> None:
    for method in ("OPTIONS", "PATCH", "TRACE"):
        response = client.request(method, path)

        assert response.status_code == 405
        assert response.headers["Allow"] == allowed
        assert response.json()["error"]["code"] == "method_not_allowed"


def test_replace_takes_only_true_or_false(client: TestClient) -> None:
    body = {"doc_id": PHASE_ONE_DOC, "text": ZEBRA_TEXT}
    for value in ("1", "yes", "on", "TRUE"):
        response = client.post(f"/v1/documents?replace={value}", json=body)
        assert response.status_code == 422, value
    assert client.post("/v1/documents?replace=false", json=body).status_code == 409
    assert client.post("/v1/documents?replace=true", json=body).status_code == 200
