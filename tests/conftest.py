"""Shared fixtures: the deterministic fake embedder, and the real bundled one loaded once."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from index.embedder import Embedder
from tests.fakes import HashEmbedder

SEEDS = Path(__file__).resolve().parents[1] / "seeds"

# The bundled models load from site-packages; a test must never reach for a model hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # litellm's price map: packaged
# `rag ask`, `search` and `chat` use a server at RAG_URL when one answers: never one that happens
# to run on this machine (port 9 is discard; nothing listens there). Tests that want a server
# start their own and say so.
os.environ["RAG_URL"] = "http://127.0.0.1:9"


@pytest.fixture
def hash_embedder() -> HashEmbedder:
    return HashEmbedder()


@pytest.fixture(scope="session")
def real_embedder() -> Embedder:
    """The bundled all-MiniLM-L6-v2, loaded once per test session (a few seconds)."""
    from index.embedder import load_embedder

    return load_embedder()
