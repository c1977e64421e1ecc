"""The optional cross-encoder: which sentences it re-orders, how the pipeline takes it, and its
loading code on a tiny CrossEncoder built here (no reranker ships in a package)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from index.store import IndexStore
from index.types import Chunk
from rag.components import pipeline_over
from rag.context import ScoredSentence, SentenceScorer
from rag.errors import ModelError
from rag.evidence import ChooseEvidence
from rag.question import Question
from rag.rerank import CrossEncoderReranker, load_reranker, reranked
from rag.retrieval import Retrieval
from rag.types import Hit
from tests.fakes import HashEmbedder
from tests.rag.conftest import rag_settings

SENTENCES = (
    "The envoy Steve Witkoff left the talks after a week of meetings.",
    "Mediators from Qatar and Egypt met the negotiators in Doha on Thursday.",
    "The first phase of the truce lasted 42 days and ended in early March.",
    "The harbour reopened on Monday after the storm damaged three piers.",
)


class Prefers:
    """A reranker that scores a sentence by whether it holds ``word``; records its calls."""

    def __init__(self, word: str) -> None:
        self.word = word
        self.calls: list[tuple[str, list[str]]] = []

    def scores(self, question: str, texts: Sequence[str]) -> list[float]:
        self.calls.append((question, list(texts)))
        return [1.0 if self.word in text else 0.0 for text in texts]


def sentences(*texts: str) -> list[ScoredSentence]:
    """Sentences scored 1.0, 0.9, ... in the order given."""
    return [
        ScoredSentence(
            "d", "T", 100 * i, 100 * i + len(t), t, 1.0 - i / 10, 0.5, 0.0, 0, None, None, ()
        )
        for i, t in enumerate(texts)
    ]


def test_only_the_top_sentences_are_reordered_and_each_keeps_its_score() -> None:
    given = sentences(*SENTENCES)
    reranker = Prefers("Doha")

    order = reranked("Where did they meet?", given, reranker, top=3)

    assert [s.text for s in order] == [SENTENCES[1], SENTENCES[0], SENTENCES[2], SENTENCES[3]]
    assert order[0].score == given[1].score  # the scale the relevance thresholds read
    assert reranker.calls == [("Where did they meet?", list(SENTENCES[:3]))]


def test_a_sentence_past_the_top_stays_where_it_was() -> None:
    order = reranked("When did the harbour open?", sentences(*SENTENCES), Prefers("harbour"), top=3)

    assert [s.text for s in order] == list(SENTENCES)  # ties keep their rank


def test_one_sentence_needs_no_reranker() -> None:
    reranker = Prefers("envoy")

    assert reranked("Who?", sentences(SENTENCES[0]), reranker, top=12)[0].text == SENTENCES[0]
    assert reranked("Who?", [], reranker, top=12) == []
    assert reranker.calls == []


def test_a_reranker_giving_the_wrong_number_of_scores_is_a_model_error() -> None:
    class Short:
        def scores(self, question: str, texts: Sequence[str]) -> list[float]:
            return [0.5]

    with pytest.raises(ModelError, match="1 scores for 3 sentences"):
        reranked("Who?", sentences(*SENTENCES[:3]), Short(), top=12)


def _retrieval(query: str, *texts: str) -> Retrieval:
    text = " ".join(texts)
    hit = Hit(Chunk(1, "d1", "Talks", 0, 0, len(text), text), 1.0, ("d1",))
    return Retrieval(query, (hit,), np.zeros(HashEmbedder().dimension, np.float32), 1.0, 1.0)


def test_the_evidence_follows_the_reranker() -> None:
    retrieval = _retrieval("Who left the talks?", *SENTENCES)
    scorer = SentenceScorer(HashEmbedder())
    plain = ChooseEvidence(scorer, lambda *_: None, budget_tokens=150, exact_vectors=True)
    ranked = ChooseEvidence(
        scorer, lambda *_: None, budget_tokens=150, exact_vectors=True, reranker=Prefers("harbour")
    )
    question = Question.parse("Who left the talks?")

    before = plain.choose(question, retrieval)
    after = ranked.choose(question, retrieval)

    assert after.best is not None and after.best.text == SENTENCES[3]
    assert after.strength == after.best.score  # its own score: the gate reads the same scale
    assert sorted(s.text for s in after.sentences) == sorted(s.text for s in before.sentences)
    assert SENTENCES[3] in after.passages[0].text  # passage [1] is the best sentence's


def test_the_pipeline_takes_the_configured_reranker(
    small_store: IndexStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    loaded: list[str] = []

    def fake_load(name: str) -> Prefers:
        loaded.append(name)
        return Prefers("harbour")

    monkeypatch.setattr("rag.rerank.load_reranker", fake_load)
    # No model: the best sentence is the answer, whatever it scores.
    settings = rag_settings(min_relevance=-10.0, passage_min_score=-10.0)
    question = "Who met the negotiators in Doha?"

    plain = pipeline_over(small_store, HashEmbedder(), None, settings).ask(question)
    ranked = pipeline_over(
        small_store, HashEmbedder(), None, settings.model_copy(update={"rerank_model": "fake-ce"})
    ).ask(question)

    assert loaded == ["fake-ce"]
    assert "harbour" not in plain.text
    assert "harbour" in ranked.text


# ---- the real loading code, on a tiny CrossEncoder -----------------------------------------

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "who", "left", "the", "talks", "envoy"]


@pytest.fixture(scope="module")
def tiny_cross_encoder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A one-layer BERT with a one-label head, random weights, saved as a model folder."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

    folder = tmp_path_factory.mktemp("tiny-cross-encoder")
    (folder / "vocab.txt").write_text("\n".join(VOCAB) + "\n")
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(VOCAB),
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=128,
        num_labels=1,
    )
    BertForSequenceClassification(config).save_pretrained(folder)
    BertTokenizerFast(vocab_file=str(folder / "vocab.txt")).save_pretrained(folder)
    return folder


def test_a_cross_encoder_scores_each_question_and_sentence_pair(tiny_cross_encoder: Path) -> None:
    from sentence_transformers import CrossEncoder

    reranker = CrossEncoderReranker(str(tiny_cross_encoder))
    pairs = [("Who left the talks?", text) for text in SENTENCES]
    expected = CrossEncoder(str(tiny_cross_encoder), device="cpu").predict(pairs)

    scores = reranker.scores("Who left the talks?", SENTENCES)

    assert scores == pytest.approx([float(x) for x in expected], abs=1e-5)
    assert reranker.scores("Who left the talks?", []) == []
    order = reranked("Who left the talks?", sentences(*SENTENCES), reranker, top=4)
    by_score = sorted(zip(scores, SENTENCES, strict=True), reverse=True)
    assert [s.text for s in order] == [text for _, text in by_score]


def test_a_reranker_is_loaded_once_per_process(tiny_cross_encoder: Path) -> None:
    assert load_reranker(str(tiny_cross_encoder)) is load_reranker(str(tiny_cross_encoder))


@pytest.mark.parametrize("where", ["missing", "not-a-model"])
def test_a_reranker_that_cannot_load_is_a_one_line_model_error(
    tmp_path: Path, small_store: IndexStore, where: str
) -> None:
    folder = tmp_path / where
    if where == "not-a-model":
        folder.mkdir()
        (folder / "config.json").write_text("{}")
    settings = rag_settings(rerank_model=str(folder))

    with pytest.raises(ModelError) as caught:
        pipeline_over(small_store, HashEmbedder(), None, settings)

    message = str(caught.value)
    assert message.startswith(f"cannot load reranker '{folder}': ")
    assert "\n" not in message
