"""Sentence scoring: which retrieved sentences the model reads, best first."""

from __future__ import annotations

import numpy as np

from index.types import Chunk
from rag.context import ScoredSentence, SentenceScorer
from rag.types import Hit


class _SameVector:
    """Every text gets one vector: the sentences' similarities tie, their word overlap decides."""

    name = "same-vector"
    dimension = 4

    def embed(self, texts: list[str]) -> np.ndarray:
        return np.ones((len(texts), 4), dtype=np.float32) / 2


def scored(question: str, *sentences: str) -> list[ScoredSentence]:
    text = " ".join(sentences)
    hit = Hit(Chunk(1, "d1", "Normans", 0, 0, len(text), text), 1.0, ("d1",))
    return SentenceScorer(_SameVector()).score(question, None, [hit])


def ranked(question: str, *sentences: str) -> list[str]:
    return [s.text for s in scored(question, *sentences)]


def test_a_rare_shared_word_outweighs_two_common_ones() -> None:
    order = ranked(
        "Which Norman knights sailed to Sicily?",
        "Norman knights fought many wars in the south.",
        "Norman knights served Byzantine lords for pay.",
        "Norman knights built castles across the land.",
        "Ships bound for Sicily left Apulia in 1061.",
    )
    # Three sentences share "Norman knights"; one names Sicily, and it goes first (sharing the
    # most question words would put it last).
    assert order[0] == "Ships bound for Sicily left Apulia in 1061."


def test_a_word_every_sentence_shares_counts_for_little() -> None:
    best, *others = scored(
        "When did the Normans reach Sicily?",
        "The Normans settled in Normandy.",
        "The Normans fought many wars.",
        "The Normans reached Sicily by 1061.",
    )
    assert best.text == "The Normans reached Sicily by 1061."
    assert best.overlap > 0.8
    assert all(0 < s.overlap < 0.2 for s in others)  # a third each, were every word alike
