"""Apps over a real small index of the seed articles, with the fake embedder and a fake LLM."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.app import create_app
from index.store import open_index
from rag.components import open_writer, pipeline_over
from rag.generation import Generator
from rag.settings import Settings
from tests.fakes import HashEmbedder, ScriptedLLM, cite_first_passage

SEEDS = Path(__file__).resolve().parents[2] / "seeds"
PHASE_ONE_DOC = "001_e2ebf3ea3f42602b"

ZEBRA_TEXT = (
    "Zebra crossing study finds striped paint halves accidents\n\n"
    "City engineers said on Monday that repainting the zebra crossings near schools cut "
    "pedestrian accidents by half within eighteen months. The study covered 412 crossings."
)


def api_settings(root: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "index_dir": root / "index",
        "state_dir": root / "state",
        "llm_model": "fake/scripted",
        "rate_limit_per_minute": 100_000,
        "request_timeout_s": 20.0,
        "min_relevance": 0.05,  # the hash embedder's similarities run lower than a real model's
        # Its sentence ranking is arbitrary too: the best sentence would rarely state what the
        # fake reader answers, and every answer would abstain as a disagreement.
        "require_agreement": False,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[arg-type, call-arg]


def build_seed_index(settings: Settings) -> None:
    open_writer(settings, HashEmbedder()).build([SEEDS])


@pytest.fixture(scope="session")
def seed_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seed articles indexed once with the fake embedder; tests get a copy."""
    root = tmp_path_factory.mktemp("seed-index")
    build_seed_index(api_settings(root))
    return root / "index"


AppFactory = Callable[..., FastAPI]


@pytest.fixture
def make_app(tmp_path: Path, seed_index: Path) -> AppFactory:
    """``make_app(llm=..., **settings)``: an app over a fresh copy of the seed index."""

    def make(
        llm: Generator | None = None,
        *,
        embedder: HashEmbedder | None = None,
        with_writer: bool = True,
        **overrides: object,
    ) -> FastAPI:
        settings = api_settings(tmp_path, **overrides)
        if not settings.index_dir.exists():
            shutil.copytree(seed_index, settings.index_dir)
        embedder = embedder or HashEmbedder()
        store = open_index(settings.index_dir, embedder)
        generator = llm if llm is not None else ScriptedLLM(cite_first_passage)
        pipeline = pipeline_over(store, embedder, generator, settings)
        writer = open_writer(settings, embedder) if with_writer else None
        return create_app(settings, pipeline=pipeline, writer=writer)

    return make


@pytest.fixture
def client(make_app: AppFactory) -> Iterator[TestClient]:
    with TestClient(make_app()) as test_client:
        yield test_client
