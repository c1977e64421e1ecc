"""The proof the default really answers: the embedded model and embedder on the seed articles."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from index.embedder import Embedder
from index.writer import IndexWriter
from rag.components import pipeline_over
from rag.generation import Generator
from rag.pipeline import Pipeline
from rag.settings import LOCAL_MODEL
from tests.rag.conftest import SEEDS, rag_settings

pytestmark = [pytest.mark.llm, pytest.mark.slow]


@pytest.fixture(scope="session")
def local_generator() -> Generator:
    """The embedded Qwen model, loaded once per test session."""
    pytest.importorskip("llama_cpp")
    from rag.llm import load_generator

    generator = load_generator(rag_settings(llm_model=LOCAL_MODEL, llm_timeout_s=600))
    assert generator is not None
    return generator


@pytest.fixture(scope="module")
def seed_pipeline(
    tmp_path_factory: pytest.TempPathFactory, real_embedder: Embedder, local_generator: Generator
) -> Pipeline:
    index_dir: Path = tmp_path_factory.mktemp("real") / "index"
    store = IndexWriter(index_dir, real_embedder).build([SEEDS]).store
    settings = rag_settings(llm_model=LOCAL_MODEL, llm_timeout_s=600)
    return pipeline_over(store, real_embedder, local_generator, settings)


def test_the_length_of_phase_one(seed_pipeline: Pipeline) -> None:
    answer = seed_pipeline.ask("How long was the first phase of the ceasefire?")
    assert not answer.abstained and not answer.degraded
    assert re.search(r"42[- ]days?|six[- ]weeks?", answer.text, re.I), answer.text
    assert answer.citations and "[1]" in answer.text


def test_who_the_envoy_is(seed_pipeline: Pipeline) -> None:
    answer = seed_pipeline.ask("Who is Trump's Middle East envoy?")
    assert not answer.abstained and not answer.degraded
    assert "Witkoff" in answer.text, answer.text
    assert any("Witkoff" in c.text for c in answer.citations)


def test_a_question_the_articles_do_not_answer(seed_pipeline: Pipeline) -> None:
    answer = seed_pipeline.ask("Who won the Eurovision Song Contest in 2024?")
    assert answer.abstained, answer.text
    assert not answer.citations
