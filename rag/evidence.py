"""Choosing evidence: the retrieved sentences closest to the question, and the passages shown.

The evidence is everything the later steps decide from: the sentences ranked by how well they
match the question (``SentenceScorer``, then an optional cross-encoder, ``rag.rerank``), the few
of them the model reads, numbered, and the best sentence's score, which decides whether a
passage-only answer is worth giving.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from rag.context import Passage, ScoredSentence, SentenceScorer, TextOf, select_passages
from rag.question import Question
from rag.rerank import Reranker, reranked
from rag.retrieval import Retrieval
from rag.text import numbers

__all__ = ["ChooseEvidence", "Evidence", "passage_of"]


@dataclass(frozen=True)
class Evidence:
    """What answering rests on; ``passages`` are numbered as the model sees them."""

    question: Question
    sentences: tuple[ScoredSentence, ...]  # every sentence of the hits, best first
    passages: tuple[Passage, ...]

    @property
    def best(self) -> ScoredSentence | None:
        return self.sentences[0] if self.sentences else None

    @property
    def strength(self) -> float:
        """How well the best sentence matches the question (its score; 0 without one)."""
        return self.sentences[0].score if self.sentences else 0.0

    @property
    def misses_question_numbers(self) -> bool:
        """Whether the question states a number (a year, a count) that the passage showing the
        best sentence lacks: that passage is about something else ("What did the Normans do in
        1200?" over a paragraph about 1066), whatever its words share with the question."""
        if not self.question.numbers or self.best is None:
            return False
        passage = passage_of(self.best, self.passages)
        return self._lacks_question_numbers(passage.text if passage else self.best.text)

    def cited_miss_question_numbers(self, cited: Collection[int]) -> bool:
        """Whether the passages numbered ``cited`` lack, together, a number the question
        states: an answer citing them is about something else ("12" for "How many died in the
        2019 storm?" from a passage about a storm in 2017)."""
        return self._lacks_question_numbers(" ".join(p.text for p in self.passages if p.n in cited))

    def _lacks_question_numbers(self, text: str) -> bool:
        return bool(self.question.numbers) and not self.question.numbers <= numbers(text)


class ChooseEvidence:
    """Scores the sentences of the retrieved passages and picks the prompt's passages."""

    def __init__(
        self,
        scorer: SentenceScorer,
        text_of: TextOf,
        *,
        budget_tokens: int,
        exact_vectors: bool = False,
        reranker: Reranker | None = None,
        rerank_top: int = 12,
    ) -> None:
        self._scorer = scorer
        self._text_of = text_of
        self._budget = budget_tokens
        # With its own (exact float32) embedder the scorer embeds the question again rather
        # than reuse the search's int8 vector: which sentences reach the prompt is where a
        # small model's answer turns, and the few that change are worth ~10 ms an answer.
        self._exact = exact_vectors
        self._reranker = reranker
        self._rerank_top = rerank_top

    def choose(self, question: Question, retrieval: Retrieval) -> Evidence:
        vector = None if self._exact else retrieval.query_vector
        sentences = self._scorer.score(question.asked, vector, retrieval.hits)
        if self._reranker is not None:
            sentences = reranked(question.asked, sentences, self._reranker, self._rerank_top)
        passages = select_passages(sentences, self._budget, text_of=self._text_of)
        return Evidence(question, tuple(sentences), tuple(passages))


def passage_of(sentence: ScoredSentence, passages: Sequence[Passage]) -> Passage | None:
    """The passage that holds ``sentence``, if it was shown."""
    for passage in passages:
        if passage.doc_id == sentence.doc_id and passage.start <= sentence.start < passage.end:
            return passage
    return None
