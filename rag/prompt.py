"""The prompts, kept in ``rag/prompts/*.txt``: a constant system prompt, then passages and question.

The system prompt never changes, so llama.cpp reuses its KV cache across calls; the question
sits inside ``<question>`` delimiters after the passages and is treated as data.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

from rag.context import Passage
from rag.text import PROMPT_LOOKALIKES
from rag.types import Message

__all__ = [
    "ABSTAIN_TEXT",
    "ANSWER_GRAMMAR",
    "answer_messages",
    "load_prompt",
    "rewrite_messages",
    "strip_echoes",
]

ABSTAIN_TEXT = "The articles don't say."
# The answer's shape as a llama.cpp (GBNF) grammar: up to three parts of at most 12 words, each
# ending in its passage's [n]; or the abstention. Held to it, the embedded model cannot reply
# with a bare "[1]." (a fifth of its replies on the SQuAD dev sample without it), and a model
# listing names stops within a part's words instead of running to the token cap.
ANSWER_GRAMMAR = rf"""root ::= abstain | answer
abstain ::= "{ABSTAIN_TEXT}"
answer ::= part (", " part){{0,2}} "."?
part ::= word (" " word){{0,11}} " [" [1-9] "]"
word ::= [^ \[\]\n]{{1,24}}
"""
_TITLE_WORDS = 6
_DELIMITERS = re.compile(r"</?\s*question\s*>", re.I)
_DANGLING_MARKER = re.compile(r"\s*\[[\d,\s]*$")


@cache
def load_prompt(name: str) -> str:
    """A prompt template from ``rag/prompts/<name>.txt``."""
    return resources.files("rag").joinpath("prompts", f"{name}.txt").read_text("utf-8").strip()


def _short_title(title: str) -> str:
    words = title.split()
    return " ".join(words[:_TITLE_WORDS]) + ("…" if len(words) > _TITLE_WORDS else "")


def _label(passage: Passage) -> str:
    label = _short_title(passage.title)
    return f"{label}, {passage.published[:10]}" if passage.published else label


def format_passage(passage: Passage) -> str:
    text = PROMPT_LOOKALIKES.sub(" ", passage.text)
    return f"[{passage.n}] ({_label(passage)}) {' '.join(text.split())}"


def strip_echoes(answer: str, passages: list[Passage]) -> str:
    """A small model sometimes copies a passage's "(title)" label into its answer; drop it."""
    if "<question>" in answer.lower() or "passages:" in answer.lower():
        # It echoed the prompt: what follows the last "Answer:" is the answer, if anything.
        answer = re.split(r"\banswer\s*:", answer, flags=re.I)[-1]
        if "<question>" in answer.lower():
            return ""
    for passage in passages:
        answer = answer.replace(f"({_label(passage)})", " ")
    # A reply cut off by the token cap can end inside a marker ("Macron [1"): drop the stub.
    answer = _DANGLING_MARKER.sub("", answer)
    return re.sub(r"^\s*answer\s*:\s*", "", answer, flags=re.I)


def clean_question(question: str) -> str:
    """The question as data: no delimiter look-alikes, one line."""
    return " ".join(_DELIMITERS.sub(" ", question).split())


def answer_messages(question: str, passages: list[Passage]) -> list[Message]:
    user = load_prompt("user").format(
        passages="\n".join(format_passage(p) for p in passages),
        question=clean_question(question),
    )
    return [Message("system", load_prompt("system")), Message("user", user)]


def rewrite_messages(question: str, previous: str) -> list[Message]:
    user = load_prompt("rewrite").format(
        previous=clean_question(previous), question=clean_question(question)
    )
    return [Message("user", user)]
