"""Streaming answers and follow-up questions rewritten before retrieval."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from rag.rewrite import QuestionRewriter, is_follow_up, merge_terms
from rag.types import Answer, Message
from tests.fakes import FailingLLM, ScriptedLLM
from tests.rag.conftest import MakePipeline
from tests.rag.test_pipeline import citing

PHASE = "How long did the first phase of the truce last?"


def test_stream_yields_text_as_it_comes_then_the_answer(make_pipeline: MakePipeline) -> None:
    llm = ScriptedLLM(citing("The truce ended early [{n}].", "42 days"))
    stream = make_pipeline(llm).stream(PHASE)
    deltas = list(stream)
    assert len(deltas) > 3  # word by word, not one block
    assert "".join(deltas).startswith("The truce ended early [1].")
    # The best sentence the checks add to the model's claim is streamed after it.
    assert "".join(deltas) == stream.answer.text
    assert stream.answer.text.endswith("lasted 42 days and ended in early March [1].")
    assert stream.answer.citations[0].doc_id == "truce-march"


def test_streamed_markers_are_renumbered_like_the_final_answer(
    make_pipeline: MakePipeline,
) -> None:
    def reply(messages: Sequence[Message]) -> str:
        witkoff = citing("{n}", "Steve Witkoff")(messages)
        return f"Steve Witkoff left the talks [{witkoff}]. Nothing else [7]."

    stream = make_pipeline(ScriptedLLM(reply)).stream("Who is the envoy Steve Witkoff?")
    streamed = "".join(stream)
    assert "Steve Witkoff left the talks [1]." in streamed and "[7]" not in streamed
    assert stream.answer.text.startswith("Steve Witkoff left the talks [1].")


def test_on_finish_transforms_the_final_answer(make_pipeline: MakePipeline) -> None:
    stream = make_pipeline(None).stream(PHASE)

    def tag(answer: Answer) -> Answer:
        return replace(answer, conversation_id="c-1")

    stream.on_finish(tag)
    assert "42 days" in "".join(stream)
    assert stream.answer.conversation_id == "c-1"


def test_reading_the_answer_drains_the_stream(make_pipeline: MakePipeline) -> None:
    stream = make_pipeline(ScriptedLLM("The first phase lasted 42 days.")).stream(PHASE)
    assert "42 days" in stream.answer.text
    assert list(stream) == []


def test_a_model_failing_mid_stream_still_finishes_with_an_answer(
    make_pipeline: MakePipeline,
) -> None:
    stream = make_pipeline(FailingLLM()).stream(PHASE)
    text = "".join(stream)
    assert "42 days" in text
    assert stream.answer.degraded


def test_follow_ups_are_recognised() -> None:
    assert is_follow_up("and how many prisoners?")
    assert is_follow_up("What about Egypt?")
    assert is_follow_up("When did he leave?")
    assert not is_follow_up("How many hostages were released in the first phase of the truce?")


def test_the_deterministic_rewrite_carries_the_earlier_subject() -> None:
    rewritten = merge_terms(
        "and how many prisoners?", "How many hostages were released in the first phase?"
    )
    assert rewritten.startswith("How many prisoners")
    for term in ("released", "first", "phase"):
        assert term in rewritten
    assert "hostages" not in rewritten  # the follow-up counts something else


def test_a_standalone_question_is_left_alone() -> None:
    history = [Message("user", "Who is the envoy?"), Message("assistant", "Steve Witkoff [1].")]
    question = "How long did the first phase of the truce last?"
    assert QuestionRewriter().rewrite(question, history) == question


def test_the_llm_rewrite_is_used_when_enabled_and_sane() -> None:
    history = [Message("user", "How many hostages are still held?")]
    llm = ScriptedLLM("How many hostages are still held in the territory now?")
    rewriter = QuestionRewriter(llm, use_llm=True)
    assert rewriter.rewrite("and now?", history) == (
        "How many hostages are still held in the territory now?"
    )
    babbling = QuestionRewriter(ScriptedLLM("Sure, here you go"), use_llm=True)
    assert babbling.rewrite("and now?", history).startswith("Now")


def test_a_follow_up_is_answered_from_its_history(make_pipeline: MakePipeline) -> None:
    llm = ScriptedLLM(citing("About 50 hostages are still held [{n}].", "About 50"))
    history = [
        Message("user", "Who is the envoy Steve Witkoff?"),
        Message("assistant", "Steve Witkoff is the envoy [1]."),
    ]
    # The stand-in embedder scores the merged question lower than a real one would.
    pipeline = make_pipeline(llm, min_relevance=0.5)
    answer = pipeline.ask("and how many hostages are still held?", history=history)
    assert answer.standalone_question is not None
    assert answer.standalone_question.startswith("How many hostages are still held")
    assert "50" in answer.text
