"""Slack text in and out: a question from a message, an answer as Block Kit with sources."""

from __future__ import annotations

import html
import re

from rag.types import Answer, Citation

__all__ = [
    "ABSTAIN_TEXT",
    "FEEDBACK_DOWN",
    "FEEDBACK_UP",
    "answer_message",
    "question_from",
    "short_quote",
]

FEEDBACK_UP = "feedback_up"
FEEDBACK_DOWN = "feedback_down"
ABSTAIN_TEXT = "Not in the articles: I couldn't find an answer to that in the news articles I have."

Block = dict[str, object]

_MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")
_LINK = re.compile(r"<((?:https?|mailto):[^|>]+)(?:\|([^>]*))?>")
_SPECIAL = re.compile(r"<!(?:here|channel|everyone)(?:\|[^>]*)?>")
_SECTION_LIMIT = 2900  # Slack allows 3000 characters in a section's text
_QUOTE_CHARS = 220


def question_from(text: str, bot_user_id: str | None = None) -> str:
    """The question in a Slack message: the bot's mention dropped, links and entities unwrapped."""
    if bot_user_id:
        text = re.sub(rf"<@{re.escape(bot_user_id)}(?:\|[^>]*)?>", " ", text)
    text = _SPECIAL.sub(" ", text)
    text = _MENTION.sub(lambda m: "@" + m.group(1), text)
    text = _LINK.sub(lambda m: m.group(2) or m.group(1), text)
    # Slack escapes only &, < and >; the rest is as typed.
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return " ".join(text.split())


def _escape(text: str) -> str:
    """Slack's mrkdwn needs &, < and > escaped, and nothing else."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _mrkdwn(text: str) -> str:
    # Models write Markdown; Slack bolds with single asterisks.
    return _escape(text).replace("**", "*")


def _clip(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:") + "…"


def short_quote(text: str, limit: int = _QUOTE_CHARS) -> str:
    """The start of a passage, cut at a word, on one line."""
    return _clip(" ".join(html.unescape(text).split()), limit)


def _source_line(citation: Citation) -> str:
    head = f"*[{citation.n}] {_escape(citation.title)}*"
    if citation.published:
        head += f"  ·  {_escape(citation.published[:10])}"
    if citation.url:
        head += f"  ·  <{citation.url}|link>"
    also = f", also in {', '.join(citation.also_in)}" if citation.also_in else ""
    quote = _escape(short_quote(citation.text))
    return f"{head}\n> {quote}\n`{citation.doc_id}`{also}"


def _feedback_buttons(answer_id: str) -> Block:
    def button(emoji: str, action_id: str, label: str) -> Block:
        return {
            "type": "button",
            "action_id": action_id,
            "text": {"type": "plain_text", "text": emoji, "emoji": True},
            "value": answer_id,
            "accessibility_label": label,
        }

    return {
        "type": "actions",
        "block_id": "feedback",
        "elements": [
            button("👍", FEEDBACK_UP, "Good answer"),
            button("👎", FEEDBACK_DOWN, "Bad answer"),
        ],
    }


def answer_message(answer: Answer, answer_id: str | None = None) -> tuple[str, list[Block]]:
    """The notification text and the Block Kit blocks for an answer.

    The answer first; then its numbered sources (title, date, a short quote, doc id); then
    👍/👎 buttons whose value names the stored answer, when one was stored.
    """
    if answer.abstained:
        body = f":mag: {ABSTAIN_TEXT}"
        citations: tuple[Citation, ...] = ()
    else:
        body = _mrkdwn(answer.text.strip())
        citations = answer.citations
    blocks: list[Block] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": _clip(body, _SECTION_LIMIT)}}
    ]
    notes = []
    if answer.degraded:
        notes.append("The language model was unavailable; this answer was extracted verbatim.")
    if answer.standalone_question and answer.standalone_question != answer.question:
        notes.append(f"Read as: {_escape(answer.standalone_question)}")
    if notes:
        blocks.append(
            {"type": "context", "elements": [{"type": "mrkdwn", "text": n} for n in notes]}
        )
    fallback = [body]
    if citations:
        blocks.append({"type": "divider"})
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": "*Sources*"}]})
        for citation in citations[:20]:  # Slack allows 50 blocks a message
            blocks.append(
                {
                    "type": "section",
                    "text": {"type": "mrkdwn", "text": _clip(_source_line(citation), 2900)},
                }
            )
        fallback.append("Sources:")
        fallback.extend(f"[{c.n}] {_escape(c.title)} ({c.doc_id})" for c in citations)
    if answer_id is not None:
        blocks.append(_feedback_buttons(answer_id))
    return "\n".join(fallback), blocks
