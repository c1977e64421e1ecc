"""The eval report: the JSON document, a console table, and a self-contained HTML page."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import Any

from eval.scoring import ItemResult, Summary, summarize, summarize_by_kind
from eval.squad_metrics import OFFICIAL_KEYS, OUR_KEYS, squad_summary

__all__ = ["Report", "build_report", "format_table", "render_html", "write_html", "write_json"]

# (key, column title) for the console table and the HTML summary.
COLUMNS = (
    ("n", "n"),
    ("answer_accuracy", "acc"),
    ("hit_at_1", "hit@1"),
    ("hit_at_5", "hit@5"),
    ("recall_at_5", "rec@5"),
    ("mrr", "MRR"),
    ("ndcg_at_5", "nDCG@5"),
    ("citation_precision", "cite P"),
    ("citation_recall", "cite R"),
    ("abstention_precision", "abst P"),
    ("abstention_recall", "abst R"),
    ("injection_resistance", "inject"),
    ("token_f1", "F1"),
    ("latency_p50_ms", "p50 ms"),
    ("latency_p95_ms", "p95 ms"),
)
# Rates drawn as per-kind bar charts in the HTML page.
CHARTED = (
    "answer_accuracy",
    "hit_at_5",
    "mrr",
    "citation_precision",
    "citation_recall",
    "abstention_recall",
    "injection_resistance",
    "token_f1",
)


@dataclass(frozen=True)
class Report:
    dataset: str
    target: str
    overall: Summary
    by_kind: Mapping[str, Summary]
    results: Sequence[ItemResult]
    model: str = ""
    created_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    split: str | None = None  # the split asked for; None: every item
    index: str | None = None  # the eval's own index folder, when it brought its documents
    skipped: Sequence[Mapping[str, str]] = ()  # items not asked, each with its reason
    squad: Mapping[str, float | int | None] | None = None  # official SQuAD 2.0 figures + ours

    def as_dict(self) -> dict[str, Any]:
        report: dict[str, Any] = {
            "dataset": self.dataset,
            "split": self.split,
            "target": self.target,
            "index": self.index,
            "model": self.model,
            "created_at": self.created_at,
            "overall": self.overall.as_dict(),
            "by_kind": {kind: s.as_dict() for kind, s in self.by_kind.items()},
        }
        if self.squad is not None:
            report["squad"] = dict(self.squad)
        report["skipped"] = [dict(s) for s in self.skipped]
        report["items"] = [r.as_dict() for r in self.results]
        return report


def build_report(
    results: Sequence[ItemResult],
    *,
    dataset: str,
    target: str,
    split: str | None = None,
    index: str | None = None,
    skipped: Sequence[Mapping[str, str]] = (),
    squad: bool = False,
) -> Report:
    models = sorted({r.observation.model for r in results if r.observation.model})
    return Report(
        dataset=dataset,
        target=target,
        overall=summarize(results),
        by_kind=summarize_by_kind(results),
        results=results,
        model=", ".join(models),
        split=split,
        index=index,
        skipped=skipped,
        squad=squad_summary(results) if squad else None,
    )


def write_json(report: Mapping[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def write_html(report: Mapping[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(report), encoding="utf-8")


def format_table(report: Mapping[str, Any]) -> str:
    """The summary as a plain-text table: one row overall, one per kind."""
    rows = [("overall", report["overall"]), *report["by_kind"].items()]
    header = ["kind"] + [title for _, title in COLUMNS]
    body = [[name] + [_cell(summary.get(key), key) for key, _ in COLUMNS] for name, summary in rows]
    widths = [max(len(row[i]) for row in [header, *body]) for i in range(len(header))]
    lines = [_line(header, widths), "  ".join("-" * w for w in widths)]
    lines += [_line(row, widths) for row in body]
    overall = report["overall"]
    split = f"; split {report['split']}" if report.get("split") else ""
    lines.append(
        f"answerable accuracy {_cell(overall.get('answer_accuracy_answerable'), 'rate')}; "
        f"conflicting values {overall.get('conflicting', 0)}; "
        f"degraded {overall.get('degraded', 0)}; errors {overall.get('errors', 0)}; "
        f"model {report.get('model') or '?'}; target {report.get('target', '?')}{split}"
    )
    if report.get("squad"):
        lines += _squad_lines(report["squad"])
    if report.get("skipped"):
        lines.append(f"skipped {len(report['skipped'])}: {report['skipped'][0]['reason']}")
    return "\n".join(lines)


def _squad_lines(squad: Mapping[str, Any]) -> list[str]:
    official = "  ".join(f"{key} {_official(squad.get(key))}" for key in OFFICIAL_KEYS)
    ours = "  ".join(f"{key} {_cell(squad.get(key), 'rate')}" for key in OUR_KEYS)
    return [f"SQuAD 2.0 (official, %): {official}", f"SQuAD 2.0 (ours): {ours}"]


def _official(value: Any) -> str:
    if value is None:
        return "-"
    return str(value) if isinstance(value, int) else f"{float(value):.2f}"


def render_html(report: Mapping[str, Any]) -> str:
    """One page, no external assets: summary table, per-kind bar charts, every miss."""
    items = report["items"]
    misses = [i for i in items if not i["verdict"]["correct"]]
    partial = [i for i in items if i["verdict"]["correct"] and i["verdict"]["reasons"]]
    title = f"Eval report: {report.get('model') or 'engine'}"
    return _PAGE.format(
        title=escape(title),
        meta=escape(
            f"{report.get('created_at', '')} · dataset {report.get('dataset', '')}"
            + (f" ({report['split']} split)" if report.get("split") else "")
            + " · "
            f"target {report.get('target', '')} · {len(items)} questions, {len(misses)} missed"
        ),
        summary=_summary_table(report) + _squad_table(report) + _skipped(report),
        charts="".join(_chart(report["by_kind"], key) for key in CHARTED),
        misses="".join(_item_block(i) for i in misses) or "<p>No misses.</p>",
        partial="".join(_item_block(i) for i in partial) or "<p>None.</p>",
        n_misses=len(misses),
        n_partial=len(partial),
    )


def _cell(value: Any, key: str) -> str:
    if value is None:
        return "-"
    if key == "n" or isinstance(value, int):
        return str(value)
    if key.endswith("_ms"):
        return f"{float(value):.0f}"
    return f"{float(value):.2f}"


def _line(cells: Sequence[str], widths: Sequence[int]) -> str:
    first = cells[0].ljust(widths[0])
    rest = [cell.rjust(width) for cell, width in zip(cells[1:], widths[1:], strict=True)]
    return "  ".join([first, *rest])


def _summary_table(report: Mapping[str, Any]) -> str:
    rows = [("overall", report["overall"]), *report["by_kind"].items()]
    head = "".join(f"<th>{escape(title)}</th>" for _, title in COLUMNS)
    body = "".join(
        f"<tr><th>{escape(name)}</th>"
        + "".join(f"<td>{_cell(s.get(key), key)}</td>" for key, _ in COLUMNS)
        + "</tr>"
        for name, s in rows
    )
    accuracy = _cell(report["overall"].get("answer_accuracy_answerable"), "rate")
    return (
        f"<table><tr><th>kind</th>{head}</tr>{body}</table>"
        f"<p>Answer accuracy on answerable questions: <b>{accuracy}</b></p>"
    )


def _squad_table(report: Mapping[str, Any]) -> str:
    squad = report.get("squad")
    if not squad:
        return ""
    official = "".join(
        f"<tr><th>{escape(key)}</th><td>{_official(squad.get(key))}</td></tr>"
        for key in OFFICIAL_KEYS
    )
    ours = "".join(
        f"<tr><th>{escape(key)}</th><td>{_cell(squad.get(key), 'rate')}</td></tr>"
        for key in OUR_KEYS
    )
    return (
        "<h2>SQuAD 2.0</h2><p>Official figures (percent; an abstention is the empty "
        "prediction):</p>"
        f"<table>{official}</table><p>Ours (share of questions):</p><table>{ours}</table>"
    )


def _skipped(report: Mapping[str, Any]) -> str:
    skipped = report.get("skipped") or []
    if not skipped:
        return ""
    rows = "".join(
        f"<li><code>{escape(s['id'])}</code>: {escape(s['reason'])}</li>" for s in skipped
    )
    return f"<h2>Not asked ({len(skipped)})</h2><ul>{rows}</ul>"


def _chart(by_kind: Mapping[str, Mapping[str, Any]], key: str) -> str:
    """A horizontal bar per kind, inline SVG; kinds where the metric is undefined are left out."""
    bars = [(kind, float(s[key])) for kind, s in by_kind.items() if s.get(key) is not None]
    if not bars:
        return ""
    row, label_w, bar_w = 22, 110, 220
    height = row * len(bars) + 8
    parts = []
    for index, (kind, value) in enumerate(bars):
        y = 4 + index * row
        width = max(0.0, min(1.0, value)) * bar_w
        colour = "#2e7d32" if value >= 0.85 else "#f9a825" if value >= 0.5 else "#c62828"
        parts.append(
            f'<text x="0" y="{y + 14}">{escape(kind)}</text>'
            f'<rect x="{label_w}" y="{y}" width="{bar_w}" height="16" fill="#eee"/>'
            f'<rect x="{label_w}" y="{y}" width="{width:.1f}" height="16" fill="{colour}"/>'
            f'<text x="{label_w + bar_w + 6}" y="{y + 14}">{value:.2f}</text>'
        )
    svg = (
        f'<svg width="{label_w + bar_w + 50}" height="{height}" role="img" '
        f'aria-label="{escape(key)} by kind">{"".join(parts)}</svg>'
    )
    return f"<figure><figcaption>{escape(key)}</figcaption>{svg}</figure>"


def _item_block(item: Mapping[str, Any]) -> str:
    verdict = item["verdict"]
    citations = "".join(
        f"<li>[{c['n']}] <code>{escape(c['doc_id'])}</code>"
        + (f" (also in {escape(', '.join(c['also_in']))})" if c.get("also_in") else "")
        + f": {escape(_clip(c['text'], 300))}</li>"
        for c in item["citations"]
    )
    history = "".join(
        f"<div class=hist>{escape(t['role'])}: {escape(t['content'])}</div>"
        for t in item.get("history", [])
    )
    expected = ", ".join(item.get("answers", [])) or "(abstain or resist)"
    return (
        f'<section class=item id="{escape(item["id"])}">'
        f"<h3>{escape(item['id'])} <small>{escape(item['kind'])}</small></h3>"
        f"{history}<p class=q>Q: {escape(item['question'])}</p>"
        f"<p>A: {escape(item['answer'] or '(no answer)')}"
        + (" <b>[abstained]</b>" if item["abstained"] else "")
        + (" <b>[degraded]</b>" if item.get("degraded") else "")
        + "</p>"
        f"<p>Expected: {escape(expected)}</p>"
        f"<p>Gold docs: <code>{escape(', '.join(item['gold_docs']) or '-')}</code>; "
        f"retrieved: <code>{escape(_ranks(item['retrieved'][:5]))}</code></p>"
        f"<ul>{citations or '<li>no citations</li>'}</ul>"
        f"<p class=why>{escape('; '.join(verdict['reasons']) or 'miss')} "
        + (f"· F1 {verdict['token_f1']:.2f} " if verdict.get("token_f1") is not None else "")
        + f"· {item['latency_ms']:.0f} ms</p></section>"
    )


def _ranks(ranks: Sequence[Sequence[str]]) -> str:
    return " > ".join(" = ".join(docs) for docs in ranks) or "-"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }}
table {{ border-collapse: collapse; font-variant-numeric: tabular-nums; }}
th, td {{ padding: 3px 8px; border-bottom: 1px solid #ddd; text-align: right; }}
tr th:first-child {{ text-align: left; }}
figure {{ display: inline-block; margin: 8px 16px 8px 0; }}
figcaption {{ font-weight: 600; }}
svg text {{ font-size: 12px; }}
.item {{ border-left: 4px solid #c62828; padding: 2px 12px; margin: 12px 0; background: #fafafa; }}
.partial .item {{ border-color: #f9a825; }}
.q {{ font-weight: 600; }} .hist {{ color: #666; }} .why {{ color: #c62828; }}
code {{ font-size: 12px; }}
</style></head><body>
<h1>{title}</h1><p>{meta}</p>
<h2>Summary</h2>{summary}
<h2>By kind</h2>{charts}
<h2>Misses ({n_misses})</h2>{misses}
<h2>Right answers with a failed check ({n_partial})</h2><div class=partial>{partial}</div>
</body></html>
"""
