"""The optional LLM judge: off by default, its scores parsed defensively, never fatal."""

from __future__ import annotations

from pathlib import Path

import pytest

from eval.dataset import EvalItem
from eval.judge import Judge, judge_results, load_judge
from eval.scoring import CitedPassage, ItemResult, Observation, score_item, summarize
from tests.eval.conftest import eval_settings
from tests.fakes import FailingLLM, ScriptedLLM

ITEM = EvalItem("phase", "How long was phase one?", "numeric", ("42 days",), ("a",))


def result() -> ItemResult:
    citation = CitedPassage(1, "a", "t", "The first phase lasted 42 days.")
    obs = Observation("It lasted 42 days [1].", False, (citation,), (("a",),), 10.0)
    return ItemResult(ITEM, obs, score_item(ITEM, obs))


def test_no_judge_unless_a_judge_model_is_set(tmp_path: Path) -> None:
    assert load_judge(eval_settings(tmp_path)) is None


def test_judge_scores_are_attached_and_summarized() -> None:
    llm = ScriptedLLM("correctness: 1\nfaithfulness: 0")
    [judged] = judge_results([result()], Judge(llm))
    assert judged.judge == {"correctness": 1.0, "faithfulness": 0.0}
    prompt = llm.calls[0][-1].content
    assert "42 days" in prompt and "The first phase lasted 42 days." in prompt
    summary = summarize([judged])
    assert summary.judge_correctness == 1.0 and summary.judge_faithfulness == 0.0


@pytest.mark.parametrize(
    ("llm", "error"),
    [(ScriptedLLM("I think it is fine."), "unreadable reply"), (FailingLLM(), "the model is down")],
    ids=["unreadable", "model-down"],
)
def test_a_failing_judge_leaves_a_note_not_a_crash(llm: ScriptedLLM, error: str) -> None:
    scores = Judge(llm).grade(result())
    assert scores["correctness"] is None
    assert error in str(scores["error"])
