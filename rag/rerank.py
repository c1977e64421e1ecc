"""An optional cross-encoder that re-orders the best sentences before the prompt is chosen.

A cross-encoder reads the question and a sentence together, which a bi-encoder's cosine cannot,
and the sentence ranking decides most answers (the README). None ships in a PyPI package, so
none is on by default and its effect on accuracy is not measured here: ``RAG_RERANK_MODEL`` names
a sentence-transformers ``CrossEncoder`` (a folder, or a hub name where the hub is reachable).

It re-orders only the ``RAG_RERANK_TOP`` best sentences, by its score of (question, sentence).
Each sentence keeps its own score, so ``RAG_MIN_RELEVANCE`` and ``RAG_PASSAGE_MIN_SCORE`` read
the same scale with or without a reranker; what changes is which sentence is the best one and
which reach the prompt.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Protocol

from rag.context import ScoredSentence
from rag.errors import ModelError

__all__ = ["CrossEncoderReranker", "Reranker", "load_reranker", "reranked"]


class Reranker(Protocol):
    def scores(self, question: str, texts: Sequence[str]) -> Sequence[float]:
        """One relevance score per text, higher is better."""
        ...


class CrossEncoderReranker:
    """A sentence-transformers ``CrossEncoder`` on the CPU."""

    def __init__(self, name: str, *, batch_size: int = 16) -> None:
        import torch  # lazy: only a configured reranker pays for torch
        from sentence_transformers import CrossEncoder

        from index.embedder import quiet_transformers

        torch.set_num_threads(1)  # as the embedder: the LLM keeps both cores busy
        quiet_transformers()
        try:
            self._model = CrossEncoder(name, device="cpu")
        except (OSError, ValueError) as exc:
            # Hub errors run to several lines; the CLI's error is one.
            reason = (str(exc).strip() or type(exc).__name__).splitlines()[0]
            raise ModelError(f"cannot load reranker {name!r}: {reason}") from exc
        self._model.model.eval()
        self._batch_size = batch_size

    def scores(self, question: str, texts: Sequence[str]) -> list[float]:
        if not texts:
            return []
        pairs = [(question, text) for text in texts]
        found = self._model.predict(
            pairs, batch_size=self._batch_size, show_progress_bar=False, convert_to_numpy=True
        )
        return [float(score) for score in found.reshape(len(texts), -1)[:, 0]]


@functools.lru_cache(maxsize=2)
def load_reranker(name: str) -> CrossEncoderReranker:
    """The reranker ``name``, loaded once per process (the server builds a pipeline for every
    index snapshot, and each shares it)."""
    return CrossEncoderReranker(name)


def reranked(
    question: str, sentences: Sequence[ScoredSentence], reranker: Reranker, top: int
) -> list[ScoredSentence]:
    """``sentences`` (best first) with the ``top`` best re-ordered by ``reranker``; ties keep
    their order, and the rest follow unchanged."""
    head, tail = list(sentences[:top]), list(sentences[top:])
    if len(head) < 2:
        return [*head, *tail]
    scores = reranker.scores(question, [s.text for s in head])
    if len(scores) != len(head):
        raise ModelError(f"the reranker gave {len(scores)} scores for {len(head)} sentences")
    order = sorted(range(len(head)), key=lambda i: -scores[i])  # stable: ties keep their rank
    return [*(head[i] for i in order), *tail]
