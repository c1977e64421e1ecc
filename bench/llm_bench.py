"""The embedded local LLM: load time, prompt and generation speed, answer latency p50/p95.

    .venv/bin/python bench/llm_bench.py [--rounds 2] [--threads N] [--max-tokens 40]

Prompts are built like the pipeline's (``rag.prompt.answer_messages``) from seed paragraphs
picked by word overlap, about 250-300 tokens each, and run through ``LiteLLMGenerator`` as the
service does. Speeds come from llama.cpp's own counters; "new" prompt tokens are those not
served from the KV cache (the shared system prompt is only evaluated once).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rag.context import Passage
from rag.llm import LiteLLMGenerator, import_litellm
from rag.local_llm import LocalModelConfig, ensure_local_model, register_local_provider
from rag.prompt import answer_messages
from rag.settings import LOCAL_MODEL, Settings

SEEDS = Path(__file__).resolve().parents[1] / "seeds"
QUESTIONS = (
    "How long was the first phase of the ceasefire?",
    "Who is Trump's Middle East envoy?",
    "How many living hostages are still held in Gaza?",
    "Why did the United States pull its negotiators out of the talks?",
    "What is the population of Gaza City?",  # not in the articles
)
_WORD = re.compile(r"[a-z0-9]+")
_STOP = {"the", "a", "an", "of", "in", "on", "to", "is", "was", "how", "what", "who", "why", "did"}


@dataclass
class Run:
    question: str
    answer: str
    prompt_tokens: int
    new_prompt_tokens: int
    prompt_ms: float
    output_tokens: int
    output_ms: float
    first_token_s: float
    total_s: float


def seed_passages(question: str, count: int, words: int) -> list[Passage]:
    """The ``count`` seed paragraphs sharing most words with ``question``, cut to ``words``."""
    wanted = {w for w in _WORD.findall(question.lower()) if w not in _STOP}
    scored = []
    for path in sorted(SEEDS.glob("*.txt")):
        lines = [line.strip() for line in path.read_text("utf-8").splitlines() if line.strip()]
        title, paragraphs = lines[0], lines[1:]
        for paragraph in paragraphs:
            overlap = len(wanted & set(_WORD.findall(paragraph.lower())))
            scored.append((overlap, path.stem, title, paragraph))
    scored.sort(key=lambda item: -item[0])
    passages = []
    for n, (overlap, doc_id, title, paragraph) in enumerate(scored[:count], start=1):
        text = " ".join(paragraph.split()[:words])
        passages.append(Passage(n, doc_id, title, text, 0, len(text), float(overlap)))
    return passages


def run_once(
    generator: LiteLLMGenerator, llama: object, question: str, args: argparse.Namespace
) -> Run:
    import llama_cpp

    ctx = llama._ctx.ctx  # type: ignore[attr-defined]
    messages = answer_messages(question, seed_passages(question, args.passages, args.words))
    llama_cpp.llama_perf_context_reset(ctx)
    started = time.perf_counter()
    first = None
    pieces = []
    for delta in generator.complete(messages, max_tokens=args.max_tokens):
        first = first or time.perf_counter()
        pieces.append(delta)
    total = time.perf_counter() - started
    perf = llama_cpp.llama_perf_context(ctx)
    return Run(
        question=question,
        answer="".join(pieces).strip(),
        prompt_tokens=llama.n_tokens - perf.n_eval,  # type: ignore[attr-defined]
        new_prompt_tokens=perf.n_p_eval,
        prompt_ms=perf.t_p_eval_ms,
        output_tokens=perf.n_eval,
        output_ms=perf.t_eval_ms,
        first_token_s=(first or started) - started,
        total_s=total,
    )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2, help="times each question is asked")
    parser.add_argument("--threads", type=int, default=None, help="default: RAG_LLM_THREADS")
    parser.add_argument("--max-tokens", type=int, default=40)
    parser.add_argument("--passages", type=int, default=3)
    parser.add_argument("--words", type=int, default=55, help="words per passage")
    args = parser.parse_args()

    settings = Settings()
    if args.threads:
        settings = settings.model_copy(update={"llm_threads": args.threads})
    load = os.getloadavg()[0]
    print(f"machine: {os.cpu_count()} cores, load average {load:.1f} at start")

    started = time.perf_counter()
    path = ensure_local_model(settings)
    print(f"GGUF ready (assemble/verify): {time.perf_counter() - started:.2f} s  {path}")
    import_litellm()
    model = register_local_provider(LocalModelConfig.from_settings(settings, path))
    llama = model.load()
    print(
        f"model load: {model.load_seconds:.2f} s  "
        f"(threads={settings.llm_threads}, n_ctx={settings.llm_context_tokens})"
    )

    generator = LiteLLMGenerator(LOCAL_MODEL, timeout_s=300, max_tokens=args.max_tokens)
    runs = []
    print(
        f"\n{'prompt':>6} {'new':>4} {'pp t/s':>7} {'out':>4} {'tg t/s':>7} {'ttft':>6} "
        f"{'total':>6}  answer"
    )
    for _ in range(args.rounds):
        for question in QUESTIONS:
            run = run_once(generator, llama, question, args)
            runs.append(run)
            pp = run.new_prompt_tokens / run.prompt_ms * 1000 if run.prompt_ms else 0.0
            tg = run.output_tokens / run.output_ms * 1000 if run.output_ms else 0.0
            print(
                f"{run.prompt_tokens:>6} {run.new_prompt_tokens:>4} {pp:>7.1f} "
                f"{run.output_tokens:>4} {tg:>7.1f} {run.first_token_s:>5.2f}s "
                f"{run.total_s:>5.2f}s  {run.answer[:90]!r}"
            )

    totals = [r.total_s for r in runs]
    prompt_rate = sum(r.new_prompt_tokens for r in runs) / sum(r.prompt_ms for r in runs) * 1000
    output_rate = sum(r.output_tokens for r in runs) / sum(r.output_ms for r in runs) * 1000
    cited = sum(bool(re.search(r"\[\d+\]", r.answer)) for r in runs)
    print(
        f"\nprompt tokens (mean): {statistics.mean(r.prompt_tokens for r in runs):.0f}  "
        f"new per call after the first (mean): "
        f"{statistics.mean(r.new_prompt_tokens for r in runs[1:]) if len(runs) > 1 else 0:.0f}"
    )
    print(f"prompt eval: {prompt_rate:.1f} tokens/s   generation: {output_rate:.1f} tokens/s")
    print(
        f"end-to-end latency: p50 {percentile(totals, 0.5):.2f} s  "
        f"p95 {percentile(totals, 0.95):.2f} s  "
        f"(first token p50 {percentile([r.first_token_s for r in runs], 0.5):.2f} s)"
    )
    print(f"answers with an [n] citation: {cited}/{len(runs)}")
    print(f"machine load average at end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
