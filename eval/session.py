"""One ``rag eval`` run: load the questions, ask the engine, score, write reports, compare."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from eval.compare import compare, format_deltas, load_report, regressions
from eval.dataset import EvalItem, default_dataset_path, load_dataset, select_items
from eval.report import build_report, format_table, write_html, write_json
from eval.runner import HttpTarget, PipelineTarget, Target, engine_prompts, run_eval
from eval.scoring import ItemResult
from rag.errors import InputError
from rag.settings import Settings

__all__ = ["EvalOptions", "evaluate"]

OnResult = Callable[[ItemResult], None]


@dataclass(frozen=True)
class EvalOptions:
    dataset: Path | None = None  # None: the packaged news.jsonl
    url: str | None = None  # a running server; None: the pipeline in-process
    json_out: Path | None = None
    html_out: Path | None = None
    baseline: Path | None = None
    limit: int | None = None
    kinds: Sequence[str] = ()
    top_k: int | None = None


def evaluate(
    settings: Settings,
    options: EvalOptions,
    *,
    echo: Callable[[str], None],
    progress: Callable[[str], None] | None = None,
    target: Target | None = None,
) -> int:
    """Run the eval and print the table; the exit status is 1 when the baseline regressed.

    ``target`` replaces the engine named by the options (tests pass one over a fake pipeline).
    """
    dataset = options.dataset or default_dataset_path()
    items = select_items(load_dataset(dataset), kinds=options.kinds, limit=options.limit)
    baseline = load_report(options.baseline) if options.baseline else None  # fail early

    def show(result: ItemResult) -> None:
        if progress is not None:
            obs = result.observation
            mark = "ok  " if result.verdict.correct else "MISS"
            notes = " abstained" * obs.abstained + " degraded" * obs.degraded
            line = f"{mark} {result.item.kind:<12} {result.item.id:<36} {obs.latency_ms:>7.0f} ms"
            progress(line + notes)

    if target is not None:
        results = run_eval(items, target, prompts=engine_prompts(), on_result=show)
    elif options.url:
        results = _over_http(settings, options, items, show)
    else:
        results = _in_process(settings, options, items, show)

    from eval.judge import judge_results, load_judge

    judge = load_judge(settings)
    if judge is not None:
        results = judge_results(results, judge)

    name = target.name if target is not None else options.url or "in-process"
    report = build_report(results, dataset=str(dataset), target=name).as_dict()
    echo(format_table(report))
    if options.json_out:
        write_json(report, options.json_out)
        echo(f"wrote {options.json_out}")
    if options.html_out:
        write_html(report, options.html_out)
        echo(f"wrote {options.html_out}")
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
    settings: Settings, options: EvalOptions, items: Sequence[EvalItem], show: OnResult
) -> list[ItemResult]:
    from rag.components import load_pipeline

    target = PipelineTarget(load_pipeline(settings), top_k=options.top_k)
    return run_eval(items, target, prompts=engine_prompts(), on_result=show)


def _over_http(
    settings: Settings, options: EvalOptions, items: Sequence[EvalItem], show: OnResult
) -> list[ItemResult]:
    import httpx

    headers = {}
    if settings.api_key_list:
        headers["Authorization"] = f"Bearer {settings.api_key_list[0]}"
    timeout = httpx.Timeout(settings.request_timeout_s + 30, connect=5.0)
    with httpx.Client(base_url=options.url or "", headers=headers, timeout=timeout) as client:
        try:
            client.get("/healthz").raise_for_status()
        except httpx.HTTPError as exc:
            raise InputError(f"cannot reach the server at {options.url} ({exc})") from exc
        target = HttpTarget(client, top_k=options.top_k)
        return run_eval(items, target, prompts=engine_prompts(), on_result=show)
