"""Strict scoring reads the values an answer states and finds those that conflict with gold."""

from __future__ import annotations

import pytest

from eval.values import conflicts, is_name, stated

KILLED = "How many people were killed in Israel in the October 7, 2023 attack?"
ENVOY = "Who is Donald Trump's Middle East envoy?"
BROKERS = "Which countries have been brokering the truce alongside Qatar?"


def test_numbers_dates_and_names_are_read_apart() -> None:
    values = stated("Hamas seized about 250 people in the Oct. 7, 2023 attack [1].")
    assert values.quantities == {250.0}
    assert values.dates == {"y2023", "m10", "d10-7"}
    assert values.names == ("Hamas",)  # "Oct" is a month, not a name


@pytest.mark.parametrize(
    ("text", "quantities"),
    [
        ("over 1,000 prisoners and 57,000 deaths", {1000.0, 57000.0}),
        ("forty-two days, a six-week pause, the 15-month-war", {42.0, 6.0, 15.0}),
        ("a thousand people; one hundred and five; 1.5 million; 5%", {1000.0, 105.0, 1.5e6, 5.0}),
        ("one issue remains and no one knows", set()),  # a lone "one" is no count
        ("the 10th and 11th centuries", {10.0, 11.0}),
        ("Phase one lasted 42 days [1] [2, 3].", {42.0}),  # markers are not numbers
    ],
    ids=["digits", "words-and-hyphens", "scales", "lone-one", "ordinals", "markers"],
)
def test_quantities(text: str, quantities: set[float]) -> None:
    assert stated(text).quantities == quantities


def test_a_name_run_stops_at_punctuation_and_skips_sentence_openers() -> None:
    values = stated("The talks: Egypt, Qatar and the United States mediated. Witkoff left.")
    assert values.names == ("Egypt", "Qatar", "United States", "Witkoff")
    # A capitalised first word that the text also writes in lower case is no name.
    assert stated("Negotiations stalled.", context="the negotiations").names == ()


def test_a_gold_answer_is_a_name_when_its_content_words_are_capitalised() -> None:
    assert is_name("Egypt and the United States")
    assert is_name("President Donald Trump") and is_name("the UN")
    assert not is_name("a wastewater treatment center")
    assert not is_name("42 days") and not is_name("October 7, 2023")


@pytest.mark.parametrize(
    ("answer", "question", "golds", "found"),
    [
        ("About 1,200 people were killed [1].", KILLED, ["about 1,200"], ()),
        # The date of the attack is a date, not a second death toll.
        ("About 1,200 were killed in the Oct. 7, 2023 attack [1].", KILLED, ["about 1,200"], ()),
        ("Hamas seized 250 people and killed 1,200 [1].", KILLED, ["about 1,200"], ("250",)),
        ("It lasted 42 days, or six weeks [1].", "How long?", ["42 days", "six weeks"], ()),
        ("It lasted 42 days; a 60-day truce followed [1].", "How long?", ["42 days"], ("60",)),
        ("On October 7, 2023 [1].", "When was the attack?", ["October 7, 2023"], ()),
        ("On 7 March 2023 [1].", "When was the attack?", ["October 7, 2023"], ("d3-7", "m3")),
        ("In October 1066, at Hastings.", "In what year?", ["1066"], ()),  # a year leaves months
        ("Steve Witkoff [1].", ENVOY, ["Steve Witkoff"], ()),
        ("Mr. Trump sent Mr. Witkoff on Thursday [1].", ENVOY, ["Steve Witkoff"], ()),
        ("Trump's envoy is Witkoff [1].", ENVOY, ["Steve Witkoff"], ()),  # Trump is asked about
        ("Witkoff left Doha for Russia [1].", ENVOY, ["Steve Witkoff"], ("Doha", "Russia")),
        ("Egypt and the U.S. [1].", BROKERS, ["Egypt and the United States"], ("US",)),
        ("Egypt and the U.S. [1].", BROKERS, ["Egypt and the United States", "Egypt and the U.S."],
         ()),
        ("Egypt, France and the United States [1].", BROKERS, ["Egypt and the United States"],
         ("France",)),
        ("Israeli and Palestinian officials [1].", "Who?", ["Israel and Palestine"], ()),
        # Only the kinds of value the gold states are compared.
        ("Witkoff said 60 days [1].", ENVOY, ["Steve Witkoff"], ()),
        ("A wastewater plant in Gaza [1].", "What lost power?", ["a wastewater treatment center"],
         ()),
    ],
    ids=["toll", "toll-with-date", "other-count", "equivalents", "other-duration", "date",
         "other-date", "year-only", "name", "honorific-weekday", "name-in-question", "other-names",
         "acronym", "acronym-variant", "extra-country", "prefix-forms", "number-not-asked",
         "no-name-asked"],
)  # fmt: skip
def test_conflicting_values(answer: str, question: str, golds: list[str], found: tuple) -> None:  # type: ignore[type-arg]
    assert conflicts(answer, question, golds) == found


def test_values_from_the_question_and_its_conversation_never_conflict() -> None:
    golds = ["more than 1,000"]
    answer = "After 30 hostages were freed, more than 1,000 prisoners were released [1]."
    assert conflicts(answer, "And how many prisoners?", golds) == ("30",)
    asked = "And how many prisoners? Hamas released 30 hostages during the first phase [1]."
    assert conflicts(answer, asked, golds) == ()


@pytest.mark.parametrize(
    "text",
    [
        "on October 7th, 2023",
        "on the 7th of October, 2023",
        "on Oct. 7th 2023",
        "on 7 October 2023",
    ],
    ids=["month-ordinal", "ordinal-of-month", "abbreviated", "cardinal"],
)
def test_a_day_beside_a_month_is_a_date_even_as_an_ordinal(text: str) -> None:
    values = stated(text)
    assert values.quantities == set()
    assert values.dates == {"y2023", "m10", "d10-7"}


@pytest.mark.parametrize(
    "answer",
    [
        "1,200 people were killed on October 7th [1].",
        "1,200 were killed on the 7th of October [1].",
    ],
    ids=["month-ordinal", "ordinal-of-month"],
)
def test_an_ordinal_date_is_no_second_death_toll(answer: str) -> None:
    assert conflicts(answer, "How many people were killed in the attack?", ["1,200"]) == ()


@pytest.mark.parametrize(
    ("text", "gold"),
    [("4.1 million", "4,100,000"), ("$8.2 billion", "8,200,000,000"), ("1.5 million", "1,500,000")],
    ids=["4.1-million", "8.2-billion", "1.5-million"],
)
def test_a_decimal_times_a_scale_word_is_the_exact_number(text: str, gold: str) -> None:
    assert stated(text).quantities == stated(gold).quantities
    assert conflicts(f"About {text} people fled [1].", "How many people fled?", [gold]) == ()
