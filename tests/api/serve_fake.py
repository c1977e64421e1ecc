"""Serve the real app with a fake LLM in its own process (for the server tests and the benchmark).

    OMP_NUM_THREADS=1 python -m tests.api.serve_fake --root DIR --port PORT [--token-delay S]

Builds the seed index under ``DIR/index`` with the chosen embedder when it is missing. The fake
LLM cites passage [1] and streams its words ``--token-delay`` seconds apart.
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import uvicorn

from api.app import create_app
from index.embedder import Embedder
from rag.components import open_writer
from rag.settings import Settings
from rag.types import Message
from tests.api.conftest import SEEDS, api_settings
from tests.fakes import HashEmbedder, ScriptedLLM, cite_first_passage


class PacedLLM(ScriptedLLM):
    """The scripted fake, one word every ``delay`` seconds, like a model on a slow CPU."""

    def __init__(self, delay: float) -> None:
        super().__init__(cite_first_passage)
        self._delay = delay

    def complete(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int | None = None,
        grammar: str | None = None,
    ) -> Iterator[str]:
        for piece in super().complete(messages, max_tokens=max_tokens, grammar=grammar):
            if self._delay:
                time.sleep(self._delay)
            yield piece


def _embedder(kind: str, settings: Settings) -> Embedder:
    if kind == "real":
        from rag.components import load_embedder

        return load_embedder(settings)  # as `rag serve` loads it: one thread, onnxruntime
    return HashEmbedder()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--token-delay", type=float, default=0.0)
    parser.add_argument("--embedder", choices=["hash", "real"], default="hash")
    parser.add_argument("--queue-size", type=int, default=64)
    parser.add_argument("--log", action="store_true", help="print the JSON access log")
    parser.add_argument("--plain-asyncio", action="store_true", help="h11 and asyncio, no uvloop")
    parser.add_argument("--api-keys", help="comma-separated keys (RAG_API_KEYS)")
    parser.add_argument("--job-threshold", type=int, help="RAG_JOB_THRESHOLD_CHARS")
    args = parser.parse_args(argv)

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    overrides: dict[str, object] = {"generation_queue_size": args.queue_size}
    if args.api_keys:
        overrides["api_keys"] = args.api_keys
    if args.job_threshold is not None:
        overrides["job_threshold_chars"] = args.job_threshold
    if args.embedder == "real":
        overrides["min_relevance"] = 0.3
    settings = api_settings(args.root, **overrides)
    embedder = _embedder(args.embedder, settings)
    if not settings.index_dir.exists():
        open_writer(settings, embedder).build([SEEDS])
    # The models are given; the index, writer and pipeline load as in `rag serve`.
    app = create_app(settings, embedder=embedder, generator=PacedLLM(args.token_delay))
    logging.basicConfig(level=logging.INFO if args.log else logging.WARNING, format="%(message)s")
    http, loop = ("h11", "asyncio") if args.plain_asyncio else ("auto", "auto")
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=args.port,
        http=http,
        loop=loop,
        access_log=False,
        log_level="warning",
    )


if __name__ == "__main__":
    main()
