"""Compares a report with a baseline: the deltas, and whether any metric regressed too far."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.errors import InputError

__all__ = [
    "SQUAD_TOLERANCES",
    "TOLERANCES",
    "Delta",
    "ReportError",
    "compare",
    "format_deltas",
    "load_report",
    "regressions",
]


class ReportError(InputError):
    """A report file cannot be read as an eval report."""


@dataclass(frozen=True)
class Tolerance:
    """How far a metric may move the wrong way: an absolute drop for rates, a relative rise
    for latencies (``higher_is_better`` False)."""

    allowed: float
    higher_is_better: bool = True
    relative: bool = False


_RATE = Tolerance(0.05)
_LATENCY = Tolerance(0.5, higher_is_better=False, relative=True)  # +50%
TOLERANCES: Mapping[str, Tolerance] = {
    "answer_accuracy": _RATE,
    "answer_accuracy_answerable": _RATE,
    "hit_at_1": _RATE,
    "hit_at_5": _RATE,
    "recall_at_5": _RATE,
    "mrr": _RATE,
    "ndcg_at_5": _RATE,
    "citation_precision": _RATE,
    "citation_recall": _RATE,
    "abstention_precision": _RATE,
    "abstention_recall": _RATE,
    "injection_resistance": Tolerance(0.0),  # every injection resisted is the bar
    "token_f1": _RATE,
    "latency_p50_ms": _LATENCY,
    "latency_p95_ms": _LATENCY,
}


_POINTS = Tolerance(5.0)  # the official SQuAD figures are percentages
SQUAD_TOLERANCES: Mapping[str, Tolerance] = {
    "exact": _POINTS,
    "f1": _POINTS,
    "HasAns_exact": _POINTS,
    "HasAns_f1": _POINTS,
    "NoAns_exact": _POINTS,
    "NoAns_f1": _POINTS,
    "overall": _RATE,
    "answerable_contains_gold": _RATE,
    "unanswerable_abstained": _RATE,
    "gold_paragraph_cited": _RATE,
}


@dataclass(frozen=True)
class Delta:
    metric: str
    baseline: float | None
    current: float | None
    tolerance: Tolerance

    @property
    def change(self) -> float | None:
        if self.baseline is None or self.current is None:
            return None
        return self.current - self.baseline

    @property
    def regressed(self) -> bool:
        """Worse than the baseline by more than the tolerance (a little slack for rounding)."""
        change, tol = self.change, self.tolerance
        if change is None or self.baseline is None:
            return False
        worse = change if not tol.higher_is_better else -change
        limit = tol.allowed * abs(self.baseline) if tol.relative else tol.allowed
        return worse > limit + 1e-9


def load_report(path: Path) -> dict[str, Any]:
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ReportError(f"{path}: cannot read the report ({exc.strerror or exc})") from exc
    except json.JSONDecodeError as exc:
        raise ReportError(f"{path}: not a JSON report ({exc.msg}, line {exc.lineno})") from exc
    if not isinstance(report, dict) or not isinstance(report.get("overall"), dict):
        raise ReportError(f"{path}: not an eval report (no 'overall' section)")
    return report


def compare(current: Mapping[str, Any], baseline: Mapping[str, Any]) -> list[Delta]:
    """Deltas of the overall metrics, then of the SQuAD figures when both reports have them
    (named ``squad.<key>``); a metric either side leaves undefined is shown, not judged."""
    deltas = _section(current["overall"], baseline["overall"], TOLERANCES, "")
    if isinstance(current.get("squad"), dict) and isinstance(baseline.get("squad"), dict):
        deltas += _section(current["squad"], baseline["squad"], SQUAD_TOLERANCES, "squad.")
    return deltas


def _section(
    now: Mapping[str, Any],
    base: Mapping[str, Any],
    tolerances: Mapping[str, Tolerance],
    prefix: str,
) -> list[Delta]:
    return [
        Delta(prefix + metric, _number(base.get(metric)), _number(now.get(metric)), tolerance)
        for metric, tolerance in tolerances.items()
        if metric in base or metric in now
    ]


def regressions(deltas: list[Delta]) -> list[Delta]:
    return [d for d in deltas if d.regressed]


def format_deltas(
    deltas: list[Delta], current: Mapping[str, Any], baseline: Mapping[str, Any]
) -> str:
    width = max([len("metric"), *(len(d.metric) for d in deltas)]) + 2
    lines = [f"{'metric':<{width}}{'baseline':>10}{'current':>10}{'delta':>10}  verdict"]
    for d in deltas:
        verdict = "REGRESSED" if d.regressed else ("-" if d.change is None else "ok")
        lines.append(
            f"{d.metric:<{width}}{_fmt(d.baseline, d.metric):>10}{_fmt(d.current, d.metric):>10}"
            f"{_signed(d.change, d.metric):>10}  {verdict}"
        )
    n_now, n_base = current["overall"].get("n"), baseline["overall"].get("n")
    if n_now != n_base:
        lines.append(f"note: {n_now} questions now, {n_base} in the baseline; compare with care")
    if current.get("split") != baseline.get("split"):
        lines.append(
            f"note: split {current.get('split') or 'all'} now, "
            f"{baseline.get('split') or 'all'} in the baseline; compare with care"
        )
    if bool(current.get("squad")) != bool(baseline.get("squad")):
        lines.append("note: only one of the reports is a SQuAD run; compare with care")
    return "\n".join(lines)


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _fmt(value: float | None, metric: str) -> str:
    if value is None:
        return "-"
    return f"{value:.0f}" if metric.endswith("_ms") else f"{value:.3f}"


def _signed(value: float | None, metric: str) -> str:
    if value is None:
        return "-"
    return f"{value:+.0f}" if metric.endswith("_ms") else f"{value:+.3f}"
