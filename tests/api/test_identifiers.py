"""doc_ids over HTTP: one document per name whichever Unicode form is typed, no names that are
paths or hide characters, and control characters in questions and text never stored or used."""

from __future__ import annotations

import json
import unicodedata
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import ZEBRA_TEXT, AppFactory
from tests.fakes import ScriptedLLM, cite_first_passage

NFC = "caf\u00e9"
NFD = unicodedata.normalize("NFD", NFC)

BAD_IDS = {
    "dot-dot": ("..", "only dots"),
    "dot": (".", "only dots"),
    "nul": ("a\x00b", "U+0000"),
    "newline": ("two\nlines", "U+000A"),
    "right-to-left-override": ("\u202etxt.exe", "RIGHT-TO-LEFT OVERRIDE"),
    "zero-width": ("zebra\u200b", "ZERO WIDTH SPACE"),
    "slash": ("../../etc/passwd", "'/'"),
    "backslash": ("a\\b", "'/'"),
    "leading-space": (" zebra", "space"),
}


def doc_ids(client: TestClient) -> list[str]:
    return [d["doc_id"] for d in client.get("/v1/documents").json()["documents"]]


@pytest.mark.parametrize(("doc_id", "reason"), list(BAD_IDS.values()), ids=list(BAD_IDS))
def test_a_bad_doc_id_is_refused_saying_why_everywhere(
    client: TestClient, doc_id: str, reason: str
) -> None:
    line = json.dumps({"doc_id": doc_id, "text": ZEBRA_TEXT}).encode()
    responses = {
        "json": client.post("/v1/documents", json={"doc_id": doc_id, "text": ZEBRA_TEXT}),
        "jsonl": client.post("/v1/documents", files={"file": ("feed.jsonl", line)}),
        "filter": client.post("/v1/search", json={"query": "q", "filters": {"doc_ids": [doc_id]}}),
    }
    if "/" not in doc_id and doc_id not in (".", ".."):  # those cannot be one path segment
        path = f"/v1/documents/{quote(doc_id, safe='')}"
        responses["put"] = client.put(path, json={"text": ZEBRA_TEXT})
        responses["delete"] = client.delete(path)

    for where, response in responses.items():
        assert response.status_code == 422, (where, response.text)
        error = response.json()["error"]
        assert error["code"] == "invalid_request"
        assert reason in error["message"], (where, error["message"])
    assert len(doc_ids(client)) == 5


def test_both_unicode_forms_name_one_document(client: TestClient) -> None:
    created = client.post("/v1/documents", json={"doc_id": NFD, "text": ZEBRA_TEXT})
    again = client.post("/v1/documents", json={"doc_id": NFC, "text": "Another café story."})
    upload = client.post("/v1/documents", files={"file": (f"{NFD}.txt", b"A third story.")})
    found = client.get(f"/v1/documents/{quote(NFD)}")

    assert created.status_code == 201 and created.json()["documents"][0]["doc_id"] == NFC
    assert again.status_code == 409 and upload.status_code == 409
    assert found.status_code == 200 and found.json()["doc_id"] == NFC
    assert doc_ids(client).count(NFC) == 1 and NFD not in doc_ids(client)
    assert client.delete(f"/v1/documents/{quote(NFD)}").status_code == 204
    assert NFC not in doc_ids(client)


@pytest.mark.parametrize(
    "filename", ["../../etc/passwd.txt", "..\\..\\windows\\win.ini.txt", "/etc/passwd.txt"]
)
def test_an_upload_name_with_folders_is_refused(client: TestClient, filename: str) -> None:
    response = client.post("/v1/documents", files={"file": (filename, ZEBRA_TEXT.encode())})

    assert response.status_code == 422
    assert "folders" in response.json()["error"]["message"]
    assert not [d for d in doc_ids(client) if "passwd" in d or "win" in d]


def test_a_binary_upload_is_refused_even_when_its_first_nul_is_late(client: TestClient) -> None:
    text = (ZEBRA_TEXT + "\n\n") * 40  # ~8 kB of text, then binary
    data = text.encode() + bytes(range(256))

    response = client.post("/v1/documents", files={"file": ("late.txt", data)})

    assert response.status_code == 422
    assert "binary" in response.json()["error"]["message"]
    assert "late" not in doc_ids(client)


def test_control_characters_are_not_stored(client: TestClient) -> None:
    body = {
        "doc_id": "zebra",
        "title": "Zebra\u0000 study",
        "text": ZEBRA_TEXT.replace("engineers", "engi\u0000neers\u001b"),
        "url": "https://example.org/\u0007zebra",
    }
    assert client.post("/v1/documents", json=body).status_code == 201
    upload = ZEBRA_TEXT.replace("Zebra", "Okapi").encode().replace(b"City", b"Ci\x1bty")
    assert client.post("/v1/documents", files={"file": ("okapi.md", upload)}).status_code == 201

    for doc_id in ("zebra", "okapi"):
        stored = client.get(f"/v1/documents/{doc_id}").json()
        for field in ("title", "text", "url"):
            value = stored[field] or ""
            assert not any(ord(ch) < 32 and ch not in "\n\t" for ch in value), (doc_id, field)
    assert client.get("/v1/documents/zebra").json()["title"].startswith("Zebra")


def test_a_question_is_used_without_its_control_characters(make_app: AppFactory) -> None:
    llm = ScriptedLLM(cite_first_passage)
    with TestClient(make_app(llm)) as client:
        only_nul = client.post("/v1/ask", json={"question": "\u0000"})
        only_nul_search = client.post("/v1/search", json={"query": "\u0000\u0000"})
        plain = client.post("/v1/search", json={"query": "phase one days"}).json()
        with_nul = client.post("/v1/search", json={"query": "phase\u0000one\u0007days"}).json()
        asked = client.post("/v1/ask", json={"question": "How long did\u0000 phase one last?"})

    assert only_nul.status_code == 422 and only_nul_search.status_code == 422
    assert "visible" in only_nul.json()["error"]["message"]
    assert with_nul == plain
    assert asked.status_code == 200
    prompt = json.dumps([m.content for m in llm.calls[-1]])
    assert "\\u0000" not in prompt and "phase one" in prompt
