"""The answering pipeline: rewrite, retrieve, choose sentences, generate, verify citations.

``Pipeline.ask`` and ``Pipeline.stream`` share one code path: ``ask`` drains the stream.
An LLM failure or timeout never escapes: the answer falls back to extraction (degraded).

Abstaining: before the model, when no retrieved sentence matches the question well enough
(``min_relevance``) or a "how many X" question's X appears in none of them; after it, when the
model says the articles don't say, or when every claim it made is unsupported by the passages
(it answered from elsewhere). Unsupported claims beside supported ones are simply removed.
When sources differ on the count asked, the answer carries each figure with its own source.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator, Sequence
from collections.abc import Generator as Steps
from dataclasses import dataclass, replace

from index.embedder import Embedder
from rag.answer_kind import (
    Kind,
    asked_part,
    carries_question_numbers,
    covers,
    expected_kind,
    for_the_model,
    question_parts,
    searched_part,
    states_value,
    sub_questions,
    supporting_sentence,
    topic_words,
)
from rag.citations import Claim, render, verify
from rag.context import Passage, ScoredSentence, SentenceScorer, passage_from, select_passages
from rag.errors import InputError, LLMError
from rag.extractive import (
    asks_for_figure,
    claim_of,
    conflicting_sentences,
    extract,
    focus_words,
    lacks_focus,
    off_target,
    passage_of,
)
from rag.generation import Generator
from rag.prompt import ABSTAIN_TEXT, answer_messages, strip_echoes
from rag.retrieval import HybridRetriever, Retrieval, Store
from rag.rewrite import QuestionRewriter
from rag.settings import EXTRACTIVE_MODEL, Settings
from rag.text import content_words, numbers, words
from rag.types import Answer, Hit, Message

__all__ = ["AnswerStream", "Pipeline"]

log = logging.getLogger(__name__)

_MARKER = re.compile(r"\[(\d+)\]")


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
    """Calls its parts in order; every part comes in through the constructor."""

    def __init__(
        self,
        retriever: HybridRetriever,
        generator: Generator | None,
        settings: Settings,
        sentence_embedder: Embedder | None = None,
    ) -> None:
        self._retriever = retriever
        self._generator = generator
        self._settings = settings
        # Sentences (and then the question) are compared with the exact float32 vectors when
        # the retriever searches with int8 ones: which sentences reach the prompt is where a
        # small model's answer turns, and the few that change are worth ~10 ms per answer.
        self._scorer = SentenceScorer(sentence_embedder or retriever.embedder)
        self._own_question_vector = sentence_embedder is not None
        self._rewriter = QuestionRewriter(generator, use_llm=settings.rewrite_with_llm)

    @property
    def model(self) -> str:
        return self._generator.model if self._generator is not None else EXTRACTIVE_MODEL

    @property
    def retriever(self) -> HybridRetriever:
        return self._retriever

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
        if not question or not question.strip():
            raise InputError("the question is empty")
        if len(question) > self._settings.max_question_chars:
            raise InputError(
                f"the question is too long ({len(question)} characters; "
                f"at most {self._settings.max_question_chars})"
            )
        return question.strip()

    # ---- the steps ---------------------------------------------------------------------------

    def _run(
        self,
        question: str,
        k: int,
        history: Sequence[Message],
        doc_ids: Sequence[str] | None,
    ) -> Steps[str, None, Answer]:
        started = time.perf_counter()
        timings: dict[str, float] = {}
        standalone = question
        if history:
            standalone = self._rewriter.rewrite(question, history)
            timings["rewrite"] = _ms(started)

        query = searched_part(standalone)  # not what trails the question mark
        retrieval = self._retriever.retrieve(query, k, doc_ids)
        timings.update(retrieval.timings_ms)
        mark = time.perf_counter()
        scored = self._scored(query, retrieval)
        if lacks_focus(query, scored):
            # The counted thing is in none of the top passages ("how many months ..." where
            # only a later chunk says "15-month war"): look twice as deep before giving up.
            retrieval = self._retriever.retrieve(query, 2 * k, doc_ids)
            scored = self._scored(query, retrieval)
        relevant = self._relevant(retrieval, scored)
        pool = self._pool(query, scored, k, doc_ids) if relevant else scored
        passages = self._passages(query, scored, pool)
        timings["select"] = _ms(mark)

        def finish(
            claims: Sequence[Claim] = (), *, abstained: bool = False, degraded: bool = False
        ) -> Answer:
            # No claim left means nothing to say from the passages: that is an abstention.
            abstained = abstained or not claims
            rendered, citations = (ABSTAIN_TEXT, ()) if abstained else render(claims, passages)
            timings["total"] = _ms(started)
            return Answer(
                question=question,
                text=rendered,
                abstained=abstained,
                citations=citations,
                model=self.model,
                degraded=degraded,
                timings_ms=dict(timings),
                standalone_question=standalone if history else None,
            )

        if not relevant:
            yield ABSTAIN_TEXT
            return finish(abstained=True)

        if self._generator is None:
            # A who/when/where/how-long question is answered by a sentence stating such a value
            # or not at all; any other question by the best sentences.
            untyped = expected_kind(asked_part(standalone)) is Kind.OTHER
            claims = self._without_the_model(standalone, scored, passages, best_if_none=untyped)
            claims += _missing_figures(standalone, pool, passages, claims)
            claims += _other_parts(standalone, scored, passages, claims)
            answer = finish(claims)
            yield answer.text
            return answer

        parts = sub_questions(standalone)
        if parts:
            claims, passages, degraded = yield from self._answer_parts(parts, k, doc_ids, timings)
            answer = finish(claims, degraded=degraded)
            if answer.abstained:
                yield answer.text
            return answer

        outcome = yield from self._generated(
            standalone, scored, passages, timings, _StreamRenumber(len(passages)), pool=pool
        )
        if outcome.degraded:
            answer = finish(outcome.claims, degraded=True)
            yield ("\n\n" if outcome.streamed else "") + answer.text
            return answer
        if outcome.abstained:
            return finish(abstained=True)
        claims = outcome.claims + _other_parts(standalone, scored, passages, outcome.claims)
        return finish(claims)

    def _generated(
        self,
        question: str,
        scored: Sequence[ScoredSentence],
        passages: list[Passage],
        timings: dict[str, float],
        stream: _StreamRenumber | None = None,
        *,
        pool: Sequence[ScoredSentence] = (),
        best_if_unanswered: bool = False,
    ) -> Steps[str, None, _Outcome]:
        """The model's answer from ``passages``, checked; streamed through ``stream`` if given.

        A failing model never raises here: the best sentences answer instead, marked degraded.
        When its answer answers nothing, the passages decide: a sentence stating the value asked
        for, or else the best sentences if the model said nothing or ``best_if_unanswered``.
        """
        assert self._generator is not None
        mark = time.perf_counter()
        raw: list[str] = []
        try:
            messages = answer_messages(for_the_model(searched_part(question)), passages)
            for delta in self._generator.complete(
                messages, max_tokens=self._settings.answer_max_tokens
            ):
                raw.append(delta)
                if stream is not None and (out := stream.feed(delta)):
                    yield out
            if stream is not None and (out := stream.flush()):
                yield out
        except (LLMError, OSError, RuntimeError, ValueError) as exc:
            log.warning("LLM failed (%s: %s); answering extractively", type(exc).__name__, exc)
            _add_ms(timings, "generate", mark)
            claims = extract(question, scored, passages)
            claims += _missing_figures(question, pool or scored, passages, claims)
            return _Outcome(claims, degraded=True, streamed=stream is not None and bool(raw))
        _add_ms(timings, "generate", mark)

        mark = time.perf_counter()
        checked = verify(strip_echoes("".join(raw), passages), passages, question)
        _add_ms(timings, "verify", mark)
        if checked.abstained:  # the model said the passages don't hold it
            plain = _stated_plainly(question, scored, passages)
            return _Outcome(plain) if plain else _Outcome([], abstained=True)
        claims = list(checked.claims)
        # Nothing it said is in the passages (a restatement the checks drop, or an answer from
        # elsewhere), or nothing it said answers the question: the passages decide.
        if not _answers(question, claims, passages) or off_target(question, claims, passages):
            best = best_if_unanswered or not "".join(raw).strip()
            claims = self._without_the_model(question, scored, passages, best_if_none=best)
            if not claims:
                # It had the passages and found nothing on this question in them.
                return _Outcome([], abstained=True)
        claims += _missing_figures(question, pool or scored, passages, claims)
        return _Outcome(claims)

    def _answer_parts(
        self,
        parts: Sequence[str],
        k: int,
        doc_ids: Sequence[str] | None,
        timings: dict[str, float],
    ) -> Steps[str, None, tuple[list[Claim], list[Passage], bool]]:
        """A question in several parts, each asked on its own with the passages chosen for it.

        A small model given "how long was phase one, and how long was the proposal?" tends to
        give the first figure twice; asked one at a time it gets each. Passages are numbered
        across the parts (one shown to two parts is one citation), and each part's answer is
        streamed as it is checked, so the stream is the final text.
        """
        passages: list[Passage] = []
        claims: list[Claim] = []
        degraded = False
        shown = ""
        for part in parts:
            retrieval = self._retriever.retrieve(part, k, doc_ids)
            scored = self._scored(part, retrieval)
            if not self._relevant(retrieval, scored):
                continue
            pool = self._pool(part, scored, k, doc_ids)
            own = self._passages(part, scored, pool)
            # The whole question was found relevant: a part the model only restates is
            # answered by its best sentences rather than left out.
            outcome = yield from self._generated(
                part, scored, own, timings, pool=pool, best_if_unanswered=True
            )
            if not outcome.claims:
                continue
            degraded |= outcome.degraded
            numbers = {p.n: _numbered_in(passages, p) for p in own}
            claims += [replace(c, cited=tuple(numbers[n] for n in c.cited)) for c in outcome.claims]
            text, _ = render(claims, passages)
            yield text[len(shown) :]
            shown = text
        return claims, passages, degraded

    def _without_the_model(
        self,
        question: str,
        scored: Sequence[ScoredSentence],
        passages: Sequence[Passage],
        *,
        best_if_none: bool,
    ) -> list[Claim]:
        """The answer from the passages alone, for extractive mode and when the model says
        nothing of the kind asked (it restated the question, or copied something beside the
        point): a count question gets the sentence stating that count; a who/when/where/how-long
        question the sentence about its topic that states such a value; failing that, the best
        sentences when ``best_if_none``, else nothing (an abstention)."""
        if focus_words(question):
            claims = extract(question, scored, passages)
            return [c for c in claims if carries_question_numbers(question, c.text)]
        supported = _supported(question, scored, passages)
        if supported:
            return supported
        return extract(question, scored, passages) if best_if_none else []

    def _scored(self, question: str, retrieval: Retrieval) -> list[ScoredSentence]:
        """The sentences of the hits, scored against the question's vector: the search's, or
        the exact one when the search used the int8 copy."""
        vector = None if self._own_question_vector else retrieval.query_vector
        return self._scorer.score(question, vector, retrieval.hits)

    def _pool(
        self,
        question: str,
        scored: list[ScoredSentence],
        k: int,
        doc_ids: Sequence[str] | None,
    ) -> list[ScoredSentence]:
        """Where to look for sources disagreeing on the count or duration asked: four times
        as deep as the answer's passages, since a later report's figure ("about 50 hostages
        are still held") often ranks below the earlier reports that agree with each other."""
        if not asks_for_figure(question):
            return scored
        return self._scored(question, self._retriever.retrieve(question, 4 * k, doc_ids))

    def _passages(
        self, question: str, scored: Sequence[ScoredSentence], pool: Sequence[ScoredSentence]
    ) -> list[Passage]:
        """The prompt's passages; when sources in ``pool`` differ on the figure asked, each
        one's figure is in."""
        budget = self._settings.context_tokens
        conflicts = conflicting_sentences(question, pool)
        return select_passages(scored, budget, text_of=self._text_of, required=conflicts)

    def _text_of(self, doc_id: str, start: int, end: int) -> str | None:
        document = self._retriever.store.document(doc_id)
        return document.text[start:end] if document is not None else None

    def _relevant(self, retrieval: Retrieval, scored: Sequence[ScoredSentence]) -> bool:
        """Whether anything retrieved is about the question (tuned on seed and off-topic ones)."""
        if not retrieval.hits or not scored or lacks_focus(retrieval.query, scored):
            return False
        best = max(s.similarity + 0.25 * s.overlap for s in scored)
        return best >= self._settings.min_relevance


@dataclass
class _Outcome:
    """What one model call came to: checked claims, an abstention, or the extractive fallback."""

    claims: list[Claim]
    abstained: bool = False
    degraded: bool = False
    streamed: bool = False  # some of the failed model's text was already streamed


def _numbered_in(passages: list[Passage], passage: Passage) -> int:
    """``passage``'s number in ``passages``, appending it (renumbered) if it isn't there yet."""
    for known in passages:
        if (known.doc_id, known.start, known.end) == (passage.doc_id, passage.start, passage.end):
            return known.n
    passages.append(replace(passage, n=len(passages) + 1))
    return len(passages)


def _stated_plainly(
    question: str, scored: Sequence[ScoredSentence], passages: Sequence[Passage]
) -> list[Claim]:
    """When the model says the articles don't say who, where, when or how long: the shown
    sentence that carries the question's topic and states such a value beside it, if any.

    A 0.5B model abstains when the passage words it differently ("spokesperson Tommy Pigott"
    for "which spokesman"). Counts and reasons are left to the model: a count of the thing
    asked, about another event, is too easily taken for the answer.
    """
    if expected_kind(asked_part(question)) in (Kind.COUNT, Kind.REASON, Kind.OTHER):
        return []
    return _supported(question, scored, passages)


def _supported(
    question: str, scored: Sequence[ScoredSentence], passages: Sequence[Passage]
) -> list[Claim]:
    """The shown sentence that covers the question's topic and states a value of the kind it
    asks for (``supporting_sentence``), as a claim; none if no shown sentence does."""
    shown = [s for s in scored if passage_of(s, passages) is not None]
    sentence = supporting_sentence(question, shown)
    return [claim_of(sentence, passages)] if sentence is not None else []


def _answers(question: str, claims: Sequence[Claim], passages: Sequence[Passage]) -> bool:
    """Whether any claim gives a value of the kind asked, about the numbers asked about."""
    by_n = {p.n: p.text for p in passages}
    titles = [" ".join(words(p.title)) for p in passages]
    return any(
        states_value(question, claim.text)
        and not _echoes_a_title(claim.text, titles)
        and carries_question_numbers(
            question, " ".join([claim.text, *(by_n.get(n, "") for n in claim.cited)])
        )
        for claim in claims
    )


def _echoes_a_title(text: str, titles: Sequence[str]) -> bool:
    # A small model sometimes copies a passage's headline label ("Israel-Hamas Ceasefire Talks
    # Stalled as Trump") instead of answering; a headline is not an answer.
    said = " ".join(words(text))
    return bool(said) and any(said in title for title in titles)


def _other_parts(
    question: str,
    scored: Sequence[ScoredSentence],
    passages: list[Passage],
    claims: Sequence[Claim],
) -> list[Claim]:
    """For a question in several parts, the sentence answering each part the answer left out.

    The prompt's few passages favour the first part, so a later part's sentence may come from
    outside them; it is then added as a passage of its own, so its citation is exact.
    """
    parts = question_parts(question)
    if len(parts) < 2:
        return []
    extra: list[Claim] = []
    for part in parts:
        if any(states_value(part, c.text) and _on_topic(part, c.text) for c in [*claims, *extra]):
            continue
        sentence = supporting_sentence(part, scored)
        if sentence is None or any(sentence.text == c.text for c in [*claims, *extra]):
            continue
        if passage_of(sentence, passages) is None:
            passages.append(passage_from(len(passages) + 1, [sentence]))
        extra.append(claim_of(sentence, passages))
    return extra


def _on_topic(part: str, text: str) -> bool:
    return covers(topic_words(part), content_words(text), 0.5)


def _missing_figures(
    question: str,
    scored: Sequence[ScoredSentence],
    passages: Sequence[Passage],
    claims: Sequence[Claim],
) -> list[Claim]:
    """Sentences giving a figure the answer left out, when sources differ on the one asked."""
    stated: set[str] = set()
    for claim in claims:
        stated |= numbers(claim.text)
    extra: list[Claim] = []
    for sentence in conflicting_sentences(question, scored):
        passage = passage_of(sentence, passages)
        if passage is None or numbers(sentence.text) & stated:
            continue
        extra.append(Claim(sentence.text, (passage.n,), max(0.0, sentence.similarity)))
    return extra


class _StreamRenumber:
    """Renumbers ``[n]`` markers by first use while streaming, dropping ones past the passages."""

    def __init__(self, passages: int) -> None:
        self._passages = passages
        self._numbering: dict[int, int] = {}
        self._pending = ""

    def feed(self, delta: str) -> str:
        text = self._pending + delta
        cut = text.rfind("[")
        if cut != -1 and "]" not in text[cut:] and len(text) - cut < 8:
            self._pending, text = text[cut:], text[:cut]
        else:
            self._pending = ""
        return _MARKER.sub(self._replace, text)

    def flush(self) -> str:
        text, self._pending = self._pending, ""
        return _MARKER.sub(self._replace, text)

    def _replace(self, match: re.Match[str]) -> str:
        n = int(match.group(1))
        if not 1 <= n <= self._passages:
            return ""
        return f"[{self._numbering.setdefault(n, len(self._numbering) + 1)}]"


def _ms(since: float) -> float:
    return (time.perf_counter() - since) * 1000


def _add_ms(timings: dict[str, float], step: str, since: float) -> None:
    timings[step] = timings.get(step, 0.0) + _ms(since)
