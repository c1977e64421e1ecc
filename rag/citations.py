"""Citations, verified: parse ``[n]`` markers, check each claim against its passage, renumber.

A claim (one sentence of the answer) is supported by a set of passages when every fact it
states, each number (digits or words) and each name (a capitalised word), occurs in them, and
at least ``SUPPORT_THRESHOLD`` of its content words not taken from the question do. The facts
are checked whether or not the question mentioned them: "The 2024 Super Bowl was won by
Michael Jackson [1]" cites a passage with neither "2024" nor "Michael Jackson" and is dropped.
A claim that only restates the question answers nothing and is dropped too. Markers pointing at
no passage are dropped; a claim whose cited passages do not support it gets the passage (or
pair of passages) that does; a claim nothing supports is removed. Citations are renumbered
1..N in order of first use.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rag.context import Passage
from rag.text import content_words, facts, split_sentences, word_set, words
from rag.types import Citation

__all__ = [
    "SUPPORT_THRESHOLD",
    "Claim",
    "Verified",
    "is_abstention",
    "parse_claims",
    "render",
    "support",
    "verify",
]

# Set on the seed questions: paraphrased true claims score >= 0.6, invented names/figures <= 0.34.
SUPPORT_THRESHOLD = 0.5

_MARKER = re.compile(r"\[\s*(?:passages?\s*)?(\d+(?:\s*(?:[,;]|and)\s*\d+)*)\s*\]", re.I)
_LEADING_MARKERS = re.compile(r"^(?:\s*\[[^\]]*\])+")
# "Witkoff.[1] He met Hamas.[2]": markers after a full stop go before it, as in "Witkoff [1]."
_MARKS_AFTER_STOP = re.compile(rf"([.!?])((?:[ \t]*{_MARKER.pattern})+)(?:[ \t]*[.!?])?", re.I)
_LABEL = re.compile(r"^\s*(?:answer|response)\s*:\s*", re.I)
# The passages, said to lack the answer: an abstention whatever else the sentence cites.
_SOURCES_SILENT = re.compile(
    r"\b(?:articles?|passages?|sources?|texts?|context)\b[^.]{0,40}?\b(?:do|does|did)\s*"
    r"(?:n[o'’]?t|not)\s+(?:say|mention|state|specify|provide|contain|include|answer|tell|give)"
    r"|\b(?:none|neither) of the (?:articles|passages|sources|texts)\b"
    r"|\bneither (?:article|passage|source|text)\b"
    r"|\bnot (?:in|from) the (?:articles?|passages?|sources?|texts?|context)\b",
    re.I,
)
# Said with no passage cited, these are abstentions too; with one, they can be the answer
# ("Police gave no details of the victims [1].").
_UNKNOWN = re.compile(
    r"\bnot (?:mentioned|stated|specified|provided|given|say)\b"
    r"|\bno (?:information|mention|details?)\b"
    r"|\b(?:cannot|can[’']t|unable to) (?:be )?(?:answer|determine|find|say|tell)"
    r"|\b(?:don[’']?t|do not) know\b",
    re.I,
)


@dataclass(frozen=True)
class Claim:
    """One sentence of an answer and the passage numbers it cites."""

    text: str  # without markers
    cited: tuple[int, ...] = ()
    score: float = 0.0


@dataclass(frozen=True)
class Verified:
    """An answer after checking: supported claims only, citations renumbered."""

    text: str
    citations: tuple[Citation, ...]
    abstained: bool  # the model said the passages don't answer, and nothing supported remains
    dropped: int  # claims removed because no passage supports them
    claims: tuple[Claim, ...] = ()  # the kept claims, cited with the passages' own numbers

    @property
    def kept(self) -> int:
        return len(self.claims)


def is_abstention(text: str, cited: Sequence[int] = ()) -> bool:
    """Whether the model said, in any of the usual ways, that the passages don't answer; a
    sentence citing a passage says so only by naming the passages ("the articles don't say")."""
    return bool(_SOURCES_SILENT.search(text) or (not cited and _UNKNOWN.search(text)))


def parse_claims(answer: str) -> list[Claim]:
    """Sentences with their ``[n]`` markers (``[1]``, ``[1, 2]``, ``[1][2]``) pulled out."""
    claims: list[tuple[str, list[int]]] = []
    answer = _MARKS_AFTER_STOP.sub(r"\2\1", _LABEL.sub("", answer.strip()))
    for span in split_sentences(answer):
        sentence = span.text
        leading = _LEADING_MARKERS.match(sentence)
        if leading and claims:  # "... 42 days. [1] Next" puts the marker on the sentence before
            claims[-1][1].extend(_numbers_in(leading.group(0)))
            sentence = sentence[leading.end() :]
        cited = _numbers_in(sentence)
        text = _MARKER.sub("", sentence)
        text = re.sub(r"\s+([.,;:!?。，；：！？])", r"\1", " ".join(text.split())).strip()
        if text.strip(" .,;:!?-"):
            claims.append((text, cited))
        elif claims:
            claims[-1][1].extend(cited)
    return [Claim(text, tuple(dict.fromkeys(cited))) for text, cited in claims]


def _numbers_in(text: str) -> list[int]:
    return [int(n) for m in _MARKER.finditer(text) for n in re.findall(r"\d+", m.group(1))]


def support(claim: str, passage_text: str, question: str = "") -> float:
    """How much of ``claim`` the passage states: 0 when a number or name of the claim is not
    in it, else the share of the claim's content words beyond the question it carries."""
    if not facts(claim) <= word_set(passage_text):
        return 0.0
    new = content_words(claim) - content_words(question)  # what the claim adds to the question
    if not new:  # a restated question ("The population of Gaza.") answers nothing
        return 0.0
    return len(new & content_words(passage_text)) / len(new)


def _best_support(
    claim: Claim, passages: Sequence[Passage], question: str, threshold: float
) -> tuple[tuple[int, ...], float]:
    """The cited passages if they support the claim, else the best one or two that do."""
    by_n = {p.n: p for p in passages}
    cited = [n for n in claim.cited if n in by_n]
    if cited:
        joined = " ".join(by_n[n].text for n in cited)
        score = support(claim.text, joined, question)
        if score >= threshold:
            # Keep only the cited passages that carry part of the claim themselves.
            useful = tuple(n for n in cited if support(claim.text, by_n[n].text, question) > 0.2)
            return useful or tuple(cited), score
    singles = sorted(((support(claim.text, p.text, question), p.n) for p in passages), reverse=True)
    if singles and singles[0][0] >= threshold:
        return (singles[0][1],), singles[0][0]
    top = [n for _, n in singles[:3]]
    for i, a in enumerate(top):
        for b in top[i + 1 :]:
            score = support(claim.text, by_n[a].text + " " + by_n[b].text, question)
            if score >= threshold:
                return (a, b), score
    return (), 0.0


def verify(
    answer: str,
    passages: Sequence[Passage],
    question: str,
    *,
    threshold: float = SUPPORT_THRESHOLD,
) -> Verified:
    """Check every claim of a model's answer against the passages it was shown."""
    kept: list[Claim] = []
    dropped = 0
    said_abstain = False
    given = content_words(question)
    for claim in parse_claims(answer):
        if is_abstention(claim.text, claim.cited):
            said_abstain = True
            continue
        if not content_words(claim.text) - given:
            continue  # it only restates the question: no claim to check, no answer either
        if _copies_a_title(claim.text, passages):
            continue  # a small model copying a passage's headline says nothing about it
        cited, score = _best_support(claim, passages, question, threshold)
        if cited:
            kept.append(Claim(claim.text, cited, score))
        else:
            dropped += 1
    text, citations = render(kept, passages)
    return Verified(
        text=text,
        citations=citations,
        abstained=said_abstain and not kept,
        dropped=dropped,
        claims=tuple(kept),
    )


def _copies_a_title(text: str, passages: Sequence[Passage]) -> bool:
    """Whether the claim is a run of whole words of a passage's headline, or the headline and
    little else ("12" is no copy of "Talks resume 120 days into war")."""
    said = words(text)
    if not said:
        return False
    said_length = len(" ".join(said))
    for passage in passages:
        title = words(passage.title)
        if not title:
            continue
        if _within(said, title):
            return True
        if _within(title, said) and said_length <= len(" ".join(title)) + 12:
            return True
    return False


def _within(part: list[str], whole: list[str]) -> bool:
    """Whether ``part`` occurs in ``whole`` as a run of whole words."""
    return any(whole[i : i + len(part)] == part for i in range(len(whole) - len(part) + 1))


def render(
    claims: Sequence[Claim], passages: Sequence[Passage]
) -> tuple[str, tuple[Citation, ...]]:
    """Answer text with markers renumbered 1..N by first use, and the citations they name."""
    by_n = {p.n: p for p in passages}
    numbering: dict[int, int] = {}
    best: dict[int, float] = {}
    sentences: list[str] = []
    for claim in claims:
        marks = ""
        for n in claim.cited:
            new = numbering.setdefault(n, len(numbering) + 1)
            best[n] = max(best.get(n, 0.0), claim.score)
            marks += f"[{new}]"
        sentences.append(_with_marks(claim.text, marks))
    citations = tuple(
        _citation(new, by_n[old], best[old])
        for old, new in sorted(numbering.items(), key=lambda item: item[1])
    )
    return " ".join(sentences), citations


def _with_marks(text: str, marks: str) -> str:
    if not marks:
        return text
    body = text.rstrip()
    end = len(body)
    while end and body[end - 1] in '.!?。！？"”’':
        end -= 1
    return f"{body[:end]} {marks}{body[end:]}"


def _citation(n: int, passage: Passage, score: float) -> Citation:
    return Citation(
        n=n,
        doc_id=passage.doc_id,
        title=passage.title,
        text=passage.text,
        start=passage.start,
        end=passage.end,
        score=round(min(max(score, 0.0), 1.0), 4),
        url=passage.url,
        published=passage.published,
        also_in=passage.also_in,
    )
