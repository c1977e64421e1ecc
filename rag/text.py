"""Small text tools shared by retrieval, prompts and citation checks: sentences, words, numbers."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

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
    "ninety": 90, "hundred": 100, "dozen": 12, "thousand": 1000, "million": 1_000_000,
    "billion": 1_000_000_000, "trillion": 1_000_000_000_000,
}  # fmt: skip
_NOT_TOPIC = STOPWORDS | _NUMBER_WORDS.keys()  # number words count as their values

# Letters of any script ("Besançon", "Jerónimo", "Zürich" are one word each), so that a name
# with an accent is found in the passage it came from. Scripts written without spaces (Chinese,
# Japanese, Thai, Lao, Khmer, Myanmar) are read a letter at a time: a run of them is a phrase.
_SPACELESS = (
    "\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
)
_LETTER = rf"[^\W\d_{_SPACELESS}]"
_LETTERS = rf"{_LETTER}+"
_WORD = re.compile(rf"{_LETTERS}(?:['’]{_LETTERS})*|[{_SPACELESS}]+|\d[\d,]*(?:\.\d+)?")
_SPACELESS_RUN = re.compile(rf"[{_SPACELESS}]+")
# Only from a word's start: tried at every letter of a long unbroken run ("acgtacgt...", a
# pasted key) it took time growing with the square of its length, seconds for 10,000 letters.
_HYPHENATED = re.compile(rf"(?<!{_LETTER}){_LETTERS}(?:-{_LETTERS})+")
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
    found: list[str] = []
    for word in _WORD.findall(folded):
        if len(word) > 2 and _SPACELESS_RUN.fullmatch(word):
            # Pairs of letters stand for words: "威特科夫" is in "特使威特科夫周日"; "普京" is not.
            found.extend(word[i : i + 2] for i in range(len(word) - 1))
        else:
            found.append(word.lower().replace("’", "'"))
    return found


def _fold_accents(text: str) -> str:
    """The text without accents ("Maizière" -> "Maiziere"): a name is the same name whether
    or not a question writes its accents."""
    if text.isascii():
        return text
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def content_words(text: str) -> set[str]:
    """Stemmed words that carry topic: no stopwords, no one-letter words (but a letter of a
    script written without spaces, read in pairs), numbers normalised;
    a hyphenated word also counts whole ("cease-fire" carries 'ceasef' like "ceasefire")."""
    folded = _fold_accents(text)  # once: sentence scoring reads every retrieved sentence
    out = numbers(folded)  # "forty-two" and "42" are one word, "1.2 million" one number
    for match in _HYPHENATED.finditer(folded):
        parts = match.group(0).lower().split("-")
        if not all(part in _NUMBER_WORDS for part in parts):
            out.add(stem("".join(parts)))
    for word in _folded_words(folded):
        if word[0].isdigit() or word in _NOT_TOPIC:
            continue
        if len(word) > 1 or _SPACELESS_RUN.match(word):
            out.add(stem(word))
    return out


def numbers(text: str, *, lone_one: bool = True) -> set[str]:
    """The numbers a text states, in digits, words or both ("forty-two", "fifty-seven thousand",
    "1.2 million"), as canonical strings: "42 days" and "forty-two days" state the same number,
    and so do "1,200,000" and "1.2 million". Without ``lone_one`` a "one" standing alone is no
    number ("how does one measure", "phase one")."""
    found: set[str] = set()
    for group in _number_groups(text):
        if not lone_one and group == [("unit", Decimal(1))]:  # only "one" reads as that
            continue
        found.update(_canonical(value) for value in _read_number(group))
    return found


def _number_groups(text: str) -> Iterator[list[tuple[str, Decimal]]]:
    """Runs of number tokens (digits, number words, an "and" between them) that touch, each
    as its kind (see ``_FOLLOWS``) and value."""
    group: list[tuple[str, Decimal]] = []
    end = 0
    for match in _NUMBER_TOKEN.finditer(text):
        token = match.group(0).lower()
        if group and not _JOINER.fullmatch(text[end : match.start()]):
            yield group
            group = []
        if token == "and":
            if group:
                group.append(("and", Decimal(0)))
        elif token[0].isdigit():
            group.append(("digits", Decimal(token.replace(",", ""))))
        else:
            group.append((_WORD_KIND[token], Decimal(_NUMBER_WORDS[token])))
        end = match.end()
    if group:
        yield group


def _read_number(group: list[tuple[str, Decimal]]) -> list[Decimal]:
    """The numbers a run of tokens states: "two hundred and five" is 205, "2 million" is
    2000000, "two dozen" is 24; tokens that cannot continue a number ("between two and
    three", "nineteen ninety-nine") start the next one."""
    values: list[Decimal] = []
    total, current, last = Decimal(0), Decimal(0), ""
    for kind, value in group:
        if kind == "and":
            if last not in ("hundred", "scale"):
                if last:
                    values.append(total + current)
                total, current, last = Decimal(0), Decimal(0), ""
            else:
                last = "and"
            continue
        if last and kind not in _FOLLOWS.get(last, ()):
            values.append(total + current)
            total, current = Decimal(0), Decimal(0)
        if kind == "hundred":
            current = (current or Decimal(1)) * 100
        elif kind == "scale":
            total += (current or Decimal(1)) * value
            current = Decimal(0)
        else:
            current += value
        last = kind
    if last:
        values.append(total + current)
    return values


# Which kind of token may continue a number after which: "forty" "two", "two" "hundred",
# "hundred" "five", "2" "million", "million" "two"; anything else starts a new number.
_FOLLOWS = {
    "digits": ("hundred", "scale"),
    "unit": ("hundred", "scale"),
    "tens": ("unit", "hundred", "scale"),
    "hundred": ("unit", "tens", "scale"),
    "scale": ("unit", "tens"),
    "and": ("unit", "tens"),
}


def _canonical(value: Decimal) -> str:
    if value == value.to_integral_value():
        return str(int(value))
    return format(value.normalize(), "f")


# "unit" is one to nineteen, "tens" twenty to ninety, "scale" multiplies what came before.
_WORD_KIND = {
    word: "hundred" if word == "hundred"
    else "scale" if word == "dozen" or value >= 1000
    else "tens" if value >= 20
    else "unit"
    for word, value in _NUMBER_WORDS.items()
}  # fmt: skip
_NUMBER_WORD = "|".join(sorted(_NUMBER_WORDS, key=len, reverse=True))
_NUMBER_TOKEN = re.compile(rf"\d[\d,]*(?:\.\d+)?|\b(?:{_NUMBER_WORD}|and)\b", re.I)
_JOINER = re.compile(r"[\s-]*")


# A word, maybe hyphenated ("al-Sisi"); an opening quote is not part of it ("'Barbarossa'").
_CAPITALISED = re.compile(r"(?<![\w’-])(?<!\w')[^\W\d_][\w'’-]*")
# Words as names are read: letters first, then letters or digits ("G20", "MH17").
_NAME_WORD = re.compile(r"[^\W\d_][\w'’]*")


def names(text: str) -> set[str]:
    """Words written with a capital that are not function words ("Witkoff", "March", "Qatar"),
    lowercased and without a possessive: what a claim names. In a script without capitals
    this is empty and the check rests on numbers."""
    found: set[str] = set()
    for match in _CAPITALISED.finditer(_fold_accents(text)):
        # "Al-Thani" is found as the words "al" and "thani"; "al-Sisi" as "sisi".
        for part in match.group(0).replace("’", "'").split("-"):
            if not part or not part[0].isupper():
                continue
            word = _POSSESSIVE.sub("", part.lower())
            if len(word) > 1 and word not in STOPWORDS and word not in _NUMBER_WORDS:
                found.add(_MONTHS.get(word, word))  # "Forty-two" is a number, not a name
    return found


def facts(text: str) -> set[str]:
    """The checkable facts a text states: its numbers and the words it names."""
    return numbers(text) | names(text)


def word_set(text: str) -> set[str]:
    """Every word and number of a text, lowercased, possessives dropped: where facts are
    looked up."""
    folded = _fold_accents(text)
    found = {_POSSESSIVE.sub("", w) for w in _folded_words(folded)} | numbers(folded)
    for word in _NAME_WORD.findall(folded):  # "G20" as a name reads it
        found.add(_POSSESSIVE.sub("", word.lower().replace("’", "'")))
    found.update(m.group(0).replace(".", "").lower() for m in _INITIALISM.finditer(folded))
    found.update(_MONTHS[word] for word in found & _MONTHS.keys())
    return found


_POSSESSIVE = re.compile(r"'s?$")
# "U.S." is the name "US", "U.N." is "UN".
_INITIALISM = re.compile(r"(?<![\w.])(?:[^\W\d_]\.){2,}")
# A month's short form names the month: "Oct. 7" and "7 October" are one date.
_MONTHS = {
    "jan": "january", "feb": "february", "mar": "march", "apr": "april", "jun": "june",
    "jul": "july", "aug": "august", "sep": "september", "sept": "september", "oct": "october",
    "nov": "november", "dec": "december",
}  # fmt: skip
