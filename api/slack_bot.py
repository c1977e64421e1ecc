"""The Slack bot's behaviour: mentions, DMs and ``/ask`` answered in threads; 👍/👎 votes kept.

Listeners only sort and acknowledge (Slack wants a reply within 3 s); answers are generated on
a bounded generation queue and posted with ``chat.postMessage`` in the question's thread.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
import zlib
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from api.errors import ApiError
from api.feedback import FeedbackStore
from api.queue import GenerationQueue
from api.slack_blocks import FEEDBACK_DOWN, FEEDBACK_UP, answer_message, question_from
from api.slack_state import RateLimiter, SlackState
from rag.chat import ChatEngine
from rag.errors import InputError, NotFoundError, OverloadedError
from rag.settings import Settings

__all__ = ["Question", "SlackBot"]

log = logging.getLogger("api.slack")

# Message subtypes that are a person writing; every other subtype (edits, joins, bots) is not.
_PEOPLE_SUBTYPES = frozenset({None, "file_share", "thread_broadcast"})
BUSY_TEXT = "I'm answering a lot of questions right now; please ask again in a minute."
RESTART_TEXT = "Sorry, I was restarted before I could answer that; please ask again."
HELP_TEXT = "Ask me about the news articles, e.g. `/ask How long did phase one last?`"


@dataclass(frozen=True)
class Question:
    """A question and where its answer goes: the thread that is also its conversation."""

    text: str
    channel: str
    user: str
    thread_ts: str

    @property
    def thread(self) -> str:
        return f"{self.channel}:{self.thread_ts}"


class SlackBot:
    """Turns Slack requests into questions for the chat engine and posts the answers."""

    def __init__(
        self,
        settings: Settings,
        chat: ChatEngine,
        feedback: FeedbackStore,
        state: SlackState,
        client: WebClient,
        *,
        queue: GenerationQueue | None = None,
    ) -> None:
        self._settings = settings
        self._chat = chat
        self._feedback = feedback
        self._state = state
        self._client = client
        self._limiter = RateLimiter(settings.slack_rate_limit_per_minute)
        # Answers are generated on the app's generation queue when given (one queue for HTTP
        # and Slack on 2 cores), else on a bounded one of their own: full means "busy".
        self._own_queue = queue is None
        self._queue = queue or GenerationQueue(
            settings.slack_workers + settings.slack_max_pending, settings.slack_workers
        )
        # Posting waits on the network, so it keeps off the generation workers.
        self._posters = ThreadPoolExecutor(2, thread_name_prefix="slack-post")
        # One answer at a time per conversation, so a quick follow-up sees the turn before it.
        self._conversation_locks = [threading.Lock() for _ in range(64)]

    def register(self, app: App) -> None:
        app.event("app_mention")(self.on_mention)
        app.event("message")(self.on_message)
        app.command("/ask")(self.on_ask)
        app.action(FEEDBACK_UP)(self.on_feedback)
        app.action(FEEDBACK_DOWN)(self.on_feedback)

    def close(self) -> None:
        """Drop answers not yet started; wait for those being written and posted."""
        if self._own_queue:
            self._queue.shutdown()
        self._posters.shutdown(wait=True)

    # ---- listeners (bolt injects arguments by name) -----------------------------------------

    def on_mention(self, body: dict[str, Any], event: dict[str, Any], context: BoltContext) -> None:
        self._on_message_event(body, event, context)

    def on_message(self, body: dict[str, Any], event: dict[str, Any], context: BoltContext) -> None:
        # In channels the bot answers mentions (app_mention); a plain message only in a DM.
        if event.get("channel_type") == "im":
            self._on_message_event(body, event, context)

    def on_ask(self, ack: Ack, command: dict[str, Any], respond: Respond) -> None:
        """``/ask QUESTION``: the question is posted in the channel, answered in its thread."""
        text = question_from(command.get("text") or "")
        user, channel = command.get("user_id"), command.get("channel_id")
        if not text or not user or not channel:
            ack(HELP_TEXT)
            return
        refusal = self._admit(user)
        if refusal:
            ack(refusal)
            return
        ack(f"Looking that up: {text}")
        try:
            posted = self._client.chat_postMessage(
                channel=channel, text=f"<@{user}> asked: {_escape(text)}"
            )
        except (SlackClientError, OSError) as exc:
            log.warning("slack: cannot post /ask in %s: %s", channel, exc)
            respond(f"I can't post in this channel ({_slack_error(exc)}); invite me, or DM me.")
            return
        self._submit(Question(text, channel, user, str(posted["ts"])))

    def on_feedback(self, ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        """A 👍/👎 click (already signature-checked by bolt) stored with its answer."""
        ack()
        rating = "up" if action.get("action_id") == FEEDBACK_UP else "down"
        user = str((body.get("user") or {}).get("id") or "")
        try:
            self._feedback.vote(str(action.get("value") or ""), user=user, rating=rating)
        except NotFoundError:
            reply = "I no longer have that answer on record, so I couldn't store your vote."
        else:
            reply = (
                "Thanks, glad it helped. 👍"
                if rating == "up"
                else "Thanks for flagging it. 👎 It goes into the answers we test against."
            )
        log.info("slack: feedback %s from %s", rating, user)
        message = body.get("message") or {}
        channel = (body.get("channel") or {}).get("id")
        if channel:
            self._post_ephemeral(
                channel, user, reply, message.get("thread_ts") or message.get("ts")
            )

    # ---- sorting --------------------------------------------------------------------------

    def _on_message_event(
        self, body: Mapping[str, Any], event: Mapping[str, Any], context: BoltContext
    ) -> None:
        user = event.get("user")
        if _from_bot(event) or not user or user == context.bot_user_id:
            return
        event_id = body.get("event_id")
        if event_id and not self._state.claim(f"event:{event_id}"):
            log.info("slack: event %s seen before; not answering again", event_id)
            return
        channel, ts = event.get("channel"), event.get("ts")
        if not channel or not ts:
            return
        # The same message can arrive twice under two event ids (a mention in a DM).
        if not self._state.claim(f"message:{channel}:{ts}"):
            return
        thread_ts = event.get("thread_ts") or ts
        question = Question(
            question_from(event.get("text") or "", context.bot_user_id), channel, user, thread_ts
        )
        if not question.text:
            self._post(question, HELP_TEXT)
            return
        refusal = self._admit(user)
        if refusal:
            self._post_ephemeral(channel, user, refusal, thread_ts)
            return
        self._submit(question)

    def _admit(self, user: str) -> str | None:
        """None when the user may ask now, else a polite refusal."""
        if self._limiter.allow(user):
            return None
        wait = max(1, round(self._limiter.retry_after(user)))
        return (
            f"You're asking faster than I can read. Please try again in {wait} s "
            f"(at most {self._settings.slack_rate_limit_per_minute} questions a minute)."
        )

    # ---- answering (on the generation queue) ------------------------------------------------

    def conversation_id(self, question: Question) -> str:
        """The same id for every question in a thread, across restarts.

        Keyed with the signing secret, so an HTTP client cannot guess a Slack thread's id
        and read its history through ``/v1/ask``.
        """
        secret = (self._settings.slack_signing_secret or "").encode()
        digest = hmac.new(secret, question.thread.encode(), hashlib.sha256).hexdigest()
        return "slack-" + digest[:32]

    def _submit(self, question: Question) -> None:
        if self._settings.log_questions:
            log.info("slack: question from %s: %s", question.user, question.text)
        try:
            future = self._queue.submit(partial(self._compose, question))
        except OverloadedError:
            self._post(question, BUSY_TEXT)
            return
        future.add_done_callback(partial(self._deliver, question))

    def _deliver(
        self, question: Question, future: Future[tuple[str, list[dict[str, object]] | None]]
    ) -> None:
        if future.cancelled():  # dropped at shutdown before it started: say so, don't go quiet
            text, blocks = RESTART_TEXT, None
        else:
            text, blocks = future.result()
        try:
            self._posters.submit(self._post, question, text, blocks)
        except RuntimeError:  # shutting down: post from here
            self._post(question, text, blocks)

    def _compose(self, question: Question) -> tuple[str, list[dict[str, object]] | None]:
        conversation_id = self.conversation_id(question)
        slot = zlib.crc32(conversation_id.encode()) % len(self._conversation_locks)
        lock = self._conversation_locks[slot]
        try:
            with lock:
                history = self._chat.history(conversation_id)
                answer = self._chat.ask(question.text, conversation_id=conversation_id)
                answer_id = self._feedback.record_answer(answer, history=history, source="slack")
        except InputError as exc:
            return f"Sorry, I can't answer that: {exc}", None
        except OverloadedError:
            return BUSY_TEXT, None
        except ApiError as exc:  # the index or models are still loading, or missing
            log.warning("slack: could not answer now: %s", exc)
            return "I'm not ready to answer yet; please ask again in a minute.", None
        except Exception:
            # Never leave a question hanging: say so in the thread, keep the trace in the log.
            log.exception("slack: answering failed")
            return "Sorry, something went wrong while answering; please try again.", None
        log.info(
            "slack: answered in thread %s (abstained=%s, degraded=%s, citations=%d)",
            question.thread,
            answer.abstained,
            answer.degraded,
            len(answer.citations),
        )
        return answer_message(answer, answer_id)

    # ---- posting ------------------------------------------------------------------------------

    def _post(
        self, question: Question, text: str, blocks: list[dict[str, object]] | None = None
    ) -> None:
        try:
            self._client.chat_postMessage(
                channel=question.channel,
                thread_ts=question.thread_ts,
                text=text,
                blocks=blocks,
                unfurl_links=False,
                unfurl_media=False,
            )
        except (SlackClientError, OSError) as exc:
            log.error("slack: chat.postMessage to %s failed: %s", question.channel, exc)

    def _post_ephemeral(self, channel: str, user: str, text: str, thread_ts: str | None) -> None:
        try:
            self._client.chat_postEphemeral(
                channel=channel, user=user, text=text, thread_ts=thread_ts
            )
        except (SlackClientError, OSError) as exc:
            log.error("slack: chat.postEphemeral to %s failed: %s", channel, exc)


def _from_bot(event: Mapping[str, Any]) -> bool:
    return bool(event.get("bot_id") or event.get("bot_profile")) or (
        event.get("subtype") not in _PEOPLE_SUBTYPES
    )


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _slack_error(exc: Exception) -> str:
    if isinstance(exc, SlackApiError):
        return str(exc.response.get("error", "error"))
    return "Slack is unreachable"
