"""A real pipeline over the seed articles, with the fake embedder and a scripted fake LLM."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from index.store import IndexStore, open_index
from index.writer import IndexConfig, IndexWriter
from rag.components import pipeline_over
from rag.generation import Generator
from rag.pipeline import Pipeline
from rag.settings import Settings
from tests.fakes import HashEmbedder, ScriptedLLM, cite_first_passage

SEEDS = Path(__file__).resolve().parents[2] / "seeds"


def eval_settings(root: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "index_dir": root / "index",
        "state_dir": root / "state",
        "llm_model": "fake/scripted",
        "rate_limit_per_minute": 100_000,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture(scope="session")
def seed_store(tmp_path_factory: pytest.TempPathFactory) -> IndexStore:
    """The seed articles indexed once with the fake embedder (read-only: tests share it)."""
    index_dir = tmp_path_factory.mktemp("eval-index") / "index"
    IndexWriter(index_dir, HashEmbedder(), IndexConfig()).build([SEEDS])
    return open_index(index_dir, HashEmbedder())


PipelineFactory = Callable[..., Pipeline]


@pytest.fixture
def make_pipeline(seed_store: IndexStore, tmp_path: Path) -> PipelineFactory:
    """``make_pipeline(llm=None)``: a pipeline over the seed index; by default the fake LLM
    answers with the first sentence of passage [1]."""

    def make(llm: Generator | None = None, **overrides: object) -> Pipeline:
        generator = llm if llm is not None else ScriptedLLM(cite_first_passage)
        settings = eval_settings(tmp_path, **overrides)
        return pipeline_over(seed_store, HashEmbedder(), generator, settings)

    return make
