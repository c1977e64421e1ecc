"""SQuAD 2.0 files load as documents and items; the official metric matches its script."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from eval.dataset import DatasetError, default_dataset_path
from eval.scoring import CitedPassage, ItemResult, Observation, score_item
from eval.squad import is_squad_file, load_squad, paragraph_id, parse_squad
from eval.squad_metrics import (
    contains_gold,
    exact,
    f1,
    max_over_gold,
    normalize,
    official_scores,
    prediction,
    squad_summary,
)

NORMANS = Path(__file__).resolve().parents[2] / "eval/datasets/squad2-normans/dev-v2.0-normans.json"


def tiny_squad() -> dict[str, object]:
    return {
        "version": "v2.0",
        "data": [
            {
                "title": "Normans",
                "paragraphs": [
                    {
                        "context": "The Normans gave their name to Normandy, a region in France.",
                        "qas": [
                            {
                                "id": "q1",
                                "question": "In what country is Normandy located?",
                                "answers": [
                                    {"text": "France", "answer_start": 54},
                                    {"text": "France", "answer_start": 54},
                                    {"text": "in France", "answer_start": 51},
                                ],
                                "is_impossible": False,
                            },
                            {
                                "id": "q2",
                                "question": "Who gave their name to France?",
                                "answers": [],
                                "plausible_answers": [{"text": "Normans", "answer_start": 4}],
                                "is_impossible": True,
                            },
                        ],
                    },
                    {"context": "Rollo led the Vikings.", "qas": []},
                ],
            }
        ],
    }


# ---- loading -------------------------------------------------------------------------------


def test_the_normans_file_loads_every_paragraph_and_question() -> None:
    squad = load_squad(NORMANS)
    assert len(squad.documents) == 39
    assert len(squad.items) == 208
    assert squad.answerable == 96
    assert sum(item.kind == "unanswerable" for item in squad.items) == 112
    assert {doc.title for doc in squad.documents} == {"Normans"}
    doc_ids = {doc.doc_id for doc in squad.documents}
    assert len(doc_ids) == 39
    texts = {doc.doc_id: doc.text for doc in squad.documents}
    for item in squad.items:
        if item.has_answer:
            [gold] = item.gold_docs
            # The gold spans are taken from the paragraph, so they occur in its stored text.
            assert any(answer in texts[gold] for answer in item.answers), item.id
            assert item.requires_docs == ()
        else:
            assert item.gold_docs == () and not item.answers
            assert set(item.requires_docs) <= doc_ids


def test_paragraph_ids_are_stable_and_follow_the_text() -> None:
    first = load_squad(NORMANS).documents[0]
    raw = json.loads(NORMANS.read_text(encoding="utf-8"))
    context = raw["data"][0]["paragraphs"][0]["context"]
    digest = hashlib.sha256(context.encode()).hexdigest()[:8]
    assert first.doc_id == f"Normans-000-{digest}"
    assert load_squad(NORMANS).documents[0].doc_id == first.doc_id  # same file, same ids
    assert paragraph_id("Normans", 0, context + " Edited.") != first.doc_id
    assert paragraph_id("Super Bowl 50", 3, "x").startswith("Super_Bowl_50-003-")


def test_repeated_gold_spans_are_kept_once_and_plausible_answers_are_not_gold() -> None:
    squad = parse_squad(tiny_squad())
    q1, q2 = squad.items
    assert q1.kind == "factoid" and q1.answers == ("France", "in France")
    assert q1.gold_docs == (squad.documents[0].doc_id,)
    assert q2.kind == "unanswerable" and q2.answers == () and q2.gold_docs == ()
    assert q2.requires_docs == (squad.documents[0].doc_id,)
    assert len(squad.documents) == 2  # a paragraph without questions is still a document


def test_the_shape_is_detected_and_other_files_are_not_taken_for_squad(tmp_path: Path) -> None:
    assert is_squad_file(NORMANS)
    assert not is_squad_file(default_dataset_path())  # the news JSONL
    other = tmp_path / "other.json"
    other.write_text('{"rows": [{"data": []}]}', encoding="utf-8")
    assert not is_squad_file(other)
    listed = tmp_path / "listed.json"
    listed.write_text('[{"data": []}]', encoding="utf-8")
    assert not is_squad_file(listed)
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")
    assert not is_squad_file(broken)


def broken_squad(path: Path) -> Path:
    """A SQuAD file, pretty-printed, whose article has no list of paragraphs."""
    raw = tiny_squad()
    raw["data"][0]["paragraphs"] = "oops"  # type: ignore[index]
    path.write_text(json.dumps(raw, indent=1), encoding="utf-8")
    return path


def test_a_json_object_with_data_is_taken_for_squad_so_its_loader_names_the_problem(
    tmp_path: Path,
) -> None:
    # Read as a JSONL eval set instead, it failed on line 1 with "invalid JSON" or "'id'".
    path = broken_squad(tmp_path / "pretty.json")
    assert is_squad_file(path)
    with pytest.raises(DatasetError, match=r"pretty.json: article 0: .* 'paragraphs' list"):
        load_squad(path)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(data=[]), "no 'data' list"),
        (lambda d: d["data"][0]["paragraphs"][0].pop("context"), "paragraph 0: 'context'"),
        (lambda d: d["data"][0]["paragraphs"][0]["qas"][0].update(answers=[]), "question q1"),
        (lambda d: d["data"][0]["paragraphs"][0]["qas"][1].update(id="q1"), "duplicate"),
        (lambda d: d["data"][0]["paragraphs"][0]["qas"][1].update(is_impossible="yes"), "true"),
    ],
    ids=["no-data", "no-context", "no-answers", "duplicate-id", "bad-flag"],
)
def test_a_malformed_file_is_rejected_naming_where(change, message: str) -> None:  # type: ignore[no-untyped-def]
    raw = tiny_squad()
    change(raw)
    with pytest.raises(DatasetError, match=message):
        parse_squad(raw, source="tiny.json")


# ---- the official metric ---------------------------------------------------------------------
# Expected values worked out by hand from evaluate-v2.0.py's functions.


def test_normalisation_drops_case_punctuation_articles_and_extra_spaces() -> None:
    assert normalize("The  Norman-conquest!") == "normanconquest"
    assert normalize("An apple, a day; THE end.") == "apple day end"
    assert normalize("Théâtre’s") == "théâtre’s"  # only ASCII punctuation goes, as officially


def test_exact_and_f1_as_the_official_script_computes_them() -> None:
    gold, said = "10th and 11th centuries", "in the 10th and 11th centuries"
    assert exact(gold, said) == 0
    # gold 4 tokens, prediction 5 (in 10th and 11th centuries), 4 shared: P 0.8, R 1.0
    assert f1(gold, said) == pytest.approx(2 * 0.8 * 1.0 / 1.8)
    assert exact("Rollo", "rollo.") == 1 and f1("Rollo", "rollo.") == 1.0
    assert f1("Denmark, Iceland and Norway", "Norway") == pytest.approx(2 * 1 * 0.25 / 1.25)
    assert f1("France", "Normandy") == 0.0
    assert f1("", "") == 1.0 and f1("", "France") == 0.0 and f1("France", "") == 0.0


def test_scores_take_the_best_gold_and_unanswerable_wants_the_empty_prediction() -> None:
    golds = ["10th and 11th centuries", "in the 10th and 11th centuries"]
    assert max_over_gold(golds, "in the 10th and 11th centuries") == (1, 1.0)
    assert max_over_gold([], "") == (1, 1.0)
    assert max_over_gold([], "The Normans") == (0, 0.0)
    assert max_over_gold(["a", "the"], "") == (1, 1.0)  # golds normalising to nothing: no answer
    assert max_over_gold(["France"], "") == (0, 0.0)


def test_official_summary_splits_has_answer_and_no_answer() -> None:
    exact_scores = {"q1": 1.0, "q2": 0.0, "q3": 1.0}
    f1_scores = {"q1": 1.0, "q2": 0.5, "q3": 1.0}
    scores = official_scores(exact_scores, f1_scores, answerable=["q1", "q2"])
    assert scores["exact"] == pytest.approx(200 / 3) and scores["f1"] == pytest.approx(250 / 3)
    assert scores["total"] == 3
    assert scores["HasAns_exact"] == 50.0 and scores["HasAns_f1"] == 75.0
    assert scores["HasAns_total"] == 2
    assert scores["NoAns_exact"] == 100.0 and scores["NoAns_f1"] == 100.0
    assert scores["NoAns_total"] == 1
    none = official_scores({"q1": 1.0}, {"q1": 1.0}, answerable=["q1"])
    assert none["NoAns_total"] == 0 and none["NoAns_exact"] is None


def test_the_prediction_is_the_answer_without_markers_or_empty_on_abstaining() -> None:
    assert prediction("Normandy is in France [1].", abstained=False) == "Normandy is in France ."
    assert prediction("Rollo [1, 2] and William [3]", abstained=False) == "Rollo and William"
    assert prediction("The articles don't say.", abstained=True) == ""
    assert contains_gold(["France"], "Normandy is in France .")
    assert not contains_gold(["France"], "Frances")
    assert not contains_gold(["the"], "the")  # a gold that normalises to nothing never matches


def test_squad_summary_gives_official_figures_and_ours() -> None:
    squad = parse_squad(tiny_squad())
    q1, q2 = squad.items
    paragraph = squad.documents[0].doc_id

    def run(item, answer: str, abstained: bool, *cited: str) -> ItemResult:  # type: ignore[no-untyped-def]
        citations = tuple(CitedPassage(n, d, "t", "x") for n, d in enumerate(cited, 1))
        obs = Observation(answer, abstained, citations, ((paragraph,),), 5.0)
        return ItemResult(item, obs, score_item(item, obs))

    results = [
        run(q1, "Normandy is in France [1].", False, paragraph),
        run(q2, "The Normans [1].", False, paragraph),
    ]
    summary = squad_summary(results)
    # q1 ("normandy is in france"): exact 0; F1 0.4 against "France" (P 1/4, R 1) and 2/3
    # against "in France" (P 2/4, R 1), so 2/3. q2 answered: 0 and 0.
    assert summary["exact"] == 0.0 and summary["f1"] == pytest.approx(100 / 3, abs=1e-3)
    assert summary["HasAns_f1"] == pytest.approx(200 / 3, abs=1e-3)
    assert summary["NoAns_exact"] == 0.0
    assert summary["answerable_contains_gold"] == 1.0
    assert summary["unanswerable_abstained"] == 0.0
    assert summary["overall"] == 0.5 and summary["gold_paragraph_cited"] == 1.0
    abstaining = squad_summary([run(q1, "x", True), run(q2, "The articles don't say.", True)])
    assert abstaining["exact"] == 50.0 and abstaining["NoAns_f1"] == 100.0
    assert abstaining["overall"] == 0.5 and abstaining["gold_paragraph_cited"] == 0.0
