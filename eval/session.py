"""One ``rag eval`` run: load the questions, ask the engine, score, write reports, compare."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from eval.compare import compare, format_deltas, load_report, regressions
from eval.report import build_report, format_table, write_html, write_json
from eval.runner import HttpTarget, PipelineTarget, Target, engine_prompts, run_eval
from eval.scoring import ItemResult
from eval.sources import EvalSet, resolve
from rag.errors import InputError
from rag.settings import Settings

if TYPE_CHECKING:
    import httpx

    from index.embedder import Embedder
    from rag.pipeline import Pipeline

__all__ = ["Engine", "EvalOptions", "evaluate"]

OnResult = Callable[[ItemResult], None]


@dataclass(frozen=True)
class EvalOptions:
    dataset: str | Path | None = None  # None: the packaged news.jsonl; "squad:PATH" for SQuAD
    url: str | None = None  # a running server; None: the pipeline in-process
    json_out: Path | None = None
    html_out: Path | None = None
    baseline: Path | None = None
    limit: int | None = None
    kinds: Sequence[str] = ()
    top_k: int | None = None
    split: str | None = None  # "dev" or "test"; None: every item
    corpus: Sequence[Path] = ()  # documents for an index of the eval's own
    index_dir: Path | None = None  # ask this existing index instead of the eval's own


def _load_embedder(settings: Settings) -> Embedder:
    from rag.components import load_embedder

    return load_embedder(settings)


def _load_pipeline(settings: Settings, embedder: Embedder) -> Pipeline:
    from rag.components import load_pipeline

    return load_pipeline(settings, embedder)


@dataclass(frozen=True)
class Engine:
    """How a run gets its models (in-process) or reaches the server (``--url``); tests pass
    fakes, and an ``httpx.MockTransport`` for the server."""

    embedder: Callable[[Settings], Embedder] = field(default=_load_embedder)
    pipeline: Callable[[Settings, Embedder], Pipeline] = field(default=_load_pipeline)
    transport: httpx.BaseTransport | None = None


def evaluate(
    settings: Settings,
    options: EvalOptions,
    *,
    echo: Callable[[str], None],
    progress: Callable[[str], None] | None = None,
    target: Target | None = None,
    engine: Engine | None = None,
) -> int:
    """Run the eval and print the table; the exit status is 1 when every question failed or
    the baseline regressed.

    ``target`` replaces the engine named by the options (tests pass one over a fake pipeline).
    """
    note = progress or (lambda _: None)
    dataset = str(options.dataset) if options.dataset is not None else None
    baseline = load_report(options.baseline) if options.baseline else None  # fail early
    chosen = resolve(
        dataset,
        split=options.split,
        kinds=options.kinds,
        limit=options.limit,
        corpus=options.corpus,
        named_index=options.index_dir is not None,
        over_http=bool(options.url) and target is None,
    )

    def show(result: ItemResult) -> None:
        obs = result.observation
        mark = "ok  " if result.verdict.correct else "MISS"
        notes = " abstained" * obs.abstained + " degraded" * obs.degraded
        line = f"{mark} {result.item.kind:<12} {result.item.id:<36} {obs.latency_ms:>7.0f} ms"
        note(line + notes)

    index: str | None = None
    skipped: list[dict[str, str]] = []
    if target is not None:
        results = run_eval(chosen.items, target, prompts=engine_prompts(), on_result=show)
    elif options.url:
        results, skipped = _over_http(settings, options, chosen, show, engine or Engine())
    else:
        results, index = _in_process(settings, options, chosen, show, engine or Engine(), note)

    from eval.judge import judge_results, load_judge

    judge = load_judge(settings)
    if judge is not None:
        results = judge_results(results, judge)

    name = target.name if target is not None else options.url or "in-process"
    report = build_report(
        results,
        dataset=chosen.source,
        target=name,
        split=options.split,
        index=index,
        skipped=skipped,
        squad=chosen.squad,
    ).as_dict()
    echo(format_table(report))
    if options.json_out:
        write_json(report, options.json_out)
        echo(f"wrote {options.json_out}")
    if options.html_out:
        write_html(report, options.html_out)
        echo(f"wrote {options.html_out}")
    failures = [r.observation.error for r in results if r.observation.error]
    if failures:
        # Said on stderr too: the table counts them, but a run where every question failed
        # measured nothing and must not pass for a score of 0.
        what = "every question failed" if len(failures) == len(results) else "questions failed"
        note(f"{what} ({len(failures)} of {len(results)}); the first: {failures[0]}")
        if len(failures) == len(results):
            return 1
    if baseline is None:
        return 0
    deltas = compare(report, baseline)
    echo(format_deltas(deltas, report, baseline))
    failed = regressions(deltas)
    if failed:
        echo(f"regressed beyond tolerance: {', '.join(d.metric for d in failed)}")
        return 1
    return 0


def _in_process(
    settings: Settings,
    options: EvalOptions,
    chosen: EvalSet,
    show: OnResult,
    engine: Engine,
    note: Callable[[str], None],
) -> tuple[list[ItemResult], str | None]:
    """Every item through the pipeline; an eval that brings documents first gets its index."""
    from eval.corpus import ensure_index

    if options.index_dir is not None:
        settings = settings.model_copy(update={"index_dir": options.index_dir})
    embedder = engine.embedder(settings)
    index: str | None = None
    if chosen.documents is not None:
        index_dir = ensure_index(settings, chosen.name, chosen.documents, embedder)
        settings = settings.model_copy(update={"index_dir": index_dir})
        index = str(index_dir)
        note(f"eval index: {index_dir} ({len(chosen.documents)} documents)")
    target = PipelineTarget(engine.pipeline(settings, embedder), top_k=options.top_k)
    return run_eval(chosen.items, target, prompts=engine_prompts(), on_result=show), index


def _over_http(
    settings: Settings, options: EvalOptions, chosen: EvalSet, show: OnResult, engine: Engine
) -> tuple[list[ItemResult], list[dict[str, str]]]:
    """Every item the server can answer fairly through its API. An item needing a document
    the server lacks (an injected document, a SQuAD paragraph) is skipped with the reason;
    when none is left, that is an error naming how to serve the eval's own index."""
    import httpx

    headers = {}
    if settings.api_key_list:
        headers["Authorization"] = f"Bearer {settings.api_key_list[0]}"
    timeout = httpx.Timeout(settings.request_timeout_s + 30, connect=5.0)
    with httpx.Client(
        base_url=options.url or "", headers=headers, timeout=timeout, transport=engine.transport
    ) as client:
        try:
            client.get("/healthz").raise_for_status()
        except httpx.HTTPError as exc:
            raise InputError(f"cannot reach the server at {options.url} ({exc})") from exc
        present = _server_documents(client, options.url or "")
        asked = [item for item in chosen.items if item.needed_docs <= present]
        skipped = [
            {"id": item.id, "reason": _missing(item.needed_docs - present)}
            for item in chosen.items
            if not item.needed_docs <= present
        ]
        if not asked:
            raise InputError(
                f"the server at {options.url} lacks the documents every question needs "
                f"({skipped[0]['reason']}); serve the index an in-process `rag eval` of this "
                "dataset builds (its folder is printed as 'eval index:'), with RAG_INDEX_DIR"
            )
        target = HttpTarget(client, top_k=options.top_k)
        return run_eval(asked, target, prompts=engine_prompts(), on_result=show), skipped


def _server_documents(client: httpx.Client, url: str) -> frozenset[str]:
    import httpx

    try:
        response = client.get("/v1/documents")
        response.raise_for_status()
        return frozenset(doc["doc_id"] for doc in response.json()["documents"])
    except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"cannot list the documents of the server at {url} ({exc})") from exc


def _missing(doc_ids: frozenset[str]) -> str:
    shown = ", ".join(sorted(doc_ids)[:3]) + (" ..." if len(doc_ids) > 3 else "")
    return f"the server lacks {shown}"
