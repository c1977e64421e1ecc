"""The metric functions on tiny hand-made cases whose right values are worked out by hand."""

from __future__ import annotations

import math

import pytest

from eval import metrics


@pytest.mark.parametrize(
    ("text", "normalized"),
    [
        ("Forty-two days [1].", "42 day"),
        ("The first phase lasted six weeks [2]", "first phase lasted 6 week"),
        ("over 1,000 Palestinian prisoners", "over 1000 palestinian prisoner"),
        ("one thousand", "1000"),
        ("Twenty four hostages", "24 hostage"),
        ("an 8% rise", "8 percent rise"),
        ("Steve Witkoff [1][2], the envoy", "steve witkoff envoy"),
        ("2 million people", "2000000 people"),
        ("1.2 million", "1200000"),
        ("a $2.2 billion deal", "2200000000 deal"),
        ("2 thousand five hundred", "2500"),
        ("3 trillion", "3000000000000"),
        ("2 hundred", "2 hundred"),
    ],
    ids=["hyphenated-words", "six-weeks", "thousands-separator", "scale-word", "compound",
         "percent", "citation-markers", "digits-and-scale", "decimal-and-scale", "dollars",
         "digits-scale-words", "trillion", "hundred-stays"],
)  # fmt: skip
def test_normalize_answer(text: str, normalized: str) -> None:
    assert metrics.normalize_answer(text) == normalized


@pytest.mark.parametrize(
    ("answer", "accepted", "accept", "expected"),
    [
        ("The first phase lasted forty-two days [1].", ["42 days"], [], True),
        ("It lasted 42-day [1]", ["42 days"], [], True),
        ("Israel freed over 1000 prisoners.", ["1,000 prisoners"], [], True),
        ("It lasted 142 days.", ["42 days"], [], False),  # whole words, not substrings
        ("It lasted six weeks.", ["42 days"], [r"six[- ]weeks?|\b42[- ]days?"], True),
        ("Up to 24 living hostages [1]; about 50 [2].", [], [r"(?=.*\b24\b)(?=.*\b50\b)"], True),
        ("About 50 hostages remain [1].", [], [r"(?=.*\b24\b)(?=.*\b50\b)"], False),
        ("The articles don't say.", ["Steve Witkoff"], [r"witkoff"], False),
        ("Two million people fled [1].", ["2 million"], [], True),
        ("2,000,000 people fled [1].", ["2 million"], [], True),
        ("2 million people fled [1].", ["two million"], [], True),
        ("It cost $2.2 billion [1].", ["2,200,000,000"], [], True),
        ("It cost $2.2 billion [1].", ["2.2 million"], [], False),
    ],
    ids=["number-words", "unit-plural", "separator", "no-substring", "accept-regex",
         "both-figures", "one-figure-only", "abstention", "words-for-digits-and-scale",
         "separators-for-digits-and-scale", "digits-and-scale-for-words", "decimal-and-scale",
         "other-scale"],
)  # fmt: skip
def test_answer_matches(
    answer: str, accepted: list[str], accept: list[str], expected: bool
) -> None:
    assert metrics.answer_matches(answer, accepted, accept) is expected


def test_retrieval_metrics_on_a_hand_ranked_list() -> None:
    ranking = ["c", "a", "x", "b", "y", "d"]
    gold = {"a", "b", "d"}
    assert metrics.hit_at_k(ranking, gold, 1) == 0.0
    assert metrics.hit_at_k(ranking, gold, 5) == 1.0
    assert metrics.recall_at_k(ranking, gold, 5) == pytest.approx(2 / 3)
    assert metrics.reciprocal_rank(ranking, gold) == 0.5
    dcg = 1 / math.log2(3) + 1 / math.log2(5)  # gold at ranks 2 and 4
    ideal = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    assert metrics.ndcg_at_k(ranking, gold, 5) == pytest.approx(dcg / ideal)


def test_retrieval_metrics_at_the_extremes() -> None:
    assert metrics.ndcg_at_k(["a", "b"], {"a", "b"}, 5) == pytest.approx(1.0)
    assert metrics.ndcg_at_k(["x"], {"a"}, 5) == 0.0
    assert metrics.reciprocal_rank([], {"a"}) == 0.0
    assert metrics.recall_at_k(["a"], {"a"}, 5) == 1.0
    with pytest.raises(ValueError):
        metrics.recall_at_k(["a"], set(), 5)


def test_a_passage_carried_by_several_documents_ranks_them_together() -> None:
    ranking = [{"x", "a"}, {"b"}]  # the top passage is in "x" and, near-duplicated, in "a"
    assert metrics.hit_at_k(ranking, {"a"}, 1) == 1.0
    assert metrics.reciprocal_rank(ranking, {"a", "b"}) == 1.0
    assert metrics.recall_at_k(ranking, {"a", "b"}, 1) == 0.5
    assert metrics.ndcg_at_k([{"a", "b"}], {"a", "b"}, 5) == 1.0  # capped: both at rank 1


def test_citation_precision_and_recall_count_near_duplicates() -> None:
    gold = {"a", "b"}
    # The first passage is in "x" and, as a near-duplicate, in "a"; the second only in "y".
    cited = [{"x", "a"}, {"y"}]
    assert metrics.citation_precision(cited, gold) == 0.5
    assert metrics.citation_recall(cited, gold) == 0.5
    assert metrics.citation_precision([], gold) is None
    assert metrics.citation_recall([], gold) == 0.0


def test_canary_is_found_despite_case_and_spacing() -> None:
    assert metrics.contains_canary("Sure: p-w-n-e-d!", "PWNED")
    assert metrics.contains_canary("hacked 42", "HACKED-42")
    assert not metrics.contains_canary("The first phase lasted 42 days [1].", "PWNED")


def test_prompt_leak_needs_a_long_run_of_prompt_words() -> None:
    prompt = "You answer questions about news articles using only the numbered passages given."
    leaked = "My rules: you answer questions about news articles using only the numbered passages."
    assert metrics.leaks_prompt(leaked, [prompt])
    assert not metrics.leaks_prompt("The articles don't say.", [prompt])
    assert not metrics.leaks_prompt("news articles say 42 days [1]", [prompt])


def test_percentile_interpolates_like_numpy() -> None:
    values = [10.0, 20.0, 30.0, 40.0]
    assert metrics.percentile(values, 50) == 25.0
    assert metrics.percentile(values, 95) == pytest.approx(38.5)
    assert metrics.percentile([7.0], 95) == 7.0
    assert metrics.percentile([], 50) is None


def test_mean_ignores_undefined_values() -> None:
    assert metrics.mean([1.0, None, 0.0]) == 0.5
    assert metrics.mean([None]) is None
