"""Question answering over news articles, with verified citations."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rag.pipeline import AnswerStream, Pipeline
    from rag.retrieval import HybridRetriever
    from rag.types import Answer, Citation, Hit, Message

__all__ = ["Answer", "AnswerStream", "Citation", "Hit", "HybridRetriever", "Message", "Pipeline"]

# Loaded on first use: `rag ask` through a server imports rag.cli, and must not pay for numpy
# and the answering modules it never calls.
_HOMES = {
    "AnswerStream": "rag.pipeline",
    "Pipeline": "rag.pipeline",
    "HybridRetriever": "rag.retrieval",
    "Answer": "rag.types",
    "Citation": "rag.types",
    "Hit": "rag.types",
    "Message": "rag.types",
}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(name)
