"""Question answering over news articles, with verified citations."""

from rag.pipeline import AnswerStream, Pipeline
from rag.retrieval import HybridRetriever
from rag.types import Answer, Citation, Hit, Message

__all__ = ["Answer", "AnswerStream", "Citation", "Hit", "HybridRetriever", "Message", "Pipeline"]
