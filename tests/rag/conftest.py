"""Builders for the answering tests: small indexes over hand-written articles or the seeds."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from index.loaders import make_document
from index.store import IndexStore
from index.types import Document
from index.writer import IndexConfig, IndexWriter
from rag.components import pipeline_over
from rag.generation import Generator
from rag.pipeline import Pipeline
from rag.settings import Settings
from tests.fakes import HashEmbedder

SEEDS = Path(__file__).resolve().parents[2] / "seeds"


def rag_settings(**overrides: object) -> Settings:
    values: dict[str, object] = {"llm_model": "fake/scripted", **overrides}
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def article(doc_id: str, title: str, *paragraphs: str, published: str | None = None) -> Document:
    return make_document(
        title + "\n\n" + "\n\n".join(paragraphs), doc_id=doc_id, title=title, published=published
    )


# A small corpus with a disagreement on a figure, a newer source, and a shared paragraph.
TRUCE = article(
    "truce-march",
    "Truce holds as talks stall",
    "The first phase of the truce lasted 42 days and ended in early March.",
    "As of March, officials said 24 hostages are still alive in the territory.",
    "Mediators from Qatar and Egypt met the negotiators in Doha on Thursday.",
    published="2025-03-06",
)
REPORT = article(
    "report-july",
    "July report on the hostages",
    "About 50 hostages are still held in the territory, a July report said.",
    "The envoy Steve Witkoff left the talks after a week of meetings.",
    published="2025-07-24",
)
HARBOUR = article(
    "harbour-news",
    "Harbour reopens after storm",
    "The harbour reopened on Monday after the storm damaged three piers.",
    "Fishing boats returned to the harbour within hours of the announcement.",
    "Mediators from Qatar and Egypt met the negotiators in Doha on Thursday.",
)
CORPUS = (TRUCE, REPORT, HARBOUR)


def build_store(root: Path, documents: Sequence[Document], embedder: object) -> IndexStore:
    writer = IndexWriter(root, embedder, IndexConfig(chunk_max_words=40))  # type: ignore[arg-type]
    return writer.add_documents(documents).store


@pytest.fixture(scope="module")
def small_store(tmp_path_factory: pytest.TempPathFactory) -> IndexStore:
    return build_store(tmp_path_factory.mktemp("small") / "index", CORPUS, HashEmbedder())


@pytest.fixture(scope="module")
def seed_store(tmp_path_factory: pytest.TempPathFactory) -> IndexStore:
    writer = IndexWriter(tmp_path_factory.mktemp("seeds") / "index", HashEmbedder())
    return writer.build([SEEDS]).store


MakePipeline = Callable[..., Pipeline]


@pytest.fixture
def make_pipeline(small_store: IndexStore) -> MakePipeline:
    """A pipeline over the small corpus with the given fake model and settings."""

    def make(
        generator: Generator | None = None, store: IndexStore | None = None, **settings: object
    ) -> Pipeline:
        return pipeline_over(
            store or small_store, HashEmbedder(), generator, rag_settings(**settings)
        )

    return make
