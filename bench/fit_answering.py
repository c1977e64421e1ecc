"""Fit the answering thresholds on dev sets only, and print the grid.

    python bench/fit_answering.py [--squad-sample 200] [--min-relevance X ...]
        [--passage-min-score Y ...]

The dev sets: a seeded sample of the four SQuAD 2.0 development articles in
``eval/datasets/squad2-dev/`` (scored strictly, and "contains gold or abstained" as the SQuAD
Normans "overall" beside it) and the dev half of ``eval/datasets/news.jsonl`` (strict scoring).
The best grid point has the highest mean of the two strict figures. The Normans article and
the news test half are never read here. The model's replies are cached in memory for the run,
so every grid point after the first costs no model time: a threshold changes what is done with
a reply, never the prompt (below ``min_relevance`` the model is not asked at all).
"""

from __future__ import annotations

import argparse
import itertools
import os
import random
import sys
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from eval.corpus import ensure_index
from eval.runner import PipelineTarget, engine_prompts, run_eval
from eval.scoring import summarize
from eval.sources import EvalSet, resolve
from eval.squad_metrics import squad_summary
from rag.components import load_embedder, open_store, pipeline_over
from rag.generation import Generator
from rag.llm import load_generator
from rag.settings import Settings
from rag.types import Message

SQUAD_DEV = (
    Path(__file__).resolve().parents[1] / "eval/datasets/squad2-dev/dev-v2.0-four-articles.json"
)
MIN_RELEVANCE = (0.65, 0.7, 0.75, 0.8, 0.85)
PASSAGE_MIN_SCORE = (0.9, 0.95, 1.0, 1.05, 1.1)


class Remembering:
    """The model, each distinct prompt asked once (replies are deterministic at temperature 0)."""

    def __init__(self, generator: Generator) -> None:
        self._generator = generator
        self._replies: dict[tuple[object, ...], str] = {}

    @property
    def model(self) -> str:
        return self._generator.model

    def complete(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int | None = None,
        grammar: str | None = None,
    ) -> Iterator[str]:
        key = (grammar, *((m.role, m.content) for m in messages))
        if key not in self._replies:
            reply = self._generator.complete(messages, max_tokens=max_tokens, grammar=grammar)
            self._replies[key] = "".join(reply)
        yield self._replies[key]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--squad-sample", type=int, default=200, help="SQuAD dev questions")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--min-relevance", type=float, nargs="+", default=MIN_RELEVANCE)
    parser.add_argument("--passage-min-score", type=float, nargs="+", default=PASSAGE_MIN_SCORE)
    args = parser.parse_args()

    settings = Settings()
    embedder = load_embedder(settings)
    generator = load_generator(settings)
    if generator is None:
        raise SystemExit("fit the model's thresholds with a model (RAG_LLM_MODEL is extractive)")
    model = Remembering(generator)

    squad = resolve(f"squad:{SQUAD_DEV}")
    sample = random.Random(args.seed).sample(squad.items, min(args.squad_sample, len(squad.items)))
    sets = {
        "squad-dev": replace(squad, items=tuple(sample)),
        "news-dev": resolve(None, split="dev"),
    }
    stores = {}
    for name, chosen in sets.items():
        assert chosen.documents is not None
        index_dir = ensure_index(settings, chosen.name, chosen.documents, embedder)
        stores[name] = open_store(settings.model_copy(update={"index_dir": index_dir}), embedder)

    print(
        f"{'min_relevance':>13} {'passage_min':>11} {'squad-dev':>9} {'strict':>6}"
        f" {'news-dev':>8} {'mean':>6}"
    )
    rows = []
    for relevance, passage in itertools.product(args.min_relevance, args.passage_min_score):
        grid = settings.model_copy(
            update={"min_relevance": relevance, "passage_min_score": passage}
        )
        (contains, squad_strict), (_, news) = (
            _score(chosen, stores[name], embedder, model, grid) for name, chosen in sets.items()
        )
        mean = (squad_strict + news) / 2
        rows.append((mean, relevance, passage))
        print(
            f"{relevance:>13} {passage:>11} {contains:>9.3f} {squad_strict:>6.3f}"
            f" {news:>8.3f} {mean:>6.3f}",
            flush=True,
        )
    best = max(rows)
    print(f"best on dev: min_relevance={best[1]} passage_min_score={best[2]} (mean {best[0]:.3f})")


def _score(chosen: EvalSet, store, embedder, model, settings: Settings) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """SQuAD's "contains gold or abstained" (strict again for news) and strict accuracy."""
    pipeline = pipeline_over(store, embedder, model, settings)
    results = run_eval(chosen.items, PipelineTarget(pipeline), prompts=engine_prompts())
    strict = float(summarize(results).answer_accuracy or 0.0)
    if chosen.squad:
        return float(squad_summary(results)["overall"] or 0.0), strict
    return strict, strict


if __name__ == "__main__":
    main()
