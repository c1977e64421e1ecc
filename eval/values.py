"""Values an answer states (numbers, dates, names), and those that conflict with the gold.

The rules are stated in ``eval/scoring.py``; this module only reads text. It is written for
English text, the language of the eval sets: month names, number words and a short list of
words that start sentences are English.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

__all__ = ["Values", "conflicts", "is_name", "stated"]

# fmt: off
_CARDINALS = {
    word: n for n, word in enumerate(
        ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
         "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
         "eighteen", "nineteen"])
} | {word: 10 * n for n, word in enumerate(
        ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"], start=2)}
_SCALES = {"hundred": 100, "thousand": 1_000, "million": 1_000_000, "billion": 1_000_000_000,
           "trillion": 1_000_000_000_000}
_MONTHS = {name: n for n, names in enumerate(
    [("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"), ("may",),
     ("june", "jun"), ("july", "jul"), ("august", "aug"), ("september", "sep", "sept"),
     ("october", "oct"), ("november", "nov"), ("december", "dec")], start=1) for name in names}
# Words that start sentences without being names; a capitalised word opening a sentence is a
# name only when it is not one of these and is never written in lower case nearby.
_OPENER_WORDS = """
a about according after all also although an and another any as at because before both but
by despite during each either every for from he her here his however i if in it its many
meanwhile more most my neither no nor not of on one or other our she since so some such than
that the their them then there these they this those though to under unlike until we what
when where which while who whom whose why with yes yet you your
"""
_OPENERS = frozenset(_OPENER_WORDS.split())
# Capitalised words that name no one: honorifics and weekdays (months are dates).
_NOT_NAMES = frozenset(
    ["mr", "mrs", "ms", "dr", "prof", "sir", "monday", "tuesday", "wednesday", "thursday",
     "friday", "saturday", "sunday"]
)
_CONNECTORS = frozenset({"and", "of", "the", "or", "de", "al", "bin", "von", "van", "del", "la"})
# fmt: on

_MARKER = re.compile(r"\[\d+(?:\s*,\s*\d+)*\]")
_DOTTED = re.compile(r"\b((?:[A-Z]\.){2,})")  # U.S. -> US
_TOKEN = re.compile(
    r"(?P<num>(?<![\w.])(?:\d{1,3}(?:,\d{3})+(?!\d)|\d+)(?:\.\d+)?(?P<ord>st|nd|rd|th)?(?![^\W_]))"
    r"|(?P<word>[^\W\d_]+(?:['’][^\W\d_]+)?)"
)
_SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+|\n+")
_POSSESSIVE = re.compile(r"['’]s?$")


@dataclass(frozen=True)
class Values:
    """What a text states: quantities (numbers that are not part of a date), date parts
    (``y2023``, ``m10``, ``d10-7``) and names (runs of capitalised words, as written)."""

    quantities: frozenset[float]
    dates: frozenset[str]
    names: tuple[str, ...]


def stated(text: str, *, context: str = "") -> Values:
    """The values in ``text`` (citation markers ignored). ``context`` (the question, the cited
    passages) only helps tell a sentence's first word from a name."""
    text = _DOTTED.sub(_undot, _MARKER.sub(" ", text))
    quantities, dates = _numbers(text)
    return Values(frozenset(quantities), frozenset(dates), tuple(_names(text, context)))


def is_name(answer: str) -> bool:
    """Whether a gold answer is a name: its words, except connectors (and, of, the, ...), all
    start with a capital letter, and it has at least one such word ("Egypt and the United
    States", "President Donald Trump"; not "a wastewater treatment center")."""
    words = [m.group("word") for m in _TOKEN.finditer(answer) if m.group("word")]
    if any(m.group("num") for m in _TOKEN.finditer(answer)):
        return False
    content = [w for w in words if w.lower() not in _CONNECTORS]
    return bool(content) and all(w[0].isupper() for w in content)


def conflicts(
    answer: str, question: str, golds: Sequence[str], *, context: str = ""
) -> tuple[str, ...]:
    """The values the answer states, beyond the question's, that no gold answer allows:

    - numbers, when a gold answer states one: every quantity must be a gold quantity;
    - dates, when a gold answer states one: every year, month and day must match a gold one
      of the same part (a gold year alone leaves months and days free);
    - names, when a gold answer is a name: every name must share a word with the question or
      a gold answer (prefixes count: "Israeli" shares "Israel").
    Quantities are not compared with dates, so the date of an attack does not conflict with
    its death toll. Returns the conflicting values as written, for the report.
    """
    said = stated(answer, context=f"{question}\n{context}")
    asked = stated(question)
    gold = [stated(g) for g in golds]
    found: list[str] = []
    gold_quantities = frozenset().union(*(g.quantities for g in gold))
    if gold_quantities:
        known = gold_quantities | asked.quantities | _years_as_numbers(asked.dates)
        found += [_number(q) for q in sorted(said.quantities - known)]
    gold_dates = frozenset().union(*(g.dates for g in gold))
    for part in sorted({d[0] for d in gold_dates}):
        wanted = {d for d in gold_dates if d[0] == part} | asked.dates
        found += sorted(d for d in said.dates if d[0] == part and d not in wanted)
    if any(is_name(g) for g in golds):
        allowed = _words([question, *golds])
        for name in said.names:
            words = _words([name])
            if words and not any(_same_name(w, a) for w in words for a in allowed):
                found.append(name)
    return tuple(found)


def _numbers(text: str) -> tuple[set[float], set[str]]:
    tokens = list(_TOKEN.finditer(text))
    quantities: set[float] = set()
    dates: set[str] = set()
    i = 0
    while i < len(tokens):
        m = tokens[i]
        word = (m.group("word") or "").lower()
        if m.group("num"):
            raw = m.group("num")[: len(m.group("num")) - len(m.group("ord") or "")]
            value = float(raw.replace(",", ""))
            scale = _SCALES.get(_word_at(tokens, i + 1))
            if scale and scale >= 1000:
                # Decimal, not float: 4.1 * 1e6 in floats is 4099999.9999999995, not 4,100,000.
                quantities.add(float(Decimal(raw.replace(",", "")) * scale))
                i += 2
                continue
            month = _month_near(tokens, i)
            if month and value.is_integer() and 1 <= value <= 31:
                dates.update({f"m{month}", f"d{month}-{int(value)}"})
            elif "," not in raw and "." not in raw and len(raw) == 4 and 1000 <= value <= 2100:
                dates.add(f"y{int(value)}")
            else:
                quantities.add(value)
        elif word in _MONTHS and m.group("word")[0].isupper():
            dates.add(f"m{_MONTHS[word]}")
        elif word in _CARDINALS or (word == "a" and _word_at(tokens, i + 1) in _SCALES):
            value, used = _spelled(tokens, i)
            if used > 1 or word not in ("one", "a"):  # a lone "one" is a pronoun, not a count
                quantities.add(float(value))
            i += used
            continue
        i += 1
    return quantities, dates


def _spelled(tokens: Sequence[re.Match[str]], start: int) -> tuple[int, int]:
    """A run of number words from ``start`` ("forty two", "a thousand", "one hundred and
    five") as (value, tokens used)."""
    total = current = 0
    i = start
    while i < len(tokens):
        word = _word_at(tokens, i)
        if word in _CARDINALS:
            current += _CARDINALS[word]
        elif word == "a" and i == start:
            current = 1
        elif word in _SCALES:
            current = max(current, 1) * _SCALES[word]
            if _SCALES[word] >= 1000:
                total, current = total + current, 0
        elif word == "and" and i > start and _word_at(tokens, i + 1) in _CARDINALS:
            pass
        else:
            break
        i += 1
    return total + current, i - start


def _word_at(tokens: Sequence[re.Match[str]], i: int) -> str:
    return (tokens[i].group("word") or "").lower() if 0 <= i < len(tokens) else ""


def _month_near(tokens: Sequence[re.Match[str]], i: int) -> int | None:
    """The month written right before ("October 7", "Oct. 7") or after ("7 October",
    "7th of October") a day number."""
    for j in (i - 1, i + 1, i + 2):
        if j == i + 2 and _word_at(tokens, i + 1) != "of":
            continue
        match = tokens[j] if 0 <= j < len(tokens) else None
        word = match.group("word") if match is not None else None
        if word and word[0].isupper() and word.lower() in _MONTHS:
            return _MONTHS[word.lower()]
    return None


def _years_as_numbers(dates: Iterable[str]) -> frozenset[float]:
    return frozenset(float(d[1:]) for d in dates if d.startswith("y"))


def _names(text: str, context: str) -> list[str]:
    """Runs of capitalised words not broken by punctuation; month names are dates, and a
    sentence's first word joins only when it is no common opener nor written in lower case
    in the text or its context."""
    lower_words = {w for w in re.findall(r"[^\W\d_]+", f"{text}\n{context}") if w.islower()}
    names: list[str] = []
    for sentence in _SENTENCE_END.split(text):
        run: list[str] = []
        end = 0
        for match in [*_TOKEN.finditer(sentence), None]:
            word = match.group("word") if match is not None else None
            joined = match is not None and not sentence[end : match.start()].strip()
            if run and not (word and joined and word[0].isupper()):
                names.append(" ".join(run))
                run = []
            if match is None:
                break
            end = match.end()
            bare = _POSSESSIVE.sub("", word or "").lower()
            if not word or not word[0].isupper() or bare in _MONTHS or bare in _NOT_NAMES:
                if run:  # "Mr. Witkoff" keeps "Witkoff"; a weekday ends a run
                    names.append(" ".join(run))
                    run = []
                continue
            opening = not sentence[: match.start()].strip()
            if opening and (bare in _OPENERS or bare in lower_words):
                continue
            run.append(word)
    return list(dict.fromkeys(names))


def _words(texts: Iterable[str]) -> set[str]:
    found: set[str] = set()
    for text in texts:
        for word in re.findall(r"[^\W\d_]+(?:['’][^\W\d_]+)?", _DOTTED.sub(_undot, text)):
            word = _POSSESSIVE.sub("", word).lower()
            if word not in _CONNECTORS and word not in _OPENERS:
                found.add(word)
    return found


def _undot(match: re.Match[str]) -> str:
    return match.group(1).replace(".", "") + " "


def _same_name(word: str, other: str) -> bool:
    """Whether two words are forms of one name: equal, or sharing all but two letters of the
    shorter one, four at least ("Israeli" and "Israel", "Palestinian" and "Palestine")."""
    if word == other:
        return True
    short = min(len(word), len(other))
    return short >= 4 and len(_common_prefix(word, other)) >= max(4, short - 2)


def _common_prefix(a: str, b: str) -> str:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return a[:n]


def _number(value: float) -> str:
    return str(int(value)) if value.is_integer() else str(value)
