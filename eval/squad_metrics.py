"""The official SQuAD 2.0 metric (exact match and token F1), and our figures beside it.

``normalize``, ``exact``, ``f1`` and ``official_scores`` follow the official
``evaluate-v2.0.py`` line for line: lower case, ASCII punctuation removed, the articles
a/an/the removed, whitespace collapsed; the score of a question is the maximum over its gold
answers; an unanswerable question's only gold answer is the empty string, so the empty
prediction scores 1 on it and anything else 0. Figures are percentages, as the script prints
them; with no no-answer probabilities, its thresholding changes nothing and is left out.

Our prediction for a question is the answer text without its ``[n]`` markers, and the empty
string when the engine abstained. A failed request scores 0 whatever the question (the
official script would drop it from the total, which would flatter a flaky server).
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from eval.scoring import ItemResult

__all__ = [
    "OFFICIAL_KEYS",
    "OUR_KEYS",
    "contains_gold",
    "exact",
    "f1",
    "max_over_gold",
    "normalize",
    "official_scores",
    "prediction",
    "squad_summary",
]

OFFICIAL_KEYS = (
    "exact",
    "f1",
    "total",
    "HasAns_exact",
    "HasAns_f1",
    "HasAns_total",
    "NoAns_exact",
    "NoAns_f1",
    "NoAns_total",
)
OUR_KEYS = (
    "overall",
    "answerable_contains_gold",
    "unanswerable_abstained",
    "gold_paragraph_cited",
)
_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_PUNCTUATION = frozenset(string.punctuation)
_MARKER = re.compile(r"\[\d+(?:\s*,\s*\d+)*\]")


def normalize(text: str) -> str:
    """The official normalisation: lower case, no punctuation, no articles, single spaces."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def exact(gold: str, predicted: str) -> int:
    return int(normalize(gold) == normalize(predicted))


def f1(gold: str, predicted: str) -> float:
    gold_tokens = normalize(gold).split() if gold else []
    predicted_tokens = normalize(predicted).split() if predicted else []
    if not gold_tokens or not predicted_tokens:
        # Either side is "no answer": 1 when both are, else 0.
        return float(gold_tokens == predicted_tokens)
    same = sum((Counter(gold_tokens) & Counter(predicted_tokens)).values())
    if same == 0:
        return 0.0
    precision = same / len(predicted_tokens)
    recall = same / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def max_over_gold(golds: Sequence[str], predicted: str) -> tuple[int, float]:
    """(exact, F1) of one prediction against its gold answers; golds that normalise to
    nothing are dropped, and none left means the question is unanswerable (gold ``""``)."""
    kept = [g for g in golds if normalize(g)] or [""]
    return max(exact(g, predicted) for g in kept), max(f1(g, predicted) for g in kept)


def prediction(answer: str, abstained: bool) -> str:
    """What the official metric scores: the answer without ``[n]`` markers; "" on abstaining."""
    return "" if abstained else " ".join(_MARKER.sub(" ", answer).split())


def contains_gold(golds: Iterable[str], predicted: str) -> bool:
    """Whether a normalised gold answer occurs, as whole words, in the normalised prediction."""
    text = f" {normalize(predicted)} "
    return any(normalize(g) and f" {normalize(g)} " in text for g in golds)


def official_scores(
    exact_scores: Mapping[str, float], f1_scores: Mapping[str, float], answerable: Iterable[str]
) -> dict[str, float | int | None]:
    """The official summary of per-question scores (keyed by question id): overall, and the
    HasAns/NoAns halves. A half with no questions has total 0 and no scores (``None``)."""
    has_answer = set(answerable)
    groups = {
        "": list(exact_scores),
        "HasAns_": [q for q in exact_scores if q in has_answer],
        "NoAns_": [q for q in exact_scores if q not in has_answer],
    }
    out: dict[str, float | int | None] = {}
    for prefix, ids in groups.items():
        total = len(ids)
        out[f"{prefix}exact"] = 100.0 * sum(exact_scores[q] for q in ids) / total if ids else None
        out[f"{prefix}f1"] = 100.0 * sum(f1_scores[q] for q in ids) / total if ids else None
        out[f"{prefix}total"] = total
    return out


def squad_summary(results: Sequence[ItemResult]) -> dict[str, float | int | None]:
    """The report's ``squad`` object: the official figures, then ours (rates in 0..1).

    - ``answerable_contains_gold``: answered (not abstained) and a gold answer occurs in it;
    - ``unanswerable_abstained``: abstained on a question its paragraph does not answer;
    - ``overall``: (answerable containing gold + unanswerable abstained) / total;
    - ``gold_paragraph_cited``: answerable questions with their paragraph among the citations.
    """
    exact_scores: dict[str, float] = {}
    f1_scores: dict[str, float] = {}
    contained = abstained = cited = 0
    answerable: list[str] = []
    for result in results:
        item, obs = result.item, result.observation
        failed = obs.error is not None
        said = prediction(obs.answer, obs.abstained)
        em, tf1 = max_over_gold(item.answers, said)
        exact_scores[item.id] = 0.0 if failed else float(em)
        f1_scores[item.id] = 0.0 if failed else tf1
        if item.has_answer:
            answerable.append(item.id)
            contained += not failed and not obs.abstained and contains_gold(item.answers, said)
            cited += any(c.docs & set(item.gold_docs) for c in obs.citations)
        else:
            abstained += not failed and obs.abstained
    summary = official_scores(exact_scores, f1_scores, answerable)
    n, n_answerable = len(results), len(answerable)
    n_unanswerable = n - n_answerable
    summary.update(
        {
            "overall": (contained + abstained) / n if n else None,
            "answerable_contains_gold": contained / n_answerable if n_answerable else None,
            "unanswerable_abstained": abstained / n_unanswerable if n_unanswerable else None,
            "gold_paragraph_cited": cited / n_answerable if n_answerable else None,
            "answerable_contains_gold_count": contained,
            "unanswerable_abstained_count": abstained,
        }
    )
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in summary.items()}
