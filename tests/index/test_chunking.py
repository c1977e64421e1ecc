"""Chunking: whole sentences, bounded size, overlap, and offsets that point into the text."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from index.chunking import EMBED_WINDOW_WORDS, chunk_text, sentence_spans
from index.loaders import load_documents
from index.store import IndexStore
from tests.index.helpers import SEEDS, writer


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> IndexStore:
    return writer(tmp_path_factory.mktemp("chunks") / "index").build([SEEDS]).store


def test_every_chunk_of_every_seed_is_its_documents_text_at_its_offsets(store: IndexStore) -> None:
    documents = store.documents()
    assert len(documents) == 5
    for doc in documents:
        chunks = store.chunks_of(doc.doc_id)
        assert chunks and [c.ordinal for c in chunks] == list(range(len(chunks)))
        for chunk in chunks:
            assert chunk.text == doc.text[chunk.start : chunk.end]
            assert chunk.doc_id == doc.doc_id and chunk.title == doc.title
            assert store.chunk(chunk.chunk_id) == chunk
        # Together the chunks cover every sentence of the document.
        covered = set()
        for chunk in chunks:
            covered.update(range(chunk.start, chunk.end))
        for start, end in sentence_spans(doc.text):
            assert start in covered and end - 1 in covered


def test_chunks_hold_whole_sentences_within_the_size(store: IndexStore) -> None:
    for doc in store.documents():
        boundaries = sentence_spans(doc.text)
        starts = {s for s, _ in boundaries}
        ends = {e for _, e in boundaries}
        for chunk in store.chunks_of(doc.doc_id):
            assert chunk.start in starts and chunk.end in ends, chunk.text[:60]
            assert len(chunk.text.split()) <= 90 or _single_sentence(chunk.text, doc.text, chunk)


def _single_sentence(_: str, text: str, chunk: object) -> bool:
    spans = [s for s in sentence_spans(text) if chunk.start <= s[0] and s[1] <= chunk.end]  # type: ignore[attr-defined]
    return len(spans) == 1


def test_consecutive_chunks_overlap_by_one_sentence() -> None:
    text = " ".join(f"Sentence number {i} has exactly seven words." for i in range(40))
    spans = chunk_text(text, max_words=30, overlap_sentences=1)
    sentences = sentence_spans(text)
    assert len(sentences) == 40
    for before, after in itertools.pairwise(spans):
        shared = [s for s in sentences if after.start <= s[0] and s[1] <= before.end]
        assert len(shared) == 1
    assert spans[-1].end == len(text)
    no_overlap = chunk_text(text, max_words=30, overlap_sentences=0)
    assert all(a.end < b.start for a, b in itertools.pairwise(no_overlap))


def test_abbreviations_and_initials_do_not_end_a_sentence() -> None:
    text = "Mr. Witkoff met U.S. officials on Oct. 7 in Washington. J. Smith said so. It ended."
    pieces = [text[s:e] for s, e in sentence_spans(text)]
    assert pieces == [
        "Mr. Witkoff met U.S. officials on Oct. 7 in Washington.",
        "J. Smith said so.",
        "It ended.",
    ]


def test_a_long_sentence_is_its_own_chunk_and_only_cut_past_the_model_window() -> None:
    long = "Word " + "word " * 149 + "end."
    text = f"Short one. {long} Another short one."
    spans = chunk_text(text, max_words=90, overlap_sentences=1)
    middle = [s for s in spans if len(text[s.start : s.end].split()) > 90]
    assert len(middle) == 1 and text[middle[0].start : middle[0].end] == long.strip()
    huge = " ".join(f"w{i}" for i in range(EMBED_WINDOW_WORDS * 2 + 10)) + "."
    pieces = chunk_text(huge, max_words=90, overlap_sentences=0)
    assert all(len(huge[p.start : p.end].split()) <= EMBED_WINDOW_WORDS for p in pieces)
    assert " ".join(huge[p.start : p.end] for p in pieces) == huge


def test_html_chunks_point_into_the_stored_text(tmp_path: Path) -> None:
    (tmp_path / "page.html").write_text(
        "<html><body><h1>Heading</h1><p>First para. Second sentence.</p><p>Third.</p>"
        "</body></html>",
        encoding="utf-8",
    )
    [doc] = load_documents([tmp_path]).documents
    for span in chunk_text(doc.text, 5, 1):
        assert doc.text[span.start : span.end].strip() == doc.text[span.start : span.end]


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.text(alphabet=st.sampled_from(list("abcXYZ .!?\n\"'“”-0123")), max_size=80),
        max_size=30,
    ),
    st.integers(min_value=5, max_value=60),
    st.integers(min_value=0, max_value=3),
)
def test_any_text_is_covered_by_chunks_of_whole_sentences(
    pieces: list[str], max_words: int, overlap: int
) -> None:
    text = " ".join(pieces).strip()
    spans = chunk_text(text, max_words, overlap)
    sentences = sentence_spans(text)
    starts, ends = {s for s, _ in sentences}, {e for _, e in sentences}
    covered = set()
    for ordinal, span in enumerate(spans):
        assert span.ordinal == ordinal and 0 <= span.start < span.end <= len(text)
        assert text[span.start] != " " and text[span.end - 1] != " "
        if len(text[span.start : span.end].split()) <= EMBED_WINDOW_WORDS:
            assert span.start in starts or span.end in ends
        covered.update(range(span.start, span.end))
    assert all(i in covered for i, ch in enumerate(text) if not ch.isspace())
