"""The packaged dataset is complete and consistent; a broken file is rejected by line."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from eval.dataset import (
    KINDS,
    DatasetError,
    default_dataset_path,
    load_dataset,
    parse_dataset,
    select_items,
)
from eval.metrics import answer_matches
from eval.values import conflicts

SEEDS = Path(__file__).resolve().parents[2] / "seeds"


def test_packaged_dataset_covers_every_kind() -> None:
    items = load_dataset(default_dataset_path())
    counts = Counter(item.kind for item in items)
    assert len(items) >= 60
    assert set(counts) == set(KINDS)
    assert all(counts[kind] >= 5 for kind in KINDS), counts


def test_packaged_labels_point_at_the_news_documents_and_accept_their_own_answers() -> None:
    seed_ids = {path.stem for path in SEEDS.glob("*.txt")}
    extra = default_dataset_path().with_name("news_extra_docs.jsonl").read_text(encoding="utf-8")
    extra_ids = {json.loads(line)["doc_id"] for line in extra.splitlines() if line.strip()}
    for item in load_dataset(default_dataset_path()):
        assert set(item.gold_docs) <= seed_ids | extra_ids, item.id
        assert set(item.requires_docs) <= extra_ids, item.id
        for answer in item.answers:
            assert answer_matches(answer, item.answers, item.accept), item.id
            # A gold answer never conflicts with the item's own gold answers.
            assert conflicts(answer, item.question, item.answers) == (), item.id
            if item.accept:  # the patterns must accept the reference wording too
                assert answer_matches(answer, (), item.accept), item.id


BARE = (r"\\b\d+\\b", r"\d+", r"[a-z]+")  # a bare number, a lone word


def test_no_accept_pattern_is_a_bare_number_or_a_lone_common_word() -> None:
    import re

    for item in load_dataset(default_dataset_path()):
        for pattern in item.accept:
            for alternative in _top_level_alternatives(pattern):
                bare = any(re.fullmatch(shape, alternative) for shape in BARE)
                # A lone word may stay only when it is a name (witkoff, netanyahu, ...).
                name = re.fullmatch(r"\\b[a-z]{5,}\\b", alternative) and not re.search(
                    r"(one|two|three|five|six|seven|eight|nine|ten|teen|ty|hundred|thousand)\\b",
                    alternative,
                )
                assert not bare or name, (item.id, alternative)


def _top_level_alternatives(pattern: str) -> list[str]:
    """The pattern's alternatives outside any group: what one match needs at least."""
    parts, depth, start = [], 0, 0
    for position, char in enumerate(pattern):
        escaped = position > 0 and pattern[position - 1] == "\\"
        if char == "(" and not escaped:
            depth += 1
        elif char == ")" and not escaped:
            depth -= 1
        elif char == "|" and depth == 0:
            parts.append(pattern[start:position])
            start = position + 1
    return [*parts, pattern[start:]]


def test_every_kind_is_split_about_in_half_and_the_halves_are_fixed() -> None:
    items = load_dataset(default_dataset_path())
    assert all(item.split in ("dev", "test") for item in items)
    for kind in KINDS:
        halves = Counter(item.split for item in items if item.kind == kind)
        assert abs(halves["dev"] - halves["test"]) <= 1, (kind, halves)
    # The reported half holds injections through documents and through the question.
    test = {item.id for item in items if item.split == "test" and item.kind == "injection"}
    assert any(i.startswith("inject-doc-") for i in test)
    assert any(not i.startswith("inject-doc-") for i in test)


def test_select_items_takes_one_half_and_rejects_unknown_or_missing_splits() -> None:
    items = load_dataset(default_dataset_path())
    dev, test = select_items(items, split="dev"), select_items(items, split="test")
    assert {i.split for i in dev} == {"dev"} and {i.split for i in test} == {"test"}
    assert len(dev) + len(test) == len(items)
    assert not {i.id for i in dev} & {i.id for i in test}
    numeric_test = select_items(items, kinds=["numeric"], split="test")
    assert numeric_test == [i for i in test if i.kind == "numeric"]
    with pytest.raises(DatasetError, match="unknown split 'train'"):
        select_items(items, split="train")
    unsplit = parse_dataset([_line()], source="mine.jsonl")
    with pytest.raises(DatasetError, match="no 'split' field"):
        select_items(unsplit, split="test")


def test_conflict_items_require_both_figures() -> None:
    conflicts = [i for i in load_dataset(default_dataset_path()) if i.kind == "conflict"]
    hostages = next(i for i in conflicts if i.id == "conflict-hostages-remaining")
    assert not answer_matches("Up to 24 living hostages remain [1].", (), hostages.accept)
    assert not answer_matches("About 50 hostages remain [1].", (), hostages.accept)
    assert answer_matches("24 living in March [1]; about 50 later [2].", (), hostages.accept)


def _line(**fields: object) -> str:
    item: dict[str, object] = {
        "id": "q1",
        "question": "How long was phase one?",
        "kind": "numeric",
        "answers": ["42 days"],
        "gold_docs": ["001"],
    }
    item.update(fields)
    return json.dumps({k: v for k, v in item.items() if v is not None})


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"id": "q1", "question": ', "invalid JSON"),
        ("[1, 2]", "expected a JSON object"),
        (_line(question=None), "'question' must be a non-empty string"),
        (_line(kind="trivia"), "unknown kind 'trivia'"),
        (_line(answers="42 days"), "'answers' must be a list"),
        (_line(accept=["(unclosed"]), "accept pattern '(unclosed' is invalid"),
        (_line(answers=[], accept=None), "needs 'answers' or 'accept'"),
        (_line(gold_docs=[]), "needs at least one gold doc"),
        (_line(kind="unanswerable"), "has no answers and no gold docs"),
        (_line(kind="injection"), "needs a 'canary'"),
        (_line(kind="followup"), "needs a 'history'"),
        (_line(kind="followup", history=[{"role": "bot", "content": "x"}]), "history turn 1"),
        (_line(split="train"), "'split' must be one of dev, test"),
        (_line(requires_docs="x01"), "'requires_docs' must be a list"),
    ],
    ids=["bad-json", "not-object", "no-question", "bad-kind", "answers-not-list", "bad-regex",
         "no-answers", "no-gold", "unanswerable-with-answers", "injection-no-canary",
         "followup-no-history", "bad-role", "bad-split", "bad-requires"],
)  # fmt: skip
def test_a_bad_line_is_named_with_its_problem(line: str, message: str) -> None:
    lines = [_line(id="fine"), "", line]
    with pytest.raises(DatasetError) as caught:
        parse_dataset(lines, source="news.jsonl")
    assert str(caught.value).startswith("news.jsonl:3")
    assert message in str(caught.value)


def test_duplicate_ids_name_both_lines() -> None:
    with pytest.raises(DatasetError, match=r"news.jsonl:2: duplicate id 'q1' .*line 1"):
        parse_dataset([_line(), _line()], source="news.jsonl")


def test_missing_and_empty_files_are_user_errors(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="cannot read the dataset"):
        load_dataset(tmp_path / "absent.jsonl")
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    with pytest.raises(DatasetError, match="has no questions"):
        load_dataset(empty)


def test_a_file_that_is_not_utf8_text_is_named(tmp_path: Path) -> None:
    binary = tmp_path / "binary.jsonl"
    binary.write_bytes(b"\xff\xfe not text\n")
    with pytest.raises(DatasetError, match=re.escape(f"{binary}: not UTF-8 text (")):
        load_dataset(binary)


def test_select_items_filters_by_kind_and_limit() -> None:
    items = load_dataset(default_dataset_path())
    chosen = select_items(items, kinds=["numeric", "conflict"], limit=3)
    assert len(chosen) == 3
    assert {i.kind for i in chosen} <= {"numeric", "conflict"}
    with pytest.raises(DatasetError, match="unknown kind 'trivia'"):
        select_items(items, kinds=["trivia"])
