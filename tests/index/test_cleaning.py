"""Cleaning: boilerplate and in-document repeats leave the stored text; the article stays."""

from __future__ import annotations

import re

import pytest

from index.cleaning import clean_text
from index.loaders import load_documents
from tests.index.helpers import SEEDS

BOILERPLATE = re.compile(
    r"^(Leave a Reply|Post a Comment|Advertisement|Tags|Previous Post Next Post|Reference"
    r"|Source:.*|Your email address will not be published.*|thedailycourierng( news)?)$",
    re.IGNORECASE | re.MULTILINE,
)


@pytest.fixture(scope="module")
def seeds() -> dict[str, str]:
    return {doc.doc_id: doc.text for doc in load_documents([SEEDS]).documents}


def test_site_boilerplate_is_gone_from_every_seed(seeds: dict[str, str]) -> None:
    for doc_id, text in seeds.items():
        assert BOILERPLATE.findall(text) == [], doc_id


def test_paragraphs_repeated_inside_a_document_appear_once(seeds: dict[str, str]) -> None:
    raw = (SEEDS / "003_4c2a7c2d2ea0717c.txt").read_text(encoding="utf-8")
    repeated = [p for p in set(raw.splitlines()) if len(p) > 60 and raw.count(p) > 1]
    assert len(repeated) >= 5  # the seed really does repeat five paragraphs
    for text in seeds.values():
        lines = [line for line in text.splitlines() if line.strip()]
        assert len(lines) == len(set(lines))
    for paragraph in repeated:
        assert seeds["003_4c2a7c2d2ea0717c"].count(paragraph) == 1


def test_a_repeated_title_line_is_kept_once_at_the_top(seeds: dict[str, str]) -> None:
    title = "Israel-Hamas Ceasefire Talks Stalled as Trump Administration Shifts Focus to Ukraine"
    text = seeds["000_c04850de3b1b0f05"]
    assert text.startswith(title + "\n")
    assert text.count(title) == 1


def test_the_article_itself_survives(seeds: dict[str, str]) -> None:
    assert "The first phase of the ceasefire, which lasted 42 days" in seeds["000_c04850de3b1b0f05"]
    assert "A Stalemate in Qatar" in seeds["000_c04850de3b1b0f05"]  # mid-article heading kept
    assert "• US and Israel withdraw negotiators" in seeds["002_085035660f68ee77"]
    assert seeds["004_6a7ff6555c728629"].endswith(
        "the broader landscape of Middle Eastern diplomacy."
    )


def test_rules_are_general_not_seed_strings() -> None:
    raw = "\n".join(
        [
            "Floods Hit the Valley",
            "The Valley Gazette",
            "By Jane Roe",
            "Heavy rain flooded the valley on Tuesday, officials said.",
            "Share this article",
            "ADVERTISEMENT",
            "Residents were evacuated to schools. Share prices of insurers fell on the news.",
            "Floods Hit the Valley",
            "Heavy rain flooded the valley on Tuesday, officials said.",
            "Recovery",
            "Crews began clearing roads on Wednesday.",
            "Tags: floods, weather, valley",
            "Related Articles",
            "Older Post",
            "3 Comments",
            "Sources:",
            "Floods Hit the Valley - valleygazette.example",
            "© 2025 The Valley Gazette. All rights reserved.",
        ]
    )
    cleaned = clean_text(raw)
    assert cleaned.splitlines() == [
        "Floods Hit the Valley",
        "Heavy rain flooded the valley on Tuesday, officials said.",
        "Residents were evacuated to schools. Share prices of insurers fell on the news.",
        "Recovery",
        "Crews began clearing roads on Wednesday.",
    ]


def test_whitespace_is_normalised() -> None:
    assert (
        clean_text("Title\r\n\r\n\r\n\r\nBody\u00a0text   here.  \r\n")
        == "Title\n\nBody text here."
    )
