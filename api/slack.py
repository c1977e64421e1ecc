"""Slack in HTTP mode: slack-bolt mounted on FastAPI at ``/slack/events`` and ``/slack/commands``.

Every request must carry a valid Slack signature made with ``RAG_SLACK_SIGNING_SECRET`` within
Slack's 5-minute window, else 401. Without the secret and the bot token there are no Slack routes.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections.abc import AsyncIterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI, Request, Response
from slack_bolt import App
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from slack_sdk import WebClient
from starlette.concurrency import run_in_threadpool

from api.errors import code_for, error_response
from api.feedback import FeedbackStore
from api.queue import GenerationQueue
from api.slack_bot import SlackBot
from api.slack_state import SlackState
from rag.chat import ChatEngine
from rag.settings import Settings

__all__ = ["slack_configured", "slack_router", "slack_status", "verify_signature"]

log = logging.getLogger("api.slack")

OFF_STATUS = "off (no credentials)"
REPLAY_WINDOW_S = 5 * 60


def slack_configured(settings: Settings) -> bool:
    return bool(settings.slack_signing_secret and settings.slack_bot_token)


def slack_status(settings: Settings) -> str:
    """``on``, or why not, for ``/readyz`` and the start-up log."""
    return "on" if slack_configured(settings) else OFF_STATUS


def verify_signature(
    secret: str, headers: Mapping[str, str], body: bytes, *, now: float | None = None
) -> bool:
    """Slack's v0 signature over ``v0:{timestamp}:{body}``, the timestamp within 5 minutes.

    Over the raw bytes: a body that is not even UTF-8 is refused, not an error.
    """
    timestamp = (headers.get("x-slack-request-timestamp") or "").strip()
    signature = (headers.get("x-slack-signature") or "").strip()
    if not signature or not timestamp.isdigit():
        return False
    if abs((time.time() if now is None else now) - int(timestamp)) > REPLAY_WINDOW_S:
        return False
    message = b"v0:" + timestamp.encode() + b":" + body
    expected = "v0=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), signature.encode())


def slack_router(
    settings: Settings,
    chat: ChatEngine,
    feedback: FeedbackStore | None = None,
    *,
    client: WebClient | None = None,
    queue: GenerationQueue | None = None,
) -> APIRouter | None:
    """The Slack routes, or None (logged) when the credentials are not set.

    ``client`` defaults to a Web API client for ``RAG_SLACK_API_URL``; the feedback store to
    ``state_dir/feedback.sqlite3``. Pass the app's generation ``queue`` so Slack and HTTP
    answers share it; without one the bot keeps a small queue of its own. Its threads stop
    with the app (the router's lifespan).
    """
    if not slack_configured(settings):
        log.info("slack: %s: set RAG_SLACK_SIGNING_SECRET and RAG_SLACK_BOT_TOKEN", OFF_STATUS)
        return None
    secret = settings.slack_signing_secret or ""
    store = feedback or FeedbackStore.open(settings)
    client = client or WebClient(
        token=settings.slack_bot_token, base_url=_with_slash(settings.slack_api_url), timeout=15
    )
    state = SlackState(settings.state_dir / "slack.sqlite3")
    bot = SlackBot(settings, chat, store, state, client, queue=queue)
    # Listeners only sort and acknowledge; answers run on the generation queue.
    listeners = ThreadPoolExecutor(4, thread_name_prefix="slack-listener")
    bolt = App(
        name="rag-news",
        signing_secret=secret,
        client=client,
        # No network at start-up: auth.test runs on the first event instead.
        token_verification_enabled=False,
        listener_executor=listeners,
        logger=logging.getLogger("api.slack.bolt"),
    )
    bot.register(bolt)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        log.info("slack: on, Web API at %s", client.base_url)
        try:
            yield
        finally:
            # Listeners first (they are quick, and may still hand questions to the bot).
            listeners.shutdown(wait=True)
            bot.close()
            state.close()
            if feedback is None:
                store.close()

    async def dispatch(request: Request) -> Response:
        body = await request.body()
        if not verify_signature(secret, request.headers, body):
            return error_response(
                401, "unauthorized", "missing, invalid or expired Slack request signature"
            )
        try:
            bolt_request = to_bolt_request(request, body)
        except (ValueError, AttributeError, TypeError):  # not UTF-8, or JSON but not an object
            bolt_request = None
        if bolt_request is None or not isinstance(bolt_request.body, dict):
            return error_response(400, code_for(400), "not a Slack payload")
        # bolt's dispatch blocks (up to 3 s for an ack): keep it off the event loop.
        bolt_response = await run_in_threadpool(bolt.dispatch, bolt_request)
        return to_starlette_response(bolt_response)

    router = APIRouter(tags=["slack"], lifespan=lifespan)
    for path, summary in (
        ("/slack/events", "Slack Events API and interactivity (signed by Slack)"),
        ("/slack/commands", "Slack slash command /ask (signed by Slack)"),
    ):
        router.add_api_route(
            path, dispatch, methods=["POST"], summary=summary, include_in_schema=False
        )
    return router


def _with_slash(url: str) -> str:
    # WebClient joins method names onto the base URL, which must end in a slash.
    return url if url.endswith("/") else url + "/"
