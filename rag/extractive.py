"""Answers without a model: the best-supported sentences, and every differing figure when asked one.

Used for ``RAG_LLM_MODEL=extractive``, as the fallback when the LLM fails, and to complete a
model's answer when the passages disagree on the number the question asks for.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from rag.answer_kind import Kind, asked_part, covers, durations, expected_kind, topic_words
from rag.citations import Claim
from rag.context import Passage, ScoredSentence
from rag.text import STOPWORDS, content_words, numbers, stem, words

__all__ = [
    "claim_of",
    "conflicting_sentences",
    "extract",
    "focus_words",
    "lacks_focus",
    "off_target",
    "passage_of",
]

_FOCUS = re.compile(r"\b(?:how (?:many|much)|number of|amount of)\s+((?:[\w’'-]+\s*){1,3})", re.I)
# A sentence this close to the question (cosine of their embeddings) is about the same thing
# whatever its words: the seed questions' sentences in other words score 0.71-0.77, the closest
# sentence to a count the articles lack ("how many months", before the deeper search) 0.60.
_SAME_MEANING = 0.7
_YEAR = re.compile(r"^(1[89]|20)\d\d$")
_PERSISTENCE = frozenset(["still", "remain", "remains", "remaining", "left", "currently", "now"])
_INNER_NAME = re.compile(r"(?<=[\w,;] )[A-Z][\w’'-]+")  # a capitalised word not opening a sentence
_QUESTION_WORDS = frozenset(["many", "much", "number", "amount"])
_VERBS = frozenset(
    [
        "are",
        "is",
        "were",
        "was",
        "do",
        "does",
        "did",
        "have",
        "has",
        "had",
        "will",
        "would",
        "could",
        "can",
        "remain",
        "remained",
        "still",
    ]
)


def passage_of(sentence: ScoredSentence, passages: Sequence[Passage]) -> Passage | None:
    for passage in passages:
        if passage.doc_id == sentence.doc_id and passage.start <= sentence.start < passage.end:
            return passage
    return None


def extract(
    question: str,
    scored: Sequence[ScoredSentence],
    passages: Sequence[Passage],
    *,
    max_sentences: int = 2,
) -> list[Claim]:
    """The best sentence, plus a second one when it is nearly as good and says something new."""
    shown = [s for s in scored if passage_of(s, passages) is not None]
    focus = focus_words(question)
    if focus:  # a count question is answered by a sentence stating that count, or not at all
        shown = [s for s in shown if stated_figures(s.text, focus)]
    if not shown:
        return []
    best = shown[0]
    chosen = [best]
    # A second sentence only when the best is short and its neighbour-in-rank adds to it.
    for sentence in shown[1:max_sentences]:
        short = len(best.text.split()) < 12
        if short and sentence.score >= 0.9 * best.score and not _redundant(sentence, chosen):
            chosen.append(sentence)
    for sentence in conflicting_sentences(question, scored):
        if passage_of(sentence, passages) and sentence not in chosen:
            chosen.append(sentence)
    return [claim_of(s, passages) for s in chosen]


def claim_of(sentence: ScoredSentence, passages: Sequence[Passage]) -> Claim:
    """The sentence as a claim citing the passage that holds it."""
    passage = passage_of(sentence, passages)
    cited = (passage.n,) if passage else ()
    return Claim(sentence.text, cited, max(0.0, min(1.0, sentence.similarity)))


def _redundant(sentence: ScoredSentence, chosen: Sequence[ScoredSentence]) -> bool:
    new = content_words(sentence.text)
    for other in chosen:
        old = content_words(other.text)
        if new and len(new & old) / len(new) > 0.6:
            return True
    return False


def focus_words(question: str) -> set[str]:
    """What a "how many" question counts: 'hostag' in "How many hostages remain?", and only the
    head noun: 'soldie' in "How many Israeli soldiers ..." (a count of people in Israel is not
    a count of Israeli soldiers); one per counted thing in "how many women and children"."""
    match = _FOCUS.search(question)
    if not match:
        return set()
    focus: set[str] = set()
    for phrase in _counted_phrases(match.group(1)):
        # The head noun: the plural when there is one ("hostages held", "Israeli soldiers"),
        # otherwise the first word ("people lost").
        plural = [word for word in phrase if word.lower().endswith("s") and len(word) > 3]
        focus |= {w for w in content_words((plural or phrase)[0]) if not w.isdigit()}
    return focus


def _counted_phrases(words_after: str) -> list[list[str]]:
    """What is counted, a phrase per thing ("kids and women": [kids], [women]), each up to two
    words and stopping at a verb ("hostages remain")."""
    phrases: list[list[str]] = [[]]
    for word in words_after.split():
        lowered = word.lower()
        if lowered in _VERBS:
            break
        if lowered in ("and", "or"):
            if not phrases[-1] or len(phrases) == 2:
                break
            phrases.append([])
        elif len(phrases[-1]) < 2:
            phrases[-1].append(word)
        else:
            break
    return [phrase for phrase in phrases if phrase]


def stated_figures(text: str, focus: set[str]) -> set[str]:
    """Numbers the text states about the focus ("24 living hostages", "about 50 hostages")."""
    tokens = words(text)
    found: set[str] = set()
    for i, token in enumerate(tokens):
        figure = numbers(token)
        if not figure or _YEAR.match(token.replace(",", "")):
            continue
        following = {stem(t) for t in tokens[i + 1 : i + 5]}
        if following & focus:
            found |= figure
    return found


def conflicting_sentences(
    question: str, scored: Sequence[ScoredSentence], *, margin: float = 0.3
) -> list[ScoredSentence]:
    """Sources that disagree on the count (or duration) the question asks for, best first.

    Each document's best sentence stating a count of the thing asked is its answer; when two
    documents' answers give different figures (and neither states the other's), both are
    returned. A document whose answer matches the question far worse than the best is ignored.
    """
    figures_of = _figures_asked(question)
    if figures_of is None:
        return []
    focus = focus_words(question)
    predicate = _predicate(question, focus) if focus else set()
    per_doc: dict[str, tuple[ScoredSentence, set[str]]] = {}
    for sentence in scored:  # best first, so the first per document is its best
        if sentence.doc_id in per_doc:
            continue
        figures = figures_of(sentence.text)
        if not figures:
            continue
        if per_doc and predicate and not predicate & _predicate(sentence.text, set()):
            continue  # a count of the same thing, but about something else (released, seized)
        per_doc[sentence.doc_id] = (sentence, figures)
    answers = list(per_doc.values())
    if len(answers) < 2:
        return []
    top = answers[0][0].similarity
    chosen = [answers[0][0]]
    covered = set(answers[0][1])
    for sentence, figures in answers[1:]:
        if sentence.similarity < top - margin or figures & covered:
            continue
        chosen.append(sentence)
        covered |= figures
        if len(chosen) == 3:
            break
    return chosen if len(chosen) > 1 else []


def asks_for_figure(question: str) -> bool:
    """Whether the question asks for a count or a duration, where sources may disagree."""
    return _figures_asked(question) is not None


def _figures_asked(question: str) -> Callable[[str], set[str]] | None:
    """How to read the figure a question asks for out of a sentence: the count of its head noun
    ("how many hostages"), or a duration, in days, of its topic ("how long is the ceasefire")."""
    focus = focus_words(question)
    if focus:
        return lambda text: stated_figures(text, focus)
    asked = asked_part(question)
    if expected_kind(asked) is not Kind.DURATION:
        return None
    topic = topic_words(asked)

    def durations_of_topic(text: str) -> set[str]:
        return durations(text) if covers(topic, content_words(text), 0.5) else set()

    return durations_of_topic


def _predicate(text: str, focus: set[str]) -> set[str]:
    """What is said about the counted thing: content words, with "still"/"remain"/"left" as one."""
    # Names are where, not what: "remain in Gaza" and "aid delivery to Gaza" say different things.
    names = {w.lower() for w in _INNER_NAME.findall(text)}
    out = set()
    for word in words(text):
        if word in names:
            continue
        if word in _PERSISTENCE:
            out.add("still")
        elif word not in STOPWORDS and not word[0].isdigit() and len(word) > 1:
            out.add(stem(word))
    return out - focus - _QUESTION_WORDS


def off_target(question: str, claims: Sequence[Claim], passages: Sequence[Passage] = ()) -> bool:
    """Claims that cannot be the answer: a count question with no count of the thing asked,
    or nothing sharing a single word with the question (a small model copying a passage).

    A terse answer ("Macron [1].") is judged with the passage it cites, which carries the
    question's words when it is on target.
    """
    focus = focus_words(question)
    if focus:
        return not any(stated_figures(c.text, focus) for c in claims)
    wanted = content_words(question)
    by_n = {p.n: p.text for p in passages}
    return bool(wanted) and not any(
        wanted & content_words(" ".join([c.text, *(by_n.get(n, "") for n in c.cited)]))
        for c in claims
    )


def lacks_focus(question: str, scored: Sequence[ScoredSentence]) -> bool:
    """A count question whose counted thing no retrieved sentence mentions, in its words or,
    judging by the whole sentence's meaning, in others ("kids" where passages say "children")."""
    match = _FOCUS.search(question)
    if not match:
        return False
    # Any word of the phrase will do here ("Palestinian detainees" in passages on "Palestinian
    # prisoners"): this only decides whether the passages are about the question at all.
    counted = [word for phrase in _counted_phrases(match.group(1)) for word in phrase]
    phrase = {w for w in content_words(" ".join(counted)) if not w.isdigit()}
    if not phrase or any(phrase & content_words(s.text) for s in scored):
        return False
    return not any(s.similarity >= _SAME_MEANING for s in scored)
