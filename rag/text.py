"""Small text tools shared by retrieval, prompts and citation checks: sentences, words, numbers."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

__all__ = [
    "PROMPT_LOOKALIKES",
    "Span",
    "content_words",
    "facts",
    "names",
    "numbers",
    "split_sentences",
    "stem",
    "word_set",
]

# Words that carry no topic: question words, auxiliaries, pronouns, connectives.
_STOP_TEXT = """
    a about above after again against all also am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers herself him himself his how i if in into is it
    its itself just me more most my myself no nor not of off on once only or other our ours
    ourselves out over own same she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your yours yourself yourselves
    according said says say tell told please many much whose did does ever still now currently
    latest today yet per via s t don doesn didn isn wasn aren weren mr mrs ms
"""
STOPWORDS = frozenset(_STOP_TEXT.split())

_NUMBER_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14,
    "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20,
    "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80,
    "ninety": 90, "hundred": 100, "thousand": 1000, "million": 1_000_000, "dozen": 12,
}  # fmt: skip

# Letters of any script ("Besançon", "Jerónimo", "Zürich" are one word each), so that a name
# with an accent is found in the passage it came from.
_LETTERS = r"[^\W\d_]+"
_WORD = re.compile(rf"{_LETTERS}(?:['’]{_LETTERS})*|\d[\d,]*(?:\.\d+)?")
_HYPHENATED = re.compile(rf"{_LETTERS}(?:-{_LETTERS})+")
_NUM = re.compile(r"\d[\d,]*(?:\.\d+)?")
# A sentence ends at . ! ? (maybe closed by a quote or bracket) before a capital, digit or quote.
_BOUNDARY = re.compile(r"(?:(?<=[.!?])|(?<=[.!?][\"”’)\]]))\s+(?=[\"“‘(\[]?[A-Z0-9])|\s*\n\s*")
_ABBREV_TEXT = (
    "mr mrs ms dr st jr sr prof gen col lt sgt rep sen gov pres vs etc inc ltd co corp no "
    "jan feb mar apr jun jul aug sep sept oct nov dec u.s u.k u.n e.g i.e"
)
_ABBREVIATIONS = frozenset(_ABBREV_TEXT.split())


# What in a document could pass for the answer prompt's own structure: tags, the prompt's
# labels ("Answer:", "Question:"), citation markers. A sentence carrying one is not evidence
# (a planted "Answer: the envoy is Colonel Sanders."), and none reaches the model.
PROMPT_LOOKALIKES = re.compile(
    r"</?\s*[A-Za-z_]+\s*>|\[\s*\d+(?:\s*,\s*\d+)*\s*\]"
    r"|\b(?:answer|question|passages?|system|assistant|user|instructions?)\s*:",
    re.I,
)


@dataclass(frozen=True)
class Span:
    """A piece of text with its offsets into the text it was cut from."""

    start: int
    end: int
    text: str


def split_sentences(text: str, offset: int = 0) -> list[Span]:
    """Sentences of ``text`` with offsets (plus ``offset``) such that ``text[s:e] == span.text``."""
    spans: list[Span] = []
    start = 0
    for match in _BOUNDARY.finditer(text):
        if match.group(0).strip() == "" and "\n" not in match.group(0):
            before = text[start : match.start()].rsplit(None, 1)
            last = before[-1].rstrip(".").lower() if before else ""
            if last in _ABBREVIATIONS or (len(last) == 1 and last.isalpha()):
                continue
        _append(spans, text, start, match.start(), offset)
        start = match.end()
    _append(spans, text, start, len(text), offset)
    return spans


def _append(spans: list[Span], text: str, start: int, end: int, offset: int) -> None:
    piece = text[start:end]
    stripped = piece.strip()
    if not stripped:
        return
    lead = len(piece) - len(piece.lstrip())
    s = start + lead
    e = s + len(stripped)
    spans.append(Span(s + offset, e + offset, stripped))


def stem(word: str) -> str:
    """Suffix-stripping then truncation: 'hostages'/'hostage', 'seized'/'seize' share a stem."""
    word = word.lower().replace("’", "'")
    if word.endswith("'s"):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        word = word[:-1]
    for suffix in ("ing", "ed", "e"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            word = word[: -len(suffix)]
            break
    return word[:6]


def words(text: str) -> list[str]:
    return _folded_words(_fold_accents(text))


def _folded_words(folded: str) -> list[str]:
    return [w.lower().replace("’", "'") for w in _WORD.findall(folded)]


def _fold_accents(text: str) -> str:
    """The text without accents ("Maizière" -> "Maiziere"): a name is the same name whether
    or not a question writes its accents."""
    if text.isascii():
        return text
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def content_words(text: str) -> set[str]:
    """Stemmed words that carry topic: no stopwords, no one-letter words, numbers normalised;
    a hyphenated word also counts whole ("cease-fire" carries 'ceasef' like "ceasefire")."""
    folded = _fold_accents(text)  # once: sentence scoring reads every retrieved sentence
    out: set[str] = {stem(m.group(0).replace("-", "")) for m in _HYPHENATED.finditer(folded)}
    for word in _folded_words(folded):
        if word[0].isdigit():
            out.add(_normalise_number(word))
        elif word not in STOPWORDS and len(word) > 1:
            number = _NUMBER_WORDS.get(word)
            out.add(str(number) if number is not None and number < 100 else stem(word))
    return out


def numbers(text: str, *, lone_one: bool = True) -> set[str]:
    """The numbers a text states, in digits or in words ("forty-two", "fifty-seven thousand"),
    as canonical strings: "42 days" and "forty-two days" state the same number. Without
    ``lone_one`` a "one" standing alone is no number ("how does one measure", "phase one")."""
    found = {_normalise_number(m) for m in _NUM.findall(text)}
    for match in _SPELLED.finditer(text):
        if not lone_one and match.group(0).lower() == "one":
            continue
        found.add(str(_spelled_value(re.findall(r"[A-Za-z]+", match.group(0).lower()))))
    return found


def _spelled_value(tokens: list[str]) -> int:
    total = current = 0
    for token in tokens:
        value = _NUMBER_WORDS.get(token)
        if value is None:  # "and" inside "one hundred and five"
            continue
        if value == 100:
            current = max(current, 1) * 100
        elif value >= 1000:
            total += max(current, 1) * value
            current = 0
        else:
            current += value
    return total + current


_NUMBER_WORD = "|".join(sorted(_NUMBER_WORDS, key=len, reverse=True))
_SPELLED = re.compile(rf"\b(?:{_NUMBER_WORD})(?:(?:[\s-]+|\s+and\s+)(?:{_NUMBER_WORD}))*\b", re.I)


_CAPITALISED = re.compile(r"(?<![\w'’-])[^\W\d_][\w'’-]*")


def names(text: str) -> set[str]:
    """Words written with a capital that are not function words ("Witkoff", "March", "Qatar"),
    lowercased and without a possessive: what a claim names. In a script without capitals
    this is empty and the check rests on numbers."""
    found: set[str] = set()
    for match in _CAPITALISED.finditer(_fold_accents(text)):
        if not match.group(0)[0].isupper():
            continue
        name = _POSSESSIVE.sub("", match.group(0).lower().replace("’", "'"))
        for word in name.split("-"):  # "Al-Thani" is found as the words "al" and "thani"
            if len(word) > 1 and word not in STOPWORDS and not word[0].isdigit():
                found.add(word)
    return found


def facts(text: str) -> set[str]:
    """The checkable facts a text states: its numbers and the words it names."""
    return numbers(text) | names(text)


def word_set(text: str) -> set[str]:
    """Every word and number of a text, lowercased, possessives dropped: where facts are
    looked up."""
    return {_POSSESSIVE.sub("", w) for w in words(text)} | numbers(text)


_POSSESSIVE = re.compile(r"'s?$")


def _normalise_number(token: str) -> str:
    token = token.replace(",", "")
    if "." in token:
        token = token.rstrip("0").rstrip(".")
    return token.lstrip("0") or "0"
