"""Follow-ups made standalone: "and how many prisoners?" becomes a question retrieval can answer.

The deterministic rewrite keeps the follow-up and adds the earlier question's key terms, minus
the thing that question counted or asked about when the follow-up names its own. The LLM
rewrite is optional (``RAG_REWRITE_WITH_LLM``): on the local model it costs about a second and a
half, and falls back to the deterministic one when its output does not look like a question.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

from rag.errors import LLMError
from rag.generation import Generator
from rag.prompt import clean_question, rewrite_messages
from rag.text import STOPWORDS, content_words, stem
from rag.types import Message

__all__ = ["QuestionRewriter", "is_follow_up", "merge_terms", "previous_question"]

log = logging.getLogger(__name__)

_CONNECTIVE = re.compile(
    r"^\s*(?:and|but|also|so|then|ok(?:ay)?|what about|how about|what of|same for|and what about)"
    r"\b[\s,]*",
    re.I,
)
_PRONOUN = re.compile(
    r"\b(?:it|its|they|them|their|those|these|that|this|he|him|his|she|her|there|then)\b", re.I
)
_TERM = re.compile(r"[A-Za-z][A-Za-z’'-]*|\d[\d,.]*")
_FOCUS = re.compile(r"\b(?:how (?:many|much)|number of|amount of)\s+((?:[\w’'-]+\s*){1,3})", re.I)
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


def previous_question(history: Sequence[Message]) -> str | None:
    for message in reversed(history):
        if message.role == "user" and message.content.strip():
            return message.content
    return None


def is_follow_up(question: str) -> bool:
    """Leans on the conversation: starts with "and"/"what about", or is short and points back."""
    words = content_words(question)
    if _CONNECTIVE.match(question) or len(words) <= 1:
        return True
    return bool(_PRONOUN.search(question)) and len(words) <= 4


def _key_terms(question: str) -> list[str]:
    terms = []
    for term in _TERM.findall(question):
        lowered = term.lower().replace("’", "'")
        if lowered.endswith("'s"):
            term, lowered = term[:-2], lowered[:-2]
        if lowered not in STOPWORDS and len(lowered) > 1:
            terms.append(term)
    return list(dict.fromkeys(terms))


def merge_terms(question: str, previous: str) -> str:
    """The follow-up plus the earlier question's key terms it lacks."""
    body = _CONNECTIVE.sub("", question).strip() or question.strip()
    have = content_words(body)
    replaced = focus_words(previous) if focus_words(body) else set()
    extra = [t for t in _key_terms(previous) if stem(t) not in have and stem(t) not in replaced]
    body = body[0].upper() + body[1:]
    if not extra:
        return body
    core = body.rstrip(" ?")
    return f"{core} ({' '.join(extra)})?"


class QuestionRewriter:
    """Makes a follow-up standalone, with the LLM when asked to and able, else by merging terms."""

    def __init__(
        self, generator: Generator | None = None, *, use_llm: bool = False, max_tokens: int = 32
    ) -> None:
        self._generator = generator if use_llm else None
        self._max_tokens = max_tokens

    def rewrite(self, question: str, history: Sequence[Message]) -> str:
        previous = previous_question(history)
        if previous is None or not is_follow_up(question):
            return question
        if self._generator is not None:
            rewritten = self._with_llm(question, previous)
            if rewritten:
                return rewritten
        return merge_terms(question, previous)

    def _with_llm(self, question: str, previous: str) -> str | None:
        assert self._generator is not None
        try:
            text = "".join(
                self._generator.complete(
                    rewrite_messages(question, previous), max_tokens=self._max_tokens
                )
            )
        except LLMError as exc:
            log.warning("follow-up rewrite failed, merging terms instead: %s", exc)
            return None
        line = clean_question(text.strip().splitlines()[0] if text.strip() else "")
        line = re.sub(r"^(?:standalone question|question)\s*:\s*", "", line, flags=re.I)
        # A usable rewrite is one question that keeps what the follow-up asked about.
        if (
            not line.endswith("?")
            or len(line) > 300
            or not content_words(question) <= (content_words(line) | content_words(previous))
        ):
            return None
        return line


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
