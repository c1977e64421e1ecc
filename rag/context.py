"""Choosing what the model reads: the sentences of the top passages closest to the question.

A 0.5B model on 2 cores reads ~110 tokens/s, so the context is a small budget of the best
sentences rather than whole chunks. Each selected run of sentences becomes a numbered passage
whose offsets point into the stored document, so a citation is exactly what the model saw.
"""

from __future__ import annotations

import math
import re
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from index.embedder import Embedder
from rag.text import PROMPT_LOOKALIKES, content_words, numbers, split_sentences
from rag.types import Hit

__all__ = [
    "Passage",
    "ScoredSentence",
    "SentenceScorer",
    "asks_for_number",
    "passage_from",
    "select_passages",
]

_NUMERIC_QUESTION = re.compile(
    r"\b(how (many|much|long|old|far|big|large)|number of|what (percentage|share|figure|date|year)"
    r"|when|how soon)\b",
    re.I,
)


def asks_for_number(question: str) -> bool:
    return bool(_NUMERIC_QUESTION.search(question))


@dataclass(frozen=True)
class ScoredSentence:
    """One sentence of a retrieved passage and how well it matches the question."""

    doc_id: str
    title: str
    start: int  # offsets into the stored document text
    end: int
    text: str
    score: float
    similarity: float  # cosine to the question
    overlap: float  # share of the question's content words it carries, rarer words weigh more
    hit_rank: int
    published: str | None
    url: str | None
    also_in: tuple[str, ...]


@dataclass(frozen=True)
class Passage:
    """A numbered run of sentences shown to the model; ``n`` is its ``[n]`` in the prompt."""

    n: int
    doc_id: str
    title: str
    text: str
    start: int
    end: int
    score: float
    published: str | None = None
    url: str | None = None
    also_in: tuple[str, ...] = ()


class SentenceScorer:
    """Scores the sentences of hits against a question; caches sentence vectors across calls."""

    def __init__(
        self, embedder: Embedder, cache_size: int = 20_000, *, numeric_boost: bool = True
    ) -> None:
        self._embedder = embedder
        # A question word rule, kept because it earns its place on held-out data (README):
        # "how many ...", "when ..." favour sentences that state a number.
        self._numeric_boost = numeric_boost
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = cache_size

    def _vectors(self, texts: Sequence[str]) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if missing:
            for text, vector in zip(missing, self._embedder.embed(missing), strict=True):
                self._cache[text] = np.asarray(vector, dtype=np.float32)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        for text in texts:
            self._cache.move_to_end(text)
        return np.stack([self._cache[t] for t in texts])

    def score(
        self, question: str, query_vector: np.ndarray | None, hits: Sequence[Hit]
    ) -> list[ScoredSentence]:
        """Every distinct sentence of ``hits``, best first; without a ``query_vector`` the
        question is embedded here, by the sentences' embedder."""
        wanted = content_words(question)
        numeric = self._numeric_boost and asks_for_number(question)
        candidates: list[tuple[Hit, int, int, str]] = []
        seen_spans: set[tuple[str, int]] = set()
        seen_text: dict[str, int] = {}
        extra_docs: dict[int, set[str]] = {}
        for rank, hit in enumerate(hits):
            chunk = hit.chunk
            for span in split_sentences(chunk.text, chunk.start):
                key = (chunk.doc_id, span.start)
                if key in seen_spans or len(span.text) < 12 or PROMPT_LOOKALIKES.search(span.text):
                    continue
                seen_spans.add(key)
                norm = re.sub(r"\W+", " ", span.text.lower()).strip()
                if norm in seen_text:  # the same sentence in another outlet's copy
                    extra_docs.setdefault(seen_text[norm], set()).add(chunk.doc_id)
                    continue
                seen_text[norm] = len(candidates)
                candidates.append((hit, rank, span.start, span.text))
        if not candidates:
            return []
        vectors = self._vectors([text for *_, text in candidates])
        if query_vector is None:
            query_vector = self._vectors([question])[0]
        similarities = vectors @ np.asarray(query_vector, dtype=np.float32)
        word_sets = [content_words(text) for *_, text in candidates]
        weights = _rarity(wanted, word_sets)
        total = sum(weights.values())
        scored: list[ScoredSentence] = []
        for i, (hit, rank, start, text) in enumerate(candidates):
            words = word_sets[i]
            overlap = sum(weights[w] for w in words & wanted) / total if total else 0.0
            similarity = float(similarities[i])
            score = similarity + 0.3 * overlap + 0.1 * hit.score
            if numeric and numbers(text):
                score += 0.1
            carriers = dict.fromkeys(
                [*hit.doc_ids, *sorted(extra_docs.get(i, ()))]
            )  # ordered, unique
            carriers.pop(hit.chunk.doc_id, None)
            scored.append(
                ScoredSentence(
                    doc_id=hit.chunk.doc_id,
                    title=hit.chunk.title,
                    start=start,
                    end=start + len(text),
                    text=text,
                    score=score,
                    similarity=similarity,
                    overlap=overlap,
                    hit_rank=rank,
                    published=hit.published,
                    url=hit.url,
                    also_in=tuple(carriers),
                )
            )
        scored.sort(key=lambda s: (-s.score, s.hit_rank, s.start))
        return scored


def _rarity(wanted: set[str], word_sets: Sequence[set[str]]) -> dict[str, float]:
    """Each question word's weight: how rare it is among the retrieved sentences (an IDF over
    them, no corpus statistics). A word most candidates share ("Normans" over a paragraph
    about the Normans) tells them apart less than one only the answering sentence has."""
    n = len(word_sets)
    return {w: math.log((n + 1) / (sum(w in s for s in word_sets) + 0.5)) for w in wanted}


def estimate_tokens(text: str) -> int:
    return len(text) // 4 + 1


TextOf = Callable[[str, int, int], str | None]


def select_passages(
    scored: Sequence[ScoredSentence],
    budget_tokens: int,
    *,
    text_of: TextOf | None = None,
    max_sentences: int = 4,
    min_relative: float = 0.6,
) -> list[Passage]:
    """The best sentences within ``budget_tokens``, neighbours joined, numbered from 1.

    Sentences scoring far below the best are left out: they cost reading time and tempt a
    small model away from the answer. ``text_of(doc_id, start, end)`` reads the stored
    document, so a joined passage's text is exactly ``document.text[start:end]``.
    """
    if not scored:
        return []
    floor = scored[0].score * min_relative
    chosen: list[ScoredSentence] = []
    used = 0
    for sentence in scored:
        cost = estimate_tokens(sentence.text) + 6
        if chosen and (
            used + cost > budget_tokens or sentence.score < floor or len(chosen) >= max_sentences
        ):
            continue
        chosen.append(sentence)
        used += cost
    return _join_adjacent(chosen, text_of)


def _adjacent(a: ScoredSentence, b: ScoredSentence) -> bool:
    # Sentences are split on whitespace only, so neighbours are at most a few characters apart.
    return a.doc_id == b.doc_id and 0 <= b.start - a.end <= 3


def _join_adjacent(chosen: Sequence[ScoredSentence], text_of: TextOf | None) -> list[Passage]:
    """Runs of neighbouring sentences of one document become one passage (best run first)."""
    runs: list[list[ScoredSentence]] = []
    for sentence in chosen:
        for run in runs:
            if _adjacent(run[-1], sentence):
                run.append(sentence)
                break
            if _adjacent(sentence, run[0]):
                run.insert(0, sentence)
                break
        else:
            runs.append([sentence])
    return [passage_from(n, run, text_of) for n, run in enumerate(runs, start=1)]


def passage_from(n: int, run: Sequence[ScoredSentence], text_of: TextOf | None = None) -> Passage:
    """Passage ``n`` made of ``run``, neighbouring sentences of one document in order."""
    first, last = run[0], run[-1]
    text = text_of(first.doc_id, first.start, last.end) if text_of and len(run) > 1 else None
    if text is None:
        text = " ".join(s.text for s in run) if len(run) > 1 else first.text
    return Passage(
        n=n,
        doc_id=first.doc_id,
        title=first.title,
        text=text,
        start=first.start,
        end=last.end,
        score=max(s.score for s in run),
        published=first.published,
        url=first.url,
        also_in=tuple(dict.fromkeys(d for s in run for d in s.also_in)),
    )
