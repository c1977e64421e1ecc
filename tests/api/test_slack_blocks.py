"""Slack text in and out, and the per-user rate limit: pure functions on hand-made cases."""

from __future__ import annotations

import json

import pytest
from slack_sdk.models.blocks import Block

from api.slack_blocks import answer_message, question_from
from api.slack_state import RateLimiter
from rag.types import Answer, Citation


@pytest.mark.parametrize(
    ("text", "question"),
    [
        ("<@UBOT> How long did phase one last?", "How long did phase one last?"),
        ("<@UBOT|rag>   what about\n<@U42>?", "what about @U42?"),
        ("<!here> <@UBOT> is <https://x.test/a|this article> right?", "is this article right?"),
        ("<@UBOT> is 3 &lt; 4 &amp;&amp; 5 &gt; 4?", "is 3 < 4 && 5 > 4?"),
        ("<@UBOT>", ""),
    ],
    ids=["mention", "other-user", "link-and-here", "entities", "bare"],
)
def test_the_question_is_the_message_without_slack_markup(text: str, question: str) -> None:
    assert question_from(text, "UBOT") == question


def citation(n: int, **extra: object) -> Citation:
    values: dict[str, object] = {
        "n": n,
        "doc_id": f"doc-{n}",
        "title": f"Title <{n}>",
        "text": "word " * 200,
        "start": 0,
        "end": 1000,
        "score": 0.5,
        **extra,
    }
    return Citation(**values)  # type: ignore[arg-type]


def test_an_answer_lists_numbered_sources_with_dates_quotes_and_buttons() -> None:
    answer = Answer(
        "Q?",
        "It was **42 days** [1], or 6 weeks <sic> [2].",
        False,
        (citation(1, published="2025-03-06T10:00:00"), citation(2, also_in=("doc-9",))),
        "fake",
        degraded=True,
    )
    text, blocks = answer_message(answer, "a-123")
    dumped = json.dumps(blocks, ensure_ascii=False)
    assert "It was *42 days* [1], or 6 weeks &lt;sic&gt; [2]." in dumped
    assert "*[1] Title &lt;1&gt;*  ·  2025-03-06" in dumped
    assert "`doc-2`, also in doc-9" in dumped
    assert "extracted verbatim" in dumped  # the degraded note
    quotes = [line for line in dumped.split("\\n") if line.startswith("> ")]
    assert quotes and all(len(q) < 240 and q.endswith("…") for q in quotes)
    [buttons] = [b for b in json.loads(dumped) if b["type"] == "actions"]
    assert [e["value"] for e in buttons["elements"]] == ["a-123", "a-123"]
    assert "Sources:" in text and "[2] Title &lt;2&gt; (doc-2)" in text


def test_an_abstention_says_not_in_the_articles_without_sources() -> None:
    answer = Answer("Q?", "The articles don't say.", True, (citation(1),), "fake")
    text, blocks = answer_message(answer, None)
    assert text.startswith(":mag: Not in the articles")
    assert all(b["type"] == "section" for b in blocks) and len(blocks) == 1


def test_the_rate_limit_is_per_user_over_a_sliding_minute() -> None:
    now = [1000.0]
    limiter = RateLimiter(2, clock=lambda: now[0])
    assert limiter.allow("U1") and limiter.allow("U1")
    assert not limiter.allow("U1")
    assert limiter.allow("U2")
    assert limiter.retry_after("U1") == pytest.approx(60.0)
    now[0] += 30
    assert not limiter.allow("U1")  # refusals are not counted against the user
    now[0] += 30.5
    assert limiter.allow("U1")


def test_even_a_huge_answer_makes_blocks_slack_accepts() -> None:
    """slack_sdk's Block Kit models check Slack's limits (text lengths, element counts)."""
    long_title = citation(1, title="T" * 300, published="2025-03-01")
    answer = Answer("q", "claim [1]. " * 600, False, (long_title,) * 30, "m", degraded=True)
    _, blocks = answer_message(answer, "a-1")
    assert len(blocks) <= 50
    for block in blocks:
        parsed = Block.parse(block)
        assert parsed is not None
        parsed.validate_json()  # raises SlackObjectFormationError when over a limit
        assert parsed.to_dict() == block
