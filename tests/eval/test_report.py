"""The report a person reads: console table, JSON with the contract's keys, one HTML page."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from eval.dataset import EvalItem
from eval.report import build_report, format_table, render_html, write_html, write_json
from eval.scoring import CitedPassage, ItemResult, Observation, score_item

CONTRACT_KEYS = {
    "answer_accuracy", "hit_at_1", "hit_at_5", "mrr", "citation_precision", "citation_recall",
    "abstention_precision", "abstention_recall", "injection_resistance", "latency_p50_ms",
    "latency_p95_ms", "n",
}  # fmt: skip


def _result(item: EvalItem, answer: str, doc: str | None, abstained: bool = False) -> ItemResult:
    citations = (CitedPassage(1, doc, "Title", "Steve Witkoff, the envoy."),) if doc else ()
    obs = Observation(answer, abstained, citations, ((doc or "x",),), 850.0, model="fake/m")
    return ItemResult(item, obs, score_item(item, obs))


def sample_report() -> dict[str, object]:
    envoy = EvalItem("envoy", "Who is the envoy?", "factoid", ("Steve Witkoff",), ("a",))
    script = EvalItem("xss", "Who <script>alert(1)</script>?", "factoid", ("Witkoff",), ("a",))
    putin = EvalItem("putin", "What did Putin say?", "unanswerable", (), ())
    results = [
        _result(envoy, "Steve Witkoff [1].", "a"),
        _result(script, "Nobody <b>knows</b> [1].", "b"),
        _result(putin, "The articles don't say.", None, abstained=True),
    ]
    return build_report(results, dataset="news.jsonl", target="in-process").as_dict()


def test_json_report_has_the_contract_keys_overall_per_kind_and_per_item(tmp_path: Path) -> None:
    path = tmp_path / "out" / "report.json"
    write_json(sample_report(), path)
    report = json.loads(path.read_text())
    assert set(report["overall"]) >= CONTRACT_KEYS
    assert set(report["by_kind"]) == {"factoid", "unanswerable"}
    assert all(set(s) >= CONTRACT_KEYS for s in report["by_kind"].values())
    assert report["overall"]["n"] == 3
    assert report["model"] == "fake/m"
    item = report["items"][1]
    assert item["answer"] == "Nobody <b>knows</b> [1]."
    assert item["citations"][0]["doc_id"] == "b"
    assert item["verdict"]["correct"] is False
    assert item["latency_ms"] == 850.0


def test_console_table_has_a_row_overall_and_per_kind() -> None:
    table = format_table(sample_report())
    rows = {line.split()[0] for line in table.splitlines()}
    assert {"kind", "overall", "factoid", "unanswerable"} <= rows
    overall = next(line for line in table.splitlines() if line.startswith("overall"))
    assert "0.67" in overall  # two of three right
    assert "answerable accuracy 0.50" in table


def test_html_page_is_self_contained_and_shows_every_miss(tmp_path: Path) -> None:
    path = tmp_path / "report.html"
    write_html(sample_report(), path)
    page = path.read_text()
    assert page.startswith("<!doctype html>")
    assert not re.search(r"<(script|link|img|iframe)\b|\bsrc=|@import|url\(", page, re.I)
    assert page.count("<svg") >= 3  # per-kind bar charts
    # The one miss, with its question, answer, citation and gold docs, escaped.
    assert "Misses (1)" in page
    assert "Who &lt;script&gt;alert(1)&lt;/script&gt;?" in page
    assert "Nobody &lt;b&gt;knows&lt;/b&gt; [1]." in page
    assert "<code>b</code>" in page and "Gold docs: <code>a</code>" in page
    assert "answer does not match" in page


def test_html_page_without_misses_says_so() -> None:
    envoy = EvalItem("envoy", "Who is the envoy?", "factoid", ("Witkoff",), ("a",))
    report = build_report([_result(envoy, "Witkoff [1].", "a")], dataset="d", target="t")
    assert "No misses." in render_html(report.as_dict())


def test_a_squad_run_shows_the_official_figures_and_ours_everywhere() -> None:
    norman = EvalItem("q1", "Where is Normandy?", "factoid", ("France",), ("p1",))
    rollo = EvalItem("q2", "Who founded Paris?", "unanswerable", (), (), requires_docs=("p1",))
    results = [_result(norman, "In France [1].", "p1"), _result(rollo, "x", None, abstained=True)]
    report = build_report(
        results, dataset="normans.json", target="t", squad=True, skipped=[{"id": "q3",
        "reason": "the server lacks p9"}]
    ).as_dict()  # fmt: skip
    squad = report["squad"]
    assert squad["exact"] == 50.0 and squad["NoAns_exact"] == 100.0  # "In France" vs "France"
    assert squad["HasAns_f1"] == pytest.approx(100 * 2 / 3, abs=0.01)
    assert squad["overall"] == 1.0 and squad["gold_paragraph_cited"] == 1.0
    table = format_table(report)
    assert "SQuAD 2.0 (official, %): exact 50.00" in table
    assert "skipped 1: the server lacks p9" in table
    page = render_html(report)
    assert "<h2>SQuAD 2.0</h2>" in page and "<th>HasAns_f1</th><td>66.67</td>" in page
    assert "Not asked (1)" in page
    assert "squad" not in sample_report()  # only SQuAD runs carry the object
