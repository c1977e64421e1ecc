"""Feedback: votes kept with their answers across restarts, exported as eval dataset lines."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.feedback import FeedbackStore
from eval.dataset import parse_dataset
from rag.cli import app
from rag.errors import InputError, NotFoundError
from rag.settings import get_settings
from rag.types import Answer, Citation, Message

KINDS = {"factoid", "numeric", "paraphrase", "multi_doc", "conflict", "unanswerable"}
KINDS |= {"injection", "followup"}


def answer(question: str, text: str, *doc_ids: str, abstained: bool = False) -> Answer:
    citations = tuple(
        Citation(n, doc_id, f"Title {doc_id}", "passage", 0, 7, 0.9)
        for n, doc_id in enumerate(doc_ids, 1)
    )
    return Answer(question, text, abstained, citations, "fake/scripted", conversation_id="c-1")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[FeedbackStore]:
    store = FeedbackStore(tmp_path / "feedback.sqlite3")
    yield store
    store.close()


def test_a_vote_is_kept_with_its_answer_across_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "feedback.sqlite3"
    store = FeedbackStore(path)
    history = [Message("user", "How long?"), Message("assistant", "42 days [1].")]
    answer_id = store.record_answer(
        answer("And the prisoners?", "Over 1,000 [1].", "doc-a", "doc-b", "doc-a"),
        history=history,
    )
    store.vote(answer_id, user="U1", rating="down")
    store.close()

    reopened = FeedbackStore(path)
    try:
        [vote] = reopened.votes()
    finally:
        reopened.close()
    assert vote.rating == "down"
    assert vote.answer.question == "And the prisoners?"
    assert vote.answer.answer == "Over 1,000 [1]."
    assert vote.answer.doc_ids == ("doc-a", "doc-b")  # in citation order, once each
    assert vote.answer.history == tuple(history)


def test_a_user_changing_their_vote_counts_once(store: FeedbackStore) -> None:
    answer_id = store.record_answer(answer("Q?", "A [1].", "doc-a"))
    store.vote(answer_id, user="U1", rating="down")
    vote = store.vote(answer_id, user="U1", rating="up")
    assert (vote.ups, vote.downs, vote.rating) == (1, 0, "up")
    tie = store.vote(answer_id, user="U2", rating="down")
    assert tie.rating == "down"  # a disputed answer is worth a look


def test_unrated_answers_are_not_exported(store: FeedbackStore) -> None:
    store.record_answer(answer("Q?", "A [1].", "doc-a"))
    assert store.votes() == []


def test_votes_on_unknown_answers_or_with_unknown_ratings_are_refused(
    store: FeedbackStore,
) -> None:
    with pytest.raises(NotFoundError):
        store.vote("a-missing", user="U1", rating="up")
    answer_id = store.record_answer(answer("Q?", "A [1].", "doc-a"))
    with pytest.raises(InputError):
        store.vote(answer_id, user="U1", rating="meh")


@pytest.fixture
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("RAG_STATE_DIR", str(tmp_path / "state"))
    get_settings.cache_clear()
    yield tmp_path / "state"
    get_settings.cache_clear()


def test_rag_feedback_export_writes_the_eval_dataset_format(state_dir: Path) -> None:
    store = FeedbackStore(state_dir / "feedback.sqlite3")
    good = store.record_answer(answer("How long was phase one?", "42 days [1].", "doc-a"))
    bad = store.record_answer(
        answer("And the prisoners?", "Thirty [1].", "doc-b"),
        history=[Message("user", "How long was phase one?"), Message("assistant", "42 days.")],
    )
    abstained = store.record_answer(
        answer("Who won the 1998 World Cup?", "The articles don't say.", abstained=True)
    )
    store.vote(good, user="U1", rating="up")
    store.vote(bad, user="U1", rating="down")
    store.vote(abstained, user="U2", rating="up")
    store.close()

    out = state_dir.parent / "out" / "cases.jsonl"
    result = CliRunner().invoke(app, ["feedback", "export", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "3 eval case(s)" in result.output and "1 need a human" in result.output

    cases = [json.loads(line) for line in out.read_text("utf-8").splitlines()]
    assert len({c["id"] for c in cases}) == 3
    for case in cases:
        assert {"id", "question", "kind", "answers", "gold_docs"} <= case.keys()
        assert case["kind"] in KINDS
    up, down, none = cases
    assert (up["question"], up["kind"], up["answers"], up["gold_docs"]) == (
        "How long was phase one?",
        "factoid",
        ["42 days [1]."],
        ["doc-a"],
    )
    assert "note" not in up and "history" not in up
    assert down["kind"] == "followup" and down["answers"] == [] and down["gold_docs"] == []
    assert "Thirty" in down["note"] and "doc-b" in down["note"]
    assert down["history"] == [
        {"role": "user", "content": "How long was phase one?"},
        {"role": "assistant", "content": "42 days."},
    ]
    assert (none["kind"], none["answers"], none["gold_docs"]) == ("unanswerable", [], [])


def test_rag_feedback_export_without_feedback_says_so(state_dir: Path) -> None:
    result = CliRunner().invoke(app, ["feedback", "export"])
    assert result.exit_code == 0
    assert "no feedback yet" in result.output


def test_good_answers_export_as_a_dataset_rag_eval_accepts(state_dir: Path) -> None:
    store = FeedbackStore(state_dir / "feedback.sqlite3")
    history = [Message("user", "How long was phase one?"), Message("assistant", "42 days [1].")]
    rated = [
        (answer("How long was phase one?", "42 days [1].", "doc-a"), (), "up"),
        (answer("And the prisoners?", "Over 1,000 [1].", "doc-a"), history, "up"),
        (answer("Who won in 1998?", "The articles don't say.", abstained=True), (), "up"),
        (answer("Who is the envoy?", "Nobody [1].", "doc-b"), (), "down"),
    ]
    for item, turns, rating in rated:
        store.vote(store.record_answer(item, history=turns), user="U1", rating=rating)
    store.close()

    result = CliRunner().invoke(app, ["feedback", "export", "--rating", "up"])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("{")]
    items = parse_dataset(lines)
    assert [i.kind for i in items] == ["factoid", "followup", "unanswerable"]
    assert items[1].history == tuple(history)

    refused = CliRunner().invoke(app, ["feedback", "export", "--rating", "meh"])
    assert refused.exit_code != 0 and "--rating" in refused.output
