"""An optional LLM judge: scores each answer's correctness and faithfulness to its citations.

Off unless ``RAG_JUDGE_MODEL`` names a litellm model; the rule-based metrics never depend on it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

from eval.scoring import ItemResult
from rag.errors import LLMError
from rag.generation import Generator
from rag.settings import Settings
from rag.types import Message

__all__ = ["Judge", "judge_results", "load_judge"]

_INSTRUCTIONS = (
    "You grade answers to questions about news articles. Reply with exactly two lines:\n"
    "correctness: 1 if the answer agrees with the reference answer (or, when the reference says "
    "to abstain, if the answer declines), else 0\n"
    "faithfulness: 1 if every claim in the answer is supported by the cited passages, else 0"
)
_SCORE = re.compile(r"(correctness|faithfulness)\s*[:=]\s*([01](?:\.\d+)?)", re.I)


class Judge:
    """Asks a chat model to grade one answer; the model's reply is parsed, never trusted blindly."""

    def __init__(self, generator: Generator) -> None:
        self._generator = generator

    @property
    def model(self) -> str:
        return self._generator.model

    def grade(self, result: ItemResult) -> dict[str, float | str | None]:
        try:
            reply = "".join(self._generator.complete(_messages(result), max_tokens=20))
        except LLMError as exc:
            return {"correctness": None, "faithfulness": None, "error": str(exc)}
        scores: dict[str, float | str | None] = {"correctness": None, "faithfulness": None}
        for name, value in _SCORE.findall(reply):
            scores[name.lower()] = float(value)
        if scores["correctness"] is None and scores["faithfulness"] is None:
            scores["error"] = f"unreadable reply: {reply[:120]!r}"
        return scores


def load_judge(settings: Settings) -> Judge | None:
    """The judge for ``settings.judge_model``; None when no judge is configured."""
    if not settings.judge_model:
        return None
    from rag.llm import load_generator

    generator = load_generator(settings.model_copy(update={"llm_model": settings.judge_model}))
    return Judge(generator) if generator is not None else None


def judge_results(results: Sequence[ItemResult], judge: Judge) -> list[ItemResult]:
    """The results with the judge's scores attached."""
    return [replace(result, judge=judge.grade(result)) for result in results]


def _messages(result: ItemResult) -> list[Message]:
    item, obs = result.item, result.observation
    reference = " / ".join(item.answers) or "(the articles don't answer this: abstain)"
    passages = "\n".join(f"[{c.n}] {c.text}" for c in obs.citations) or "(none)"
    answer = obs.answer or "(empty)"
    if obs.abstained:
        answer += " (the system abstained)"
    user = (
        f"Question: {item.question}\nReference answer: {reference}\n"
        f"Cited passages:\n{passages}\nAnswer to grade: {answer}"
    )
    return [Message("system", _INSTRUCTIONS), Message("user", user)]
