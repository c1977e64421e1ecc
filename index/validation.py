"""What a ``doc_id`` may be and what counts as text: one definition for the loaders, the engine
and the HTTP schemas (whose regular expressions are these same strings).

A ``doc_id`` is compared after NFC normalisation, so ``café`` typed either way is one document.
It is 1-200 characters of letters, digits, punctuation, symbols and plain spaces: no control,
formatting (right-to-left overrides, zero-width characters, tags) or separator character other
than the space, no ``/`` or ``\\``, not only dots, no space at either end. The patterns
are written so that Python's ``re``, pydantic's Rust engine and JSON Schema validators read
them alike (explicit code point ranges; no ``\\w``, ``\\s`` or look-arounds).

Free text (questions, document text and titles) keeps its characters, but control characters
other than tab, newline and carriage return (and lone surrogates, which no encoding can store)
become spaces, and text needs at least one visible character (``VISIBLE_PATTERN``).
"""

from __future__ import annotations

import re
import unicodedata

__all__ = [
    "DOC_ID_MAX",
    "DOC_ID_PATTERN",
    "VISIBLE_PATTERN",
    "doc_id_problem",
    "has_visible",
    "normalize_doc_id",
    "without_controls",
]

DOC_ID_MAX = 200

# Characters with no glyph of their own: Unicode categories Cc, Cf, Zl, Zp and Zs other than
# U+0020, as ranges (Unicode 14, which tests/index/test_validation.py checks against the running
# Python). Surrogates (Cs) cannot arrive in JSON or UTF-8 and are refused separately. Private-use
# characters (Co) draw a glyph of some font's choosing and are allowed; leaving out their two
# 65k-character planes also keeps schema-driven generators (schemathesis) fast.
INVISIBLE = (
    r"\u0000-\u001f\u007f-\u00a0\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890-\u0891\u08e2"
    r"\u1680\u180e\u2000-\u200f\u2028-\u202f\u205f-\u2064\u2066-\u206f\u3000\ufeff"
    r"\ufff9-\ufffb\U000110bd\U000110cd\U00013430-\U00013438\U0001bca0-\U0001bca3"
    r"\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f"
)
_EDGE = rf"[^{INVISIBLE}/\\ ]"  # may start or end an id
_INNER = rf"[^{INVISIBLE}/\\]"
_SOLID = rf"[^{INVISIBLE}/\\. ]"  # at least one: not only dots (nor spaces)
DOC_ID_PATTERN = rf"^(?:{_EDGE}{_INNER}*)?{_SOLID}(?:{_INNER}*{_EDGE})?$"
# Searched, not matched: some character that is neither blank nor invisible.
VISIBLE_PATTERN = rf"[^{INVISIBLE} ]"

_DOC_ID_RE = re.compile(DOC_ID_PATTERN)
_VISIBLE_RE = re.compile(VISIBLE_PATTERN)
_INVISIBLE_RE = re.compile(rf"[{INVISIBLE}]")
_SURROGATE_RE = re.compile(r"[\ud800-\udfff]")
# C0 and C1 controls and DEL, but not tab, newline and carriage return.
_CONTROLS_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_KINDS = {
    "Cc": "a control",
    "Cf": "a formatting",
    "Cs": "a lone surrogate",
    "Zs": "a space-like",
    "Zl": "a line separator",
    "Zp": "a paragraph separator",
}


def doc_id_problem(doc_id: str) -> str | None:
    """Why ``doc_id`` (already NFC) is not a valid id, or None when it is."""
    if not doc_id:
        return "is empty"
    if len(doc_id) > DOC_ID_MAX:
        return f"is longer than {DOC_ID_MAX} characters"
    if _DOC_ID_RE.fullmatch(doc_id) and not _SURROGATE_RE.search(doc_id):
        return None
    if "/" in doc_id or "\\" in doc_id:
        return "must not contain '/' or '\\' (it names a document, not a path)"
    bad = _INVISIBLE_RE.search(doc_id) or _SURROGATE_RE.search(doc_id)
    if bad:
        char = bad.group()
        name = unicodedata.name(char, "")
        kind = _KINDS.get(unicodedata.category(char), "an invisible")
        return (
            f"must be printable: U+{ord(char):04X}{' ' + name if name else ''} at "
            f"position {bad.start()} is {kind} character (such characters hide or fake text)"
        )
    if doc_id.strip(".") == "":
        return "must not be only dots ('.' and '..' name folders)"
    return "must not start or end with a space"


def normalize_doc_id(doc_id: str) -> str:
    """``doc_id`` in NFC; raises ``ValueError`` saying why when it is not a valid id."""
    normal = unicodedata.normalize("NFC", doc_id)
    problem = doc_id_problem(normal)
    if problem:
        raise ValueError(problem)
    return normal


def without_controls(text: str) -> str:
    """``text`` with control characters other than tab, newline and CR, and lone surrogates,
    turned into spaces."""
    return _CONTROLS_RE.sub(" ", text)


def has_visible(text: str) -> bool:
    """Whether ``text`` holds a character that is neither blank nor invisible."""
    return _VISIBLE_RE.search(text) is not None
