"""The Slack bot under load and in use: /ask, rate limits, a busy queue, outages, feedback."""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.feedback import FeedbackStore, export
from api.queue import GenerationQueue
from api.slack import slack_router
from rag.chat import ChatEngine
from rag.components import pipeline_over
from rag.conversations import ConversationStore
from rag.types import Message
from tests.api.slack_requests import (  # the *_fixture names register fixtures
    PHASE_ONE,
    PHASE_ONE_DOC,
    SeedStore,
    Slack,
    blocks_text,
    click,
    fake_slack_fixture,  # noqa: F401
    mention,
    open_app,
    reply_from_passages,
    seed_store_fixture,  # noqa: F401
    send_event,
    send_form,
    slack_fixture,  # noqa: F401
    slack_settings,
)
from tests.fakes import FakeSlack, ScriptedLLM


def test_a_user_over_the_rate_limit_is_told_politely(
    seed_store: SeedStore, fake_slack: FakeSlack, tmp_path: Path
) -> None:
    settings = slack_settings(tmp_path, fake_slack, slack_rate_limit_per_minute=1)
    with open_app(seed_store, settings, ScriptedLLM(reply_from_passages)) as client:
        send_event(client, mention(PHASE_ONE, "1700000700.000100"), "Ev10")
        send_event(client, mention(PHASE_ONE, "1700000701.000100"), "Ev11")
        [notice] = fake_slack.wait_for("chat.postEphemeral")
        [answer] = fake_slack.wait_for("chat.postMessage")
    # The two arrive together, so either may be the one over the limit; one of each.
    assert notice["user"] == "U1" and "try again" in str(notice["text"])
    assert {notice["thread_ts"], answer["thread_ts"]} == {"1700000700.000100", "1700000701.000100"}
    assert len(fake_slack.posts()) == 1


def test_when_every_answer_slot_is_taken_the_asker_hears_busy(
    seed_store: SeedStore, fake_slack: FakeSlack, tmp_path: Path
) -> None:
    release = threading.Event()

    def slow(messages: Sequence[Message]) -> str:
        release.wait(10)
        return reply_from_passages(messages)

    settings = slack_settings(tmp_path, fake_slack, slack_workers=1, slack_max_pending=1)
    with open_app(seed_store, settings, ScriptedLLM(slow)) as client:
        for n in range(3):  # three people, so no one is over the per-user limit
            send_event(client, mention(PHASE_ONE, f"1700001000.00010{n}", user=f"U{n}"), f"Ev{n}")
        [busy] = fake_slack.wait_for("chat.postMessage")
        release.set()
        posts = fake_slack.wait_for("chat.postMessage", 3)
    assert "ask again" in str(busy["text"])
    answered = {p["thread_ts"] for p in posts if "42 days" in str(p["text"])}
    assert len(answered) == 2 and busy["thread_ts"] not in answered


def test_a_slack_outage_is_logged_not_raised(
    seed_store: SeedStore, fake_slack: FakeSlack, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = slack_settings(tmp_path, fake_slack)
    with open_app(seed_store, settings, ScriptedLLM(reply_from_passages)) as client:
        send_event(client, mention(PHASE_ONE, "1700001100.000100"), "EvOut1")
        fake_slack.wait_for("chat.postMessage")
        fake_slack.close()  # Slack goes away between two questions
        send_event(client, mention(PHASE_ONE, "1700001101.000100"), "EvOut2")
    assert "chat.postMessage to C1 failed" in caplog.text


# ---- /ask -----------------------------------------------------------------------------------


def test_the_ask_command_answers_in_a_thread_under_the_question(slack: Slack) -> None:
    form = {
        "token": "legacy",
        "team_id": "T1",
        "channel_id": "C7",
        "user_id": "U3",
        "command": "/ask",
        "text": PHASE_ONE,
        "response_url": "https://hooks.slack.invalid/2",
        "trigger_id": "1.2.3",
        "api_app_id": "A1",
    }
    started = time.perf_counter()
    response = send_form(slack.client, "/slack/commands", form)
    assert time.perf_counter() - started < 3.0
    assert response.status_code == 200
    assert "Looking that up" in response.text

    question, answer = slack.fake.wait_for("chat.postMessage", 2)
    assert question["channel"] == "C7" and "<@U3> asked" in str(question["text"])
    assert answer["channel"] == "C7" and answer["thread_ts"] == "1700000000.000001"
    assert "42 days" in str(answer["text"]) and PHASE_ONE_DOC in blocks_text(answer)


def test_the_ask_command_without_a_question_explains_itself(slack: Slack) -> None:
    form = {"command": "/ask", "text": "  ", "user_id": "U3", "channel_id": "C7", "team_id": "T1"}
    response = send_form(slack.client, "/slack/commands", form)
    assert response.status_code == 200
    assert "/ask" in response.text


# ---- feedback -------------------------------------------------------------------------------


def test_feedback_clicks_are_stored_and_exported_as_eval_cases(slack: Slack) -> None:
    send_event(slack.client, mention(PHASE_ONE, "1700000800.000100"), "Ev12")
    slack.fake.wait_for("chat.postMessage")
    follow_up = mention("and how many prisoners?", "1700000801.000100", "1700000800.000100")
    send_event(slack.client, follow_up, "Ev13")
    good, bad = slack.fake.wait_for("chat.postMessage", 2)

    assert click(slack.client, good, "feedback_up", "U1").status_code == 200
    assert click(slack.client, bad, "feedback_down", "U1").status_code == 200
    thanks = slack.fake.wait_for("chat.postEphemeral", 2)
    assert all(t["user"] == "U1" and "Thanks" in str(t["text"]) for t in thanks)

    # An unsigned click is refused and changes nothing.
    body = b"payload=%7B%7D"
    refused = slack.client.post(
        "/slack/events",
        content=body,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert refused.status_code == 401

    slack.drain()
    store = FeedbackStore.open(slack.settings)
    try:
        votes = store.votes()
    finally:
        store.close()
    assert [v.rating for v in votes] == ["up", "down"]
    assert votes[0].answer.question == PHASE_ONE
    assert "42 days" in votes[0].answer.answer
    assert votes[0].answer.doc_ids[0] == PHASE_ONE_DOC
    assert votes[1].answer.history[0] == Message("user", PHASE_ONE)

    lines = io.StringIO()
    store = FeedbackStore.open(slack.settings)
    try:
        assert len(export(store, lines)) == 2
    finally:
        store.close()
    up, down = (json.loads(line) for line in lines.getvalue().splitlines())
    assert up["question"] == PHASE_ONE and up["kind"] == "factoid"
    assert "42 days" in up["answers"][0] and up["gold_docs"][0] == PHASE_ONE_DOC
    assert down["question"] == "and how many prisoners?" and down["kind"] == "followup"
    assert down["answers"] == [] and down["gold_docs"] == [] and "note" in down
    assert down["history"][0] == {"role": "user", "content": PHASE_ONE}


def test_the_router_mounts_on_any_app_and_shares_a_generation_queue(
    seed_store: SeedStore, fake_slack: FakeSlack, tmp_path: Path
) -> None:
    store, embedder = seed_store
    settings = slack_settings(tmp_path, fake_slack)
    pipeline = pipeline_over(store, embedder, ScriptedLLM(reply_from_passages), settings)
    conversations = ConversationStore(tmp_path / "conversations.sqlite3")
    feedback = FeedbackStore(tmp_path / "votes.sqlite3")
    queue = GenerationQueue(capacity=4, workers=1)
    router = slack_router(
        settings, ChatEngine(lambda: pipeline, conversations), feedback, queue=queue
    )
    assert router is not None
    app = FastAPI()
    app.include_router(router)
    with TestClient(app) as client:
        send_event(client, mention(PHASE_ONE, "1700001200.000100"), "EvR1")
        [post] = fake_slack.wait_for("chat.postMessage")
        assert click(client, post, "feedback_up", "U1").status_code == 200
        fake_slack.wait_for("chat.postEphemeral")
    queue.shutdown()
    assert [v.rating for v in feedback.votes()] == ["up"]  # stored in the store it was given
    assert len(conversations.history(feedback.votes()[0].answer.conversation_id or "")) == 2
    feedback.close()
    conversations.close()
