"""Slack as the tests see it: an app over the seed index, a fake Slack, and signed requests."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
import urllib.parse
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from index.store import IndexStore
from index.writer import IndexConfig, IndexWriter
from rag.components import pipeline_over
from rag.settings import Settings
from rag.types import Message
from tests.fakes import FakeSlack, HashEmbedder, ScriptedLLM

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
SEEDS = Path(__file__).resolve().parents[2] / "seeds"
PHASE_ONE = "How long did the first phase of the ceasefire last?"
PHASE_ONE_DOC = "000_c04850de3b1b0f05"

SeedStore = tuple[IndexStore, HashEmbedder]


def reply_from_passages(messages: Sequence[Message]) -> str:
    """A fake model that answers from the passages it is given, citing them as asked."""
    prompt = messages[-1].content
    question = prompt.rsplit("<question>", 1)[-1].lower()
    passages = dict(re.findall(r"^\[(\d+)\] \(.*?\) (.*)$", prompt, re.M))
    for keyword, answer in (
        ("prisoner", "Over 1,000 Palestinian prisoners were released [{n}]."),
        ("how long", "The first phase of the ceasefire lasted 42 days [{n}]."),
    ):
        if keyword in question:
            cited = [n for n, text in passages.items() if "1,000 Palestinian" in text]
            if cited:
                return answer.format(n=cited[0])
    return "The articles don't say."


@pytest.fixture(scope="module", name="seed_store")
def seed_store_fixture(tmp_path_factory: pytest.TempPathFactory) -> SeedStore:
    embedder = HashEmbedder()
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    config = IndexConfig(
        settings.chunk_max_words,
        settings.chunk_overlap_sentences,
        settings.approx_threshold,
        settings.dedup_threshold,
    )
    index_dir = tmp_path_factory.mktemp("slack") / "index"
    report = IndexWriter(index_dir, embedder, config).build([SEEDS])
    return report.store, embedder


@dataclass
class Slack:
    client: TestClient
    fake: FakeSlack
    llm: ScriptedLLM
    settings: Settings
    open: bool = True

    def drain(self) -> None:
        """Stop the app: every listener and answer in flight finishes first."""
        if self.open:
            self.open = False
            self.client.__exit__(None, None, None)


@pytest.fixture(name="fake_slack")
def fake_slack_fixture() -> Iterator[FakeSlack]:
    fake = FakeSlack()
    yield fake
    fake.close()


def slack_settings(tmp_path: Path, fake: FakeSlack, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "index_dir": tmp_path / "index",
        "state_dir": tmp_path / "state",
        "llm_model": "fake/scripted",
        "slack_signing_secret": SECRET,
        "slack_bot_token": "xoxb-test-token",
        "slack_api_url": fake.url,
        # The hash embedder's similarities run lower than MiniLM's, which the default was fitted on.
        "min_relevance": 0.6,
        **overrides,
    }
    return Settings(_env_file=None, **values)  # type: ignore[call-arg, arg-type]


def open_app(seed_store, settings: Settings, llm: ScriptedLLM) -> TestClient:
    store, embedder = seed_store
    pipeline = pipeline_over(store, embedder, llm, settings)
    return TestClient(create_app(settings, pipeline=pipeline))


@pytest.fixture(name="slack")
def slack_fixture(seed_store: SeedStore, fake_slack: FakeSlack, tmp_path: Path) -> Iterator[Slack]:
    llm = ScriptedLLM(reply_from_passages)
    settings = slack_settings(tmp_path, fake_slack)
    client = open_app(seed_store, settings, llm).__enter__()
    env = Slack(client, fake_slack, llm, settings)
    yield env
    env.drain()


# ---- sending as Slack does ----------------------------------------------------------------


def signed(body: bytes, *, timestamp: int | None = None, secret: str = SECRET) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}


def event_body(event: dict[str, object], event_id: str) -> bytes:
    envelope = {
        "token": "legacy",
        "team_id": "T1",
        "api_app_id": "A1",
        "type": "event_callback",
        "event_id": event_id,
        "event_time": int(time.time()),
        "event": {"event_ts": event.get("ts"), **event},
        "authorizations": [{"team_id": "T1", "user_id": FakeSlack.BOT_USER_ID, "is_bot": True}],
    }
    return json.dumps(envelope).encode()


def send_event(
    client: TestClient, event: dict[str, object], event_id: str, **headers: str
) -> httpx.Response:
    body = event_body(event, event_id)
    all_headers = {"Content-Type": "application/json", **signed(body), **headers}
    return client.post("/slack/events", content=body, headers=all_headers)


def mention(
    text: str, ts: str, thread_ts: str | None = None, user: str = "U1"
) -> dict[str, object]:
    event: dict[str, object] = {
        "type": "app_mention",
        "user": user,
        "text": f"<@{FakeSlack.BOT_USER_ID}> {text}",
        "ts": ts,
        "channel": "C1",
    }
    if thread_ts:
        event["thread_ts"] = thread_ts
    return event


def direct_message(text: str, ts: str, **extra: object) -> dict[str, object]:
    return {
        "type": "message",
        "channel_type": "im",
        "channel": "D1",
        "user": "U2",
        "text": text,
        "ts": ts,
        **extra,
    }


def send_form(
    client: TestClient, path: str, form: dict[str, str], **headers: str
) -> httpx.Response:
    body = urllib.parse.urlencode(form).encode()
    all_headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        **signed(body),
        **headers,
    }
    return client.post(path, content=body, headers=all_headers)


def click(
    client: TestClient, answer_post: dict[str, object], action_id: str, user: str
) -> httpx.Response:
    blocks = json.loads(json.dumps(answer_post["blocks"]))  # plain JSON: lists and dicts
    buttons = next(b for b in blocks if b["type"] == "actions")
    value = next(e["value"] for e in buttons["elements"] if e["action_id"] == action_id)
    payload = {
        "type": "block_actions",
        "team": {"id": "T1"},
        "user": {"id": user},
        "api_app_id": "A1",
        "token": "legacy",
        "trigger_id": "1.2.3",
        "channel": {"id": answer_post["channel"]},
        "container": {"type": "message", "message_ts": "1700000000.000001"},
        "message": {"ts": "1700000000.000001", "thread_ts": answer_post["thread_ts"]},
        "response_url": "https://hooks.slack.invalid/1",
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": "feedback",
                "value": value,
                "action_ts": str(time.time()),
            }
        ],
    }
    return send_form(client, "/slack/events", {"payload": json.dumps(payload)})


def blocks_text(post: dict[str, object]) -> str:
    return json.dumps(post.get("blocks") or [], ensure_ascii=False)
