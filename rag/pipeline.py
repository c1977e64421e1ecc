"""The answering pipeline: a short sequence of named steps.

    question ─ rewrite (follow-ups) ─ retrieve ─ choose evidence ─ answer ─ render

``answer`` is a strategy object (``rag.answering``): the model's answer checked against the
passages, with the passages deciding when it falls short, or the passages alone. Before it, a
question whose best sentence matches it below ``min_relevance`` is abstained on without calling
the model, and so is one whose best passage lacks a number the question states
(``question_numbers``). ``Pipeline.ask`` and ``Pipeline.stream`` share one code path: ``ask``
drains the stream. An LLM failure or timeout never escapes: the best sentence answers
(``degraded``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from collections.abc import Generator as Steps
from dataclasses import replace

from index.validation import has_visible, without_controls
from rag.answering import Answerer, Fallback, Outcome, PassageAnswers
from rag.citations import render
from rag.errors import InputError
from rag.evidence import ChooseEvidence, Evidence
from rag.prompt import ABSTAIN_TEXT
from rag.question import Question
from rag.retrieval import HybridRetriever, Store
from rag.rewrite import QuestionRewriter
from rag.settings import Settings
from rag.types import Answer, Hit, Message

__all__ = ["AnswerStream", "Pipeline"]


class AnswerStream:
    """Text deltas as they come; ``.answer`` once exhausted (citations are resolved at the end)."""

    def __init__(self, steps: Steps[str, None, Answer]) -> None:
        self._steps = steps
        self._answer: Answer | None = None
        self._finishers: list[Callable[[Answer], Answer]] = []

    def __iter__(self) -> Iterator[str]:
        if self._answer is not None:
            return
        answer = yield from self._steps
        for finish in self._finishers:
            answer = finish(answer)
        self._answer = answer

    @property
    def answer(self) -> Answer:
        """The final answer; reading it drains whatever was not consumed yet."""
        if self._answer is None:
            for _ in self:
                pass
        assert self._answer is not None
        return self._answer

    def on_finish(self, fn: Callable[[Answer], Answer]) -> None:
        """Register a transform of the final answer (applied at once if already finished)."""
        if self._answer is not None:
            self._answer = fn(self._answer)
        else:
            self._finishers.append(fn)


class Pipeline:
    """Calls its steps in order; every step comes in through the constructor."""

    def __init__(
        self,
        retriever: HybridRetriever,
        evidence: ChooseEvidence,
        answerer: Answerer,
        settings: Settings,
        rewriter: QuestionRewriter | None = None,
    ) -> None:
        self._retriever = retriever
        self._evidence = evidence
        self._answerer = answerer
        self._settings = settings
        self._rewriter = rewriter or QuestionRewriter(None)

    @property
    def model(self) -> str:
        return self._answerer.model

    @property
    def retriever(self) -> HybridRetriever:
        return self._retriever

    def extractive(self) -> Pipeline:
        """The same pipeline answering from the passages alone, as a failed model does: the
        best sentence of any question that passes the relevance gate (the deadline fallback)."""
        # Without a model's claims, quoting the best sentence after them never arises.
        fallback = Fallback(passage_min_score=self._settings.min_relevance)
        return Pipeline(
            self._retriever, self._evidence, PassageAnswers(fallback), self._settings,
            self._rewriter,
        )  # fmt: skip

    def use_store(self, store: Store) -> None:
        """Swap in a new index snapshot (after documents were added or removed)."""
        self._retriever.use_store(store)

    def search(
        self, query: str, *, top_k: int | None = None, doc_ids: Sequence[str] | None = None
    ) -> list[Hit]:
        query = self._validate(query)
        return self._retriever.search(query, top_k or self._settings.top_k, doc_ids)

    def ask(
        self,
        question: str,
        *,
        top_k: int | None = None,
        history: Sequence[Message] = (),
        doc_ids: Sequence[str] | None = None,
    ) -> Answer:
        return self.stream(question, top_k=top_k, history=history, doc_ids=doc_ids).answer

    def stream(
        self,
        question: str,
        *,
        top_k: int | None = None,
        history: Sequence[Message] = (),
        doc_ids: Sequence[str] | None = None,
    ) -> AnswerStream:
        question = self._validate(question)  # raise now, not on first iteration
        return AnswerStream(self._run(question, top_k or self._settings.top_k, history, doc_ids))

    def _validate(self, question: str) -> str:
        question = without_controls(question)  # a NUL is not part of any question
        if not has_visible(question):
            raise InputError("the question is empty")
        if len(question) > self._settings.max_question_chars:
            raise InputError(
                f"the question is too long ({len(question)} characters; "
                f"at most {self._settings.max_question_chars})"
            )
        return question.strip()

    def _run(
        self,
        text: str,
        k: int,
        history: Sequence[Message],
        doc_ids: Sequence[str] | None,
    ) -> Steps[str, None, Answer]:
        started = time.perf_counter()
        timings: dict[str, float] = {}
        standalone = self._rewriter.rewrite(text, history) if history else text
        if history:
            timings["rewrite"] = _ms(started)
        question = Question.parse(standalone)

        retrieval = self._retriever.retrieve(question.asked, k, doc_ids)
        timings.update(retrieval.timings_ms)
        mark = time.perf_counter()
        evidence = self._evidence.choose(question, retrieval)
        timings["select"] = _ms(mark)

        mark = time.perf_counter()
        if evidence.strength < self._settings.min_relevance or (
            self._settings.question_numbers and evidence.misses_question_numbers
        ):
            outcome = Outcome()  # nothing retrieved is about the question: no need to ask
        else:
            outcome = yield from self._answerer.answer(evidence)
            timings["generate"] = _ms(mark)
        answer = self._answer(text, standalone if history else None, evidence, outcome)
        if rest := _unstreamed(outcome, answer.text):
            yield rest
        timings["total"] = _ms(started)
        return replace(answer, timings_ms=timings)

    def _answer(
        self, text: str, standalone: str | None, evidence: Evidence, outcome: Outcome
    ) -> Answer:
        rendered, citations = (
            (ABSTAIN_TEXT, ()) if outcome.abstained else render(outcome.claims, evidence.passages)
        )
        return Answer(
            question=text,
            text=rendered,
            abstained=outcome.abstained,
            citations=citations,
            model=self.model,
            degraded=outcome.degraded,
            standalone_question=standalone,
        )


def _unstreamed(outcome: Outcome, final: str) -> str:
    """What the stream still owes: the final text's continuation of the streamed draft (a
    sentence the checks added), or all of it when nothing was streamed or the model failed.
    A draft the checks changed otherwise stays as streamed; the final answer corrects it."""
    draft = outcome.streamed.strip()
    if not draft:
        return final
    if outcome.degraded:
        return "\n\n" + final
    return final[len(draft) :] if final.startswith(draft) else ""


def _ms(since: float) -> float:
    return (time.perf_counter() - since) * 1000
