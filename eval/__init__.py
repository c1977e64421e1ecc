"""Offline evaluation: a question set, the engine's answers, and how good they were."""

from eval.compare import compare, load_report, regressions
from eval.dataset import EvalItem, default_dataset_path, load_dataset, select_items
from eval.report import build_report, format_table, render_html
from eval.runner import HttpTarget, PipelineTarget, run_eval

__all__ = [
    "EvalItem",
    "HttpTarget",
    "PipelineTarget",
    "build_report",
    "compare",
    "default_dataset_path",
    "format_table",
    "load_dataset",
    "load_report",
    "regressions",
    "render_html",
    "run_eval",
    "select_items",
]
