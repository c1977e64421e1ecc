"""Article cleaning by general rules: site boilerplate, trailers and repeated paragraphs out."""

from __future__ import annotations

import re
import unicodedata

# Whole lines that web pages wrap around an article. Each pattern is matched against the
# stripped line, case-insensitively, and must cover the whole line.
_BOILERPLATE = [
    # Comment prompts and forms.
    r"(leave|post|add|write|submit) a (reply|comment|response)",
    r"(\d+\s+)?(comments?|replies|responses)(\s*\(\d+\))?",
    r"cancel reply|join the (conversation|discussion)|comments? (are )?closed\.?",
    r"your email address will not be published\b.*",
    r"required fields are marked\s*\*?",
    r"(name|email|website)\s*\*?",
    r"save my name, email,? and website in this browser.*",
    # Advertising and promotion.
    r"(advertisement|advertising|sponsored( content)?|promoted( content)?|ad)(\s*[-:–—].{0,40})?",
    r"(scroll|continue) (down )?to (continue|read)( reading)?.{0,20}",
    r"(subscribe|sign up)\b.{0,60}(newsletter|updates|alerts)\b.{0,30}",
    r"follow us( on)?\b.{0,60}",
    r"(share|share this|share this (article|story|post)|share on \w+|click to share.{0,40})",
    r"(tweet|print|email|whatsapp|facebook|twitter|linkedin|pinterest|telegram|reddit)"
    r"(\s*[|/·•,]\s*(tweet|print|email|whatsapp|facebook|twitter|linkedin|pinterest|telegram|reddit))*",
    # Navigation.
    r"((previous|next|older|newer)\s+(post|article|story|page)\s*[:»«]?\s*)+",
    r"(related|recommended|more)( (posts|articles|stories|news|for you|from \w+))?:?",
    r"(you (may|might) (also )?like|read (more|also|next)|also read|see also)\b.{0,80}",
    r"trending( now)?",
    r"(back to top|skip to (main )?content|toggle navigation|main menu|menu|search)",
    # Taxonomy and copyright.
    r"(tags?|tagged( with)?|filed under|categor(y|ies)|topics?)(\s*:\s*[^.!?]{0,150})?",
    r"(©|\(c\)|copyright\b).{0,150}",
    r"all rights reserved\.?",
    # Citation trailers.
    r"(sources?|references?|via|credits?|originally published (at|on|by))\s*:.{0,200}",
]
_BOILERPLATE_RE = re.compile("|".join(f"(?:{p})" for p in _BOILERPLATE), re.IGNORECASE)
# A heading that opens a trailer of links or titles ("Reference", "Sources").
_TRAILER_HEADING_RE = re.compile(r"(sources?|references?|further reading)\s*:?", re.IGNORECASE)
_SENTENCE_END_RE = re.compile(r"[.!?…][\"'”’)\]]*$")
_WORD_RE = re.compile(r"\w+")
_SPACES_RE = re.compile(r"[^\S\n]+")

# A repeated line counts as a repeated paragraph when it is at least this long.
_MIN_REPEAT_WORDS = 5
# A byline or site-name line: this many words at most, no sentence punctuation, no digits.
_MAX_BYLINE_WORDS = 3


def clean_text(text: str) -> str:
    """The stored form of an article: normalised whitespace, boilerplate and repeats removed.

    The first non-empty line (the title) is always kept, so ``title`` stays the first line.
    """
    lines = _normalise(text).split("\n")
    kept = _drop_boilerplate(lines)
    kept = _drop_repeats(kept)
    kept = _drop_edge_bylines(kept)
    return _join(kept)


def first_line(text: str) -> str:
    """The first non-empty line, stripped (a document's title by the contract's rule)."""
    for line in text.splitlines():
        if line.strip():
            return _SPACES_RE.sub(" ", line).strip()
    return ""


def _normalise(text: str) -> str:
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = text.replace("\ufeff", "").replace("\u00a0", " ").replace("\u200b", "")
    return "\n".join(_SPACES_RE.sub(" ", line).strip() for line in text.split("\n"))


def _key(line: str) -> str:
    """A line's identity for repeat detection: lower case, words only."""
    return " ".join(_WORD_RE.findall(line.lower()))


def _is_sentence(line: str) -> bool:
    return bool(_SENTENCE_END_RE.search(line)) and len(line.split()) >= 4


def _drop_boilerplate(lines: list[str]) -> list[str]:
    out: list[str] = []
    title_seen = False
    in_trailer = False
    for line in lines:
        if not line:
            out.append(line)
            continue
        if not title_seen:
            title_seen = True
            out.append(line)
            continue
        if in_trailer and not _is_sentence(line):
            continue  # titles and links listed under a "Reference" heading
        in_trailer = False
        if _TRAILER_HEADING_RE.fullmatch(line):
            in_trailer = True
            continue
        if _BOILERPLATE_RE.fullmatch(line) and not _is_long_sentence(line):
            continue
        out.append(line)
    return out


def _is_long_sentence(line: str) -> bool:
    # A real sentence that happens to start like boilerplate ("Share prices fell ...").
    return _is_sentence(line) and len(line.split()) > 12


def _drop_repeats(lines: list[str]) -> list[str]:
    """Keep the first copy of every paragraph; a repeated title line is a repeat too."""
    seen: set[str] = set()
    title_key = next((_key(line) for line in lines if line), "")
    out: list[str] = []
    for index, line in enumerate(lines):
        if not line:
            out.append(line)
            continue
        key = _key(line)
        standalone = (index == 0 or not lines[index - 1]) and (
            index + 1 == len(lines) or not lines[index + 1]
        )
        substantial = (
            len(key.split()) >= _MIN_REPEAT_WORDS
            or (standalone and bool(key))
            or (key == title_key and bool(key))
        )
        if substantial and key in seen:
            continue
        if substantial:
            seen.add(key)
        out.append(line)
    return out


def _is_byline(line: str) -> bool:
    words = line.split()
    return (
        len(words) <= _MAX_BYLINE_WORDS
        and not any(ch.isdigit() for ch in line)
        and not re.search(r"[.!?:;,]", line)
    )


def _drop_edge_bylines(lines: list[str]) -> list[str]:
    """Drop short site-name or byline lines between the title and the first paragraph,
    and after the last paragraph; headings in the middle of the article stay."""
    content = [i for i, line in enumerate(lines) if line]
    if len(content) < 3:
        return lines
    title = content[0]
    paragraphs = [i for i in content[1:] if _is_sentence(lines[i])]
    if not paragraphs:
        return lines
    first, last = paragraphs[0], paragraphs[-1]
    out = []
    for i, line in enumerate(lines):
        at_edge = title < i < first or i > last
        if line and at_edge and _is_byline(line):
            continue
        out.append(line)
    return out


def _join(lines: list[str]) -> str:
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip()
