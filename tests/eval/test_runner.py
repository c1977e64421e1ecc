"""The runner asks a real pipeline (fake models) in-process and over HTTP, and scores it."""

from __future__ import annotations

from pathlib import Path

import httpx
from fastapi.testclient import TestClient

from eval.dataset import EvalItem, default_dataset_path, load_dataset
from eval.report import build_report
from eval.runner import HttpTarget, PipelineTarget, engine_prompts, run_eval
from rag.types import Message
from tests.eval.conftest import PipelineFactory, eval_settings
from tests.fakes import ScriptedLLM, cite_first_passage

SEED_IDS = {path.stem for path in (Path(__file__).resolve().parents[2] / "seeds").glob("*.txt")}
FOLLOWUP = EvalItem(
    "follow",
    "How many Palestinian prisoners were released during it?",
    "followup",
    ("more than 1,000",),
    ("000_c04850de3b1b0f05", "001_e2ebf3ea3f42602b"),
    accept=(r"\b1,?000\b",),
    history=(
        Message("user", "How long did the first phase of the ceasefire last?"),
        Message("assistant", "The first phase lasted 42 days [1]."),
    ),
)


def found(ranks: tuple[tuple[str, ...], ...]) -> set[str]:
    return {doc for docs in ranks for doc in docs}


def one_of_each_kind() -> list[EvalItem]:
    items = load_dataset(default_dataset_path())
    return [
        next(i for i in items if i.kind == kind) for kind in dict.fromkeys(i.kind for i in items)
    ]


def test_in_process_run_scores_every_kind(make_pipeline: PipelineFactory) -> None:
    items = one_of_each_kind()
    seen: list[str] = []
    results = run_eval(
        items,
        PipelineTarget(make_pipeline()),
        prompts=engine_prompts(),
        on_result=lambda r: seen.append(r.item.id),
    )
    assert seen == [i.id for i in items]
    for result in results:
        obs = result.observation
        assert obs.error is None, obs.error
        assert obs.answer and obs.latency_ms > 0
        assert obs.model == "fake/scripted"
        assert found(obs.retrieved) <= SEED_IDS
        assert {c.doc_id for c in obs.citations} <= SEED_IDS
        if result.item.gold_docs:
            assert obs.retrieved, result.item.id
            assert result.verdict.hit_at_5 is not None
    report = build_report(results, dataset="news.jsonl", target="in-process").as_dict()
    assert report["overall"]["n"] == len(items)
    assert set(report["by_kind"]) == {i.kind for i in items}
    assert len(report["items"]) == len(items)


def test_in_process_followup_is_answered_with_its_history(make_pipeline: PipelineFactory) -> None:
    llm = ScriptedLLM(cite_first_passage)
    [result] = run_eval([FOLLOWUP], PipelineTarget(make_pipeline(llm)))
    standalone = result.observation.standalone_question
    assert standalone is not None and standalone != FOLLOWUP.question
    assert found(result.observation.retrieved) & set(FOLLOWUP.gold_docs)


def test_over_http_a_followup_asks_its_history_first_in_one_conversation(
    make_pipeline: PipelineFactory, tmp_path: Path
) -> None:
    from api.app import create_app

    llm = ScriptedLLM(cite_first_passage)
    app = create_app(eval_settings(tmp_path), pipeline=make_pipeline(llm))
    with TestClient(app) as client:
        [result] = run_eval([FOLLOWUP], HttpTarget(client))
    assert result.observation.error is None, result.observation.error
    assert result.observation.answer
    asked = [call[-1].content for call in llm.calls]
    assert len(asked) == 2
    assert "first phase" in asked[0]  # the history's question, asked first
    # The follow-up was rewritten with the earlier turn, so the server used the conversation.
    assert result.observation.standalone_question not in (None, FOLLOWUP.question)
    assert found(result.observation.retrieved) <= SEED_IDS


def test_over_http_a_failing_server_is_a_miss_and_the_run_goes_on() -> None:
    def server(request: httpx.Request) -> httpx.Response:
        if b"fails" in request.content:
            return httpx.Response(503, json={"error": {"code": "busy", "message": "queue full"}})
        if request.url.path == "/v1/search":
            return httpx.Response(200, json={"results": [{"doc_id": "d1", "also_in": ["d2"]}]})
        body = {
            "answer": "Witkoff [1].",
            "abstained": False,
            "citations": [{"n": 1, "doc_id": "d2", "title": "t", "text": "Steve Witkoff"}],
            "model": "fake",
            "degraded": False,
        }
        return httpx.Response(200, json=body)

    client = httpx.Client(transport=httpx.MockTransport(server), base_url="http://engine")
    items = [
        EvalItem("bad", "this fails", "factoid", ("x",), ("d1",)),
        EvalItem("good", "Who is the envoy?", "factoid", ("Witkoff",), ("d2",)),
    ]
    bad, good = run_eval(items, HttpTarget(client))
    assert bad.observation.error is not None and "503" in bad.observation.error
    assert not bad.verdict.correct
    assert good.verdict.correct
    assert good.observation.retrieved == (("d1", "d2"),)  # a near-duplicate ranks with its passage
    assert good.verdict.hit_at_1 == 1.0
