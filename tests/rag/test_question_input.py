"""What the engine does with control characters in a question, whoever calls it (CLI, Slack,
HTTP): they are not part of the question, and a question of nothing else is empty."""

from __future__ import annotations

import pytest

from rag.errors import InputError
from tests.fakes import ScriptedLLM, cite_first_passage
from tests.rag.conftest import MakePipeline


@pytest.mark.parametrize("question", ["\x00", "\x00\x01 \x7f", "\u200b\t\n", "\udcff"])
def test_a_question_of_nothing_visible_is_empty(make_pipeline: MakePipeline, question: str) -> None:
    pipeline = make_pipeline(ScriptedLLM(cite_first_passage))

    for call in (pipeline.ask, pipeline.search):
        with pytest.raises(InputError, match="empty"):
            call(question)


def test_control_characters_are_not_searched_or_shown_to_the_model(
    make_pipeline: MakePipeline,
) -> None:
    llm = ScriptedLLM(cite_first_passage)
    pipeline = make_pipeline(llm)

    plain = pipeline.search("truce phase days")
    dirty = pipeline.search("truce\x00phase\x1bdays")
    pipeline.ask("How long did the\x00 first phase last?")

    assert [h.chunk.chunk_id for h in dirty] == [h.chunk.chunk_id for h in plain]
    assert all("\x00" not in message.content for message in llm.calls[-1])
