"""The OpenAI-compatible routes, driven by OpenAI's own Python client against a real server on
127.0.0.1 (the fake LLM cites the passage that answers), with and without API keys."""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import AppFactory
from tests.api.test_server import running_server
from tests.fakes import ScriptedLLM

QUESTION = "How long did phase one of the ceasefire last?"
API_KEY = "openai-test-key"


@pytest.fixture(scope="module", params=[None, API_KEY], ids=["open", "api-keys"])
def client(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[openai.OpenAI]:
    key = request.param
    options = ("--api-keys", key) if key else ()
    # Without keys on the server any key is accepted; OpenAI's client insists on one.
    with (
        running_server(tmp_path_factory.mktemp("openai"), 0.0, *options) as server,
        openai.OpenAI(
            base_url=f"{server.url}/v1", api_key=key or "unused", max_retries=0, timeout=30
        ) as openai_client,
    ):
        yield openai_client


@pytest.mark.slow
def test_models_lists_the_one_model(client: openai.OpenAI) -> None:
    assert [model.id for model in client.models.list()] == ["rag-news"]


@pytest.mark.slow
def test_an_answer_says_42_and_cites_its_source(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model="rag-news", messages=[{"role": "user", "content": QUESTION}]
    )

    content = completion.choices[0].message.content or ""
    assert "42" in content
    assert "[1]" in content
    citations = (completion.model_extra or {})["citations"]
    assert citations[0]["n"] == 1
    assert "42" in citations[0]["text"]
    assert completion.choices[0].finish_reason == "stop"
    assert completion.object == "chat.completion"


@pytest.mark.slow
def test_a_streamed_answer_says_42_and_its_last_chunk_carries_the_citations(
    client: openai.OpenAI,
) -> None:
    stream = client.chat.completions.create(
        model="rag-news", messages=[{"role": "user", "content": QUESTION}], stream=True
    )
    chunks = list(stream)

    content = "".join(chunk.choices[0].delta.content or "" for chunk in chunks)
    assert "42" in content and "[1]" in content
    assert len(chunks) > 3  # word by word, not one piece
    assert all(chunk.object == "chat.completion.chunk" for chunk in chunks)
    assert chunks[-1].choices[0].finish_reason == "stop"
    citations = (chunks[-1].model_extra or {})["citations"]
    assert citations and "42" in citations[0]["text"]


@pytest.mark.slow
def test_earlier_messages_are_the_conversation(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model="rag-news",
        messages=[
            {"role": "system", "content": "You are helpful."},
            {"role": "user", "content": QUESTION},
            {"role": "assistant", "content": "It lasted 42 days [1]."},
            {"role": "user", "content": [{"type": "text", "text": "and when did it end?"}]},
        ],
    )
    assert completion.choices[0].message.content


@pytest.mark.slow
def test_bad_requests_are_openai_errors_with_our_codes(client: openai.OpenAI) -> None:
    with pytest.raises(openai.UnprocessableEntityError) as refused:
        client.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": QUESTION}]
        )
    assert refused.value.code == "invalid_request"
    assert refused.value.param == "model"
    assert refused.value.type == "invalid_request_error"
    assert "rag-news" in refused.value.message

    with pytest.raises(openai.UnprocessableEntityError) as refused:
        client.chat.completions.create(
            model="rag-news", messages=[{"role": "assistant", "content": "Hello."}]
        )
    assert "needs a user message" in refused.value.message


@pytest.mark.slow
def test_a_wrong_key_is_an_authentication_error_when_keys_are_set(client: openai.OpenAI) -> None:
    with openai.OpenAI(base_url=str(client.base_url), api_key="wrong", max_retries=0) as wrong:
        if client.api_key != API_KEY:  # an open server takes any key
            assert [model.id for model in wrong.models.list()] == ["rag-news"]
            return
        with pytest.raises(openai.AuthenticationError) as refused:
            wrong.models.list()
    assert refused.value.code == "unauthorized"
    assert refused.value.type == "authentication_error"


# ---- the shapes, in-process ----------------------------------------------------------------


def test_errors_on_the_openai_routes_take_openais_shape_and_others_keep_ours(
    make_app: AppFactory,
) -> None:
    with TestClient(make_app(api_keys="k")) as http:
        openai_style = http.get("/v1/models").json()
        ours = http.get("/v1/documents").json()

    assert openai_style == {
        "error": {
            "message": "missing or invalid API key: send 'Authorization: Bearer KEY'",
            "type": "authentication_error",
            "param": None,
            "code": "unauthorized",
        }
    }
    assert set(ours["error"]) == {"code", "message"}


@pytest.mark.parametrize(
    ("body", "status", "param"),
    [
        ({"model": "rag-news", "messages": []}, 422, "messages"),
        ({"model": "rag-news", "messages": [{"role": "user", "content": " "}]}, 422, None),
        ({"model": "rag-news", "messages": [{"role": "tool", "content": "x"}]}, 422, None),
        (
            {"model": "rag-news", "messages": [{"role": "user", "content": "x" * 2001}]},
            422,
            None,
        ),
        ({"model": "rag-news", "messages": [{"role": "user", "content": "hi"}], "n": 2}, 422, "n"),
        ({"model": "rag-news", "messages": [{"role": "user", "content": "x"}], "x": 1}, 422, "x"),
    ],
    ids=["no-messages", "blank-question", "tool-role", "too-long", "n-2", "unknown-field"],
)
def test_bad_bodies_are_422_never_500(
    make_app: AppFactory, body: dict[str, object], status: int, param: str | None
) -> None:
    with TestClient(make_app()) as http:
        response = http.post("/v1/chat/completions", json=body)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    assert error["type"] == "invalid_request_error"
    if param is not None:
        assert error["param"] == param


def test_an_abstention_is_a_normal_answer(make_app: AppFactory) -> None:
    body = {"model": "rag-news", "messages": [{"role": "user", "content": QUESTION}]}
    with TestClient(make_app(ScriptedLLM("The articles don't say."))) as http:
        response = http.post("/v1/chat/completions", json=body)
    assert response.status_code == 200
    completion = response.json()
    assert completion["abstained"] is True
    assert completion["choices"][0]["message"]["content"] == "The articles don't say."
