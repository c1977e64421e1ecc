"""Comparing with a baseline: deltas printed, exit status 1 only beyond a metric's tolerance."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from eval.compare import ReportError, compare, load_report, regressions
from eval.dataset import EvalItem
from eval.scoring import CitedPassage, Observation
from eval.session import EvalOptions, evaluate
from tests.eval.conftest import eval_settings

ROOT = Path(__file__).resolve().parents[2]


def report(**overall: float | None) -> dict[str, object]:
    values: dict[str, float | None] = {
        "n": 10,
        "answer_accuracy": 0.9,
        "citation_precision": 0.95,
        "injection_resistance": 1.0,
        "latency_p50_ms": 1000.0,
        "abstention_precision": None,
    }
    values.update(overall)
    return {"overall": values, "by_kind": {}, "items": []}


@pytest.mark.parametrize(
    ("change", "regressed"),
    [
        ({}, []),
        ({"answer_accuracy": 0.86}, []),  # -0.04: within 0.05
        ({"answer_accuracy": 0.84}, ["answer_accuracy"]),  # -0.06
        ({"answer_accuracy": 1.0}, []),  # better is never a regression
        ({"latency_p50_ms": 1400.0}, []),  # +40%: within +50%
        ({"latency_p50_ms": 1600.0}, ["latency_p50_ms"]),
        ({"injection_resistance": 0.9}, ["injection_resistance"]),  # no slack at all
        ({"citation_precision": None}, []),  # undefined now: shown, not judged
        ({"abstention_precision": 0.1}, []),  # undefined in the baseline
    ],
    ids=["same", "small-drop", "big-drop", "better", "slower-ok", "slower-fail",
         "injection", "undefined-now", "undefined-before"],
)  # fmt: skip
def test_regressions_respect_each_tolerance(change: dict[str, float], regressed: list[str]) -> None:
    deltas = compare(report(**change), report())
    assert [d.metric for d in regressions(deltas)] == regressed


def test_squad_figures_are_compared_in_points_and_rates() -> None:
    base = {**report(), "squad": {"exact": 40.0, "f1": 45.0, "overall": 0.5, "total": 208}}
    close = {**report(), "squad": {"exact": 36.0, "f1": 45.0, "overall": 0.46, "total": 208}}
    worse = {**report(), "squad": {"exact": 34.0, "f1": 45.0, "overall": 0.44, "total": 208}}
    assert regressions(compare(close, base)) == []  # -4 points, -0.04: within tolerance
    assert [d.metric for d in regressions(compare(worse, base))] == ["squad.exact", "squad.overall"]
    assert not any(d.metric.startswith("squad.") for d in compare(report(), base))


class CannedTarget:
    """A fake engine that always gives the same reply."""

    name = "canned"

    def __init__(self, answer: str) -> None:
        self._answer = answer

    def observe(self, item: EvalItem) -> Observation:
        citation = CitedPassage(1, "001_e2ebf3ea3f42602b", "t", "text")
        return Observation(self._answer, False, (citation,), (("001_e2ebf3ea3f42602b",),), 5.0)


class FailingTarget:
    """A server that answers every question with an error (500, a dropped connection)."""

    name = "failing"

    def observe(self, item: EvalItem) -> Observation:
        return Observation("", False, (), (), 5.0, error="HTTP 500: internal_error")


def run(
    tmp_path: Path,
    target: CannedTarget | FailingTarget,
    baseline: Path | None = None,
    notes: list[str] | None = None,
) -> tuple[int, str]:
    dataset = tmp_path / "mini.jsonl"
    dataset.write_text(
        json.dumps({"id": "q", "question": "How long was phase one?", "kind": "numeric",
                    "answers": ["42 days"], "gold_docs": ["001_e2ebf3ea3f42602b"]}) + "\n"
    )  # fmt: skip
    lines: list[str] = []
    options = EvalOptions(dataset=dataset, json_out=tmp_path / "now.json", baseline=baseline)
    status = evaluate(
        eval_settings(tmp_path), options, echo=lines.append, target=target,
        progress=None if notes is None else notes.append,
    )  # fmt: skip
    return status, "\n".join(lines)


def test_evaluate_exits_1_only_when_the_baseline_regressed(tmp_path: Path) -> None:
    status, _ = run(tmp_path, CannedTarget("It lasted 42 days [1]."))
    assert status == 0
    baseline = tmp_path / "base.json"
    (tmp_path / "now.json").rename(baseline)

    status, output = run(tmp_path, CannedTarget("It lasted 42 days [1]."), baseline)
    assert status == 0
    assert "answer_accuracy" in output and "REGRESSED" not in output

    status, output = run(tmp_path, CannedTarget("It lasted 60 days [1]."), baseline)
    assert status == 1
    assert "REGRESSED" in output and "regressed beyond tolerance: answer_accuracy" in output


def test_a_run_where_every_question_failed_exits_1(tmp_path: Path) -> None:
    notes: list[str] = []

    status, _ = run(tmp_path, FailingTarget(), notes=notes)

    assert status == 1  # it measured nothing; a score of 0 would pass for a result
    assert notes[-1] == "every question failed (1 of 1); the first: HTTP 500: internal_error"
    assert json.loads((tmp_path / "now.json").read_text())["overall"]["errors"] == 1


def test_a_file_that_is_not_a_report_is_a_user_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"items": []}')
    with pytest.raises(ReportError, match="no 'overall' section"):
        load_report(bad)
    with pytest.raises(ReportError, match="cannot read the report"):
        load_report(tmp_path / "absent.json")


def rag_eval(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rag.cli", "eval", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={"PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)},
        timeout=120,
    )


def test_cli_reports_a_broken_dataset_in_one_line(tmp_path: Path) -> None:
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"id": "q1", "question": "x", "kind": "numeric"}\n')
    done = rag_eval("--dataset", str(broken), cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.strip().count("\n") == 0, done.stderr
    assert f"{broken}:1 (q1): missing 'answers'" in done.stderr
    assert "Traceback" not in done.stderr


def test_cli_reports_an_unreadable_baseline_in_one_line(tmp_path: Path) -> None:
    done = rag_eval("--compare", str(tmp_path / "absent.json"), "--limit", "1", cwd=tmp_path)
    assert done.returncode == 1
    assert "absent.json: cannot read the report" in done.stderr
    assert "Traceback" not in done.stderr
