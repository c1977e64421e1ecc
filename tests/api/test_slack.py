"""The Slack bot end to end: signed requests in through the app, answers out at a fake Slack."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from api.slack import slack_status
from tests.api.slack_requests import (  # the *_fixture names register fixtures
    PHASE_ONE,
    PHASE_ONE_DOC,
    SeedStore,
    Slack,
    blocks_text,
    direct_message,
    event_body,
    fake_slack_fixture,  # noqa: F401
    mention,
    open_app,
    reply_from_passages,
    seed_store_fixture,  # noqa: F401
    send_event,
    signed,
    slack_fixture,  # noqa: F401
    slack_settings,
)
from tests.fakes import FakeSlack, ScriptedLLM

# ---- signatures ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/slack/events", "/slack/commands"])
@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Slack-Request-Timestamp": str(int(time.time())), "X-Slack-Signature": "v0=deadbeef"},
        "stale",
        "wrong-secret",
        {"X-Slack-Request-Timestamp": "soon", "X-Slack-Signature": "v0=00"},
    ],
    ids=["unsigned", "bad-signature", "stale", "wrong-secret", "garbage-timestamp"],
)
def test_requests_without_a_valid_signature_get_401(
    slack: Slack, path: str, headers: dict[str, str] | str
) -> None:
    body = event_body(mention(PHASE_ONE, "1700000100.000100"), "Ev401")
    if headers == "stale":
        headers = signed(body, timestamp=int(time.time()) - 6 * 60)
    elif headers == "wrong-secret":
        headers = signed(body, secret="not-the-secret")
    assert isinstance(headers, dict)
    response = slack.client.post(
        path, content=body, headers={"Content-Type": "application/json", **headers}
    )
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"
    slack.drain()  # drain: nothing was answered
    assert slack.fake.posts() == []


def test_url_verification_echoes_the_challenge(slack: Slack) -> None:
    body = json.dumps(
        {"token": "x", "challenge": "3eZbrw1aBm2rZgRNFdxV", "type": "url_verification"}
    )
    response = slack.client.post(
        "/slack/events",
        content=body,
        headers={"Content-Type": "application/json", **signed(body.encode())},
    )
    assert response.status_code == 200
    assert response.json() == {"challenge": "3eZbrw1aBm2rZgRNFdxV"}


# ---- answering ------------------------------------------------------------------------------


def test_a_mention_is_acknowledged_at_once_and_answered_in_its_thread(slack: Slack) -> None:
    started = time.perf_counter()
    response = send_event(slack.client, mention(PHASE_ONE, "1700000100.000100"), "Ev1")
    assert response.status_code == 200
    assert time.perf_counter() - started < 3.0

    [post] = slack.fake.wait_for("chat.postMessage")
    assert post["channel"] == "C1"
    assert post["thread_ts"] == "1700000100.000100"
    assert "42 days" in str(post["text"])
    blocks = blocks_text(post)
    assert "Sources" in blocks
    assert PHASE_ONE_DOC in blocks and "[1]" in blocks
    assert "Israel-Hamas Ceasefire Talks Stalled" in blocks  # the source's title
    assert "👍" in blocks and "👎" in blocks


def test_a_follow_up_in_the_thread_is_answered_from_its_history(slack: Slack) -> None:
    send_event(slack.client, mention(PHASE_ONE, "1700000200.000100"), "Ev2")
    slack.fake.wait_for("chat.postMessage")
    follow_up = mention("and how many prisoners?", "1700000201.000100", "1700000200.000100")
    send_event(slack.client, follow_up, "Ev3")
    _first, second = slack.fake.wait_for("chat.postMessage", 2)

    assert second["thread_ts"] == "1700000200.000100"
    assert "1,000" in str(second["text"])
    # The model was asked the follow-up made standalone with the thread's earlier question.
    asked = slack.llm.calls[-1][-1].content.rsplit("<question>", 1)[-1]
    assert "prisoners" in asked and "ceasefire" in asked.lower()
    assert "Read as:" in blocks_text(second)


def test_a_thread_survives_a_restart(
    seed_store: SeedStore, fake_slack: FakeSlack, tmp_path: Path
) -> None:
    settings = slack_settings(tmp_path, fake_slack)
    with open_app(seed_store, settings, ScriptedLLM(reply_from_passages)) as client:
        send_event(client, mention(PHASE_ONE, "1700000300.000100"), "Ev4")
        fake_slack.wait_for("chat.postMessage")

    llm = ScriptedLLM(reply_from_passages)
    with open_app(seed_store, settings, llm) as client:
        # Slack retries the first event after the restart: still answered only once.
        send_event(
            client, mention(PHASE_ONE, "1700000300.000100"), "Ev4", **{"X-Slack-Retry-Num": "1"}
        )
        follow_up = mention("and how many prisoners?", "1700000301.000100", "1700000300.000100")
        send_event(client, follow_up, "Ev5")
        _, second = fake_slack.wait_for("chat.postMessage", 2)
    assert second["thread_ts"] == "1700000300.000100"
    assert "ceasefire" in llm.calls[-1][-1].content.rsplit("<question>", 1)[-1].lower()
    assert len(fake_slack.posts()) == 2


def test_a_retried_or_repeated_event_is_answered_once(slack: Slack) -> None:
    event = mention(PHASE_ONE, "1700000400.000100")
    send_event(slack.client, event, "Ev6")
    retry = {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
    assert send_event(slack.client, event, "Ev6", **retry).status_code == 200
    send_event(slack.client, event, "Ev6")
    # The same message delivered under another event id (a mention also seen as a message).
    send_event(slack.client, event, "Ev6-other")
    send_event(slack.client, direct_message(PHASE_ONE, "1700000401.000100"), "Ev7")
    slack.fake.wait_for("chat.postMessage", 2)
    slack.drain()  # drain every listener and answer
    threads = sorted(str(p["thread_ts"]) for p in slack.fake.posts())
    assert threads == ["1700000400.000100", "1700000401.000100"]


def test_bot_messages_are_ignored(slack: Slack) -> None:
    send_event(slack.client, direct_message("hello from a bot", "1.1", bot_id="B9"), "EvB1")
    send_event(slack.client, direct_message("integration", "1.2", subtype="bot_message"), "EvB2")
    own = direct_message(PHASE_ONE, "1.3", user=FakeSlack.BOT_USER_ID)
    send_event(slack.client, own, "EvB3")
    edited = direct_message(PHASE_ONE, "1.4", subtype="message_changed")
    send_event(slack.client, edited, "EvB4")
    send_event(slack.client, direct_message(PHASE_ONE, "1.5"), "EvB5")
    slack.fake.wait_for("chat.postMessage")
    slack.drain()
    assert [p["thread_ts"] for p in slack.fake.posts()] == ["1.5"]


def test_when_the_articles_do_not_say_the_reply_says_so(slack: Slack) -> None:
    send_event(slack.client, mention("Who won the 1998 World Cup?", "1700000500.000100"), "Ev8")
    [post] = slack.fake.wait_for("chat.postMessage")
    assert "Not in the articles" in str(post["text"])
    assert "Sources" not in blocks_text(post)


def test_a_bare_mention_gets_help(slack: Slack) -> None:
    send_event(slack.client, mention("", "1700000600.000100"), "Ev9")
    [post] = slack.fake.wait_for("chat.postMessage")
    assert "/ask" in str(post["text"])
    assert slack.llm.calls == []


def test_without_credentials_the_routes_are_off_and_readiness_says_so(
    seed_store: SeedStore, fake_slack: FakeSlack, tmp_path: Path
) -> None:
    settings = slack_settings(tmp_path, fake_slack, slack_signing_secret=None)
    assert slack_status(settings) == "off (no credentials)"
    with open_app(seed_store, settings, ScriptedLLM(reply_from_passages)) as client:
        body = event_body(mention(PHASE_ONE, "1700000900.000100"), "Ev14")
        headers = {"Content-Type": "application/json", **signed(body)}
        assert client.post("/slack/events", content=body, headers=headers).status_code == 404
        assert client.post("/slack/commands", content=body, headers=headers).status_code == 404
        assert client.get("/readyz").json()["slack"].startswith("off")
    assert fake_slack.calls == []


@pytest.mark.parametrize(
    "body", [b"not json at all {", b"[1, 2]", b"\xff\xfe", b'{"type": 5}'], ids=str
)
def test_a_signed_but_malformed_payload_is_a_4xx_not_a_crash(slack: Slack, body: bytes) -> None:
    headers = {"Content-Type": "application/json", **signed(body)}
    response = slack.client.post("/slack/events", content=body, headers=headers)
    assert 400 <= response.status_code < 500
    slack.drain()
    assert slack.fake.posts() == []
