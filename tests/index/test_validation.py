"""doc_id rules and text rules: one definition, the same verdict in Python, pydantic and JSON
Schema, with a reason a person can act on."""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated

import jsonschema_rs
import pytest
from pydantic import Field, TypeAdapter, ValidationError

from index.validation import (
    DOC_ID_PATTERN,
    INVISIBLE,
    VISIBLE_PATTERN,
    doc_id_problem,
    has_visible,
    normalize_doc_id,
    without_controls,
)

GOOD_IDS = [
    "001_e2ebf3ea3f42602b",
    "café",
    "a b",
    "v1.2",
    ".hidden",
    "trailing.",
    "北京-報道",
    "x",
    "\uf8ff-logo",  # private use: some font draws it
]
BAD_IDS = {
    "": "empty",
    ".": "only dots",
    "..": "only dots",
    "...": "only dots",
    "a\x00b": "U+0000 at position 1 is a control character",
    "line\nbreak": "U+000A",
    "\u202eabc.txt": "RIGHT-TO-LEFT OVERRIDE",
    "zero\u200bwidth": "ZERO WIDTH SPACE",
    "tag\U000e0041": "TAG LATIN CAPITAL LETTER A",
    "no\u00a0break": "NO-BREAK SPACE",
    "a/b": "'/'",
    "a\\b": "'/'",
    " padded": "space",
    "padded ": "space",
    "x" * 201: "200",
    "lone\udc80": "position 4",
}


@pytest.mark.parametrize("doc_id", GOOD_IDS)
def test_good_ids_pass_everywhere(doc_id: str) -> None:
    assert doc_id_problem(doc_id) is None
    assert _schema_accepts(doc_id) and _pydantic_accepts(doc_id)


@pytest.mark.parametrize(("doc_id", "reason"), list(BAD_IDS.items()), ids=list(range(len(BAD_IDS))))
def test_bad_ids_are_refused_saying_why(doc_id: str, reason: str) -> None:
    problem = doc_id_problem(doc_id)
    assert problem is not None and reason in problem
    with pytest.raises(ValueError, match=re.escape(reason)):
        normalize_doc_id(doc_id)
    if "\udc80" not in doc_id:  # a lone surrogate cannot even reach a JSON validator
        assert not _schema_accepts(doc_id) and not _pydantic_accepts(doc_id)


def test_ids_are_compared_in_nfc() -> None:
    nfd = unicodedata.normalize("NFD", "café")
    assert nfd != "café" and normalize_doc_id(nfd) == "café"


def test_the_invisible_ranges_are_the_unicode_categories_they_claim() -> None:
    # Cc, Cf, Zl, Zp and every space but U+0020, as this Python's Unicode database has them.
    invisible = re.compile(f"[{INVISIBLE}]")
    for code in range(0x110000):
        char = chr(code)
        category = unicodedata.category(char)
        if category == "Cs":
            continue
        expected = category in ("Cc", "Cf", "Zl", "Zp") or (category == "Zs" and char != " ")
        assert bool(invisible.match(char)) == expected, f"U+{code:04X} {category}"


@pytest.mark.parametrize(
    ("text", "visible", "cleaned"),
    [
        ("\x00", False, " "),
        (" \t\n", False, " \t\n"),
        ("\u200b\ufeff", False, "\u200b\ufeff"),
        ("What\x00 happened?", True, "What  happened?"),
        ("a\x1b[31mred", True, "a [31mred"),
        ("?", True, "?"),
        ("lone \ud800", True, "lone  "),
    ],
)
def test_text_needs_a_visible_character_and_loses_its_controls(
    text: str, visible: bool, cleaned: str
) -> None:
    assert has_visible(text) is visible
    assert without_controls(text) == cleaned
    if "\ud800" not in text:
        validator = jsonschema_rs.validator_for({"type": "string", "pattern": VISIBLE_PATTERN})
        assert validator.is_valid(text) is visible


def _schema_accepts(doc_id: str) -> bool:
    schema = {"type": "string", "minLength": 1, "maxLength": 200, "pattern": DOC_ID_PATTERN}
    return bool(jsonschema_rs.validator_for(schema).is_valid(doc_id))


def _pydantic_accepts(doc_id: str) -> bool:
    # pydantic checks patterns with Rust's regex engine, as JSON Schema validators mostly do.
    adapter = TypeAdapter(Annotated[str, Field(max_length=200, pattern=DOC_ID_PATTERN)])
    try:
        adapter.validate_python(doc_id)
    except ValidationError:
        return False
    return True
