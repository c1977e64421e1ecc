"""Sentence-aware chunking: passages of whole sentences, with overlap, as offsets into the text."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

# all-MiniLM-L6-v2 reads 256 word pieces; about 200 words fit. Only a sentence longer than this
# is cut, at word boundaries.
EMBED_WINDOW_WORDS = 200

# Words whose trailing period does not end a sentence.
_ABBREVIATIONS = frozenset(
    [
        "mr",
        "mrs",
        "ms",
        "dr",
        "prof",
        "sr",
        "jr",
        "st",
        "gen",
        "col",
        "lt",
        "maj",
        "capt",
        "sgt",
        "cmdr",
        "adm",
        "rep",
        "sen",
        "gov",
        "pres",
        "rev",
        "hon",
        "jan",
        "feb",
        "mar",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
        "mon",
        "tue",
        "wed",
        "thu",
        "fri",
        "sat",
        "sun",
        "no",
        "nos",
        "vol",
        "fig",
        "inc",
        "ltd",
        "co",
        "corp",
        "bros",
        "dept",
        "est",
        "approx",
        "vs",
        "etc",
        "al",
        "cf",
        "ca",
    ]
)
# A sentence ends at . ! ? (or …), optionally followed by closing quotes or brackets.
_END_RE = re.compile(r"[.!?…]+[\"'”’)\]]*(?=\s)")
_WORD_RE = re.compile(r"\S+")
_NEXT_RE = re.compile(r"\s+(\S)")


@dataclass(frozen=True)
class Span:
    """A chunk before it gets an id: ``text[start:end]`` of its document."""

    ordinal: int
    start: int
    end: int


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of every sentence; a line break always ends one (headings, bullets)."""
    spans: list[tuple[int, int]] = []
    for line_start, line_end in _line_spans(text):
        start = line_start
        for match in _END_RE.finditer(text, line_start, line_end):
            end = match.end()
            if _is_abbreviation(text, match.start()) or not _next_starts_sentence(text, end):
                continue
            spans.append((start, end))
            start = _skip_space(text, end, line_end)
        if start < line_end:
            spans.append((start, line_end))
    return spans


def chunk_text(text: str, max_words: int = 90, overlap_sentences: int = 1) -> list[Span]:
    """Greedy chunks of whole sentences, at most ``max_words`` words each (a longer sentence
    is a chunk of its own), each starting with the last ``overlap_sentences`` of the one before."""
    sentences = [piece for span in sentence_spans(text) for piece in _split_long(text, *span)]
    words = [len(text[s:e].split()) for s, e in sentences]
    spans: list[Span] = []
    first, covered = 0, 0  # covered: sentences already in some chunk
    while covered < len(sentences):
        first = max(min(first, covered), 0)
        last = _fill(words, first, max_words)
        if last <= covered:  # the overlap left no room for a new sentence
            first = covered
            last = _fill(words, first, max_words)
        spans.append(Span(len(spans), sentences[first][0], sentences[last - 1][1]))
        covered = last
        first = last - overlap_sentences if last - overlap_sentences > first else last
    return spans


def _fill(words: list[int], first: int, max_words: int) -> int:
    """One past the last sentence of a chunk starting at ``first``."""
    total, last = words[first], first + 1
    while last < len(words) and total + words[last] <= max_words:
        total += words[last]
        last += 1
    return last


def _line_spans(text: str) -> Iterator[tuple[int, int]]:
    position = 0
    for line in text.split("\n"):
        stripped = line.strip()
        if stripped:
            start = position + line.index(stripped)
            yield start, start + len(stripped)
        position += len(line) + 1


def _is_abbreviation(text: str, dot: int) -> bool:
    if text[dot] != ".":
        return False
    word_start = dot
    while word_start > 0 and not text[word_start - 1].isspace():
        word_start -= 1
    word = text[word_start:dot].lstrip("(\"'“‘")
    if not word:
        return False
    if word.lower() in _ABBREVIATIONS:
        return True
    # Initials and dotted acronyms: "J.", "U.S.", "e.g."
    return bool(re.fullmatch(r"[A-Za-z](\.[A-Za-z])*", word))


def _next_starts_sentence(text: str, end: int) -> bool:
    match = _NEXT_RE.match(text, end)
    if not match:
        return True
    char = match.group(1)
    return char.isupper() or char.isdigit() or char in "\"'“‘([•-–—*"


def _skip_space(text: str, position: int, limit: int) -> int:
    while position < limit and text[position].isspace():
        position += 1
    return position


def _split_long(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """A sentence too long for the embedder, cut at word boundaries into even pieces."""
    words = list(_WORD_RE.finditer(text, start, end))
    if len(words) <= EMBED_WINDOW_WORDS:
        return [(start, end)]
    parts = -(-len(words) // EMBED_WINDOW_WORDS)
    size = -(-len(words) // parts)
    pieces = []
    for first in range(0, len(words), size):
        group = words[first : first + size]
        pieces.append((group[0].start(), group[-1].end()))
    return pieces
