"""Answering from the evidence, in named steps: generate, check, fall back.

Two strategies share the steps. ``ModelAnswers`` has the model write an answer (``Generate``),
keeps only the claims the passages state (``Check``) and lets ``Fallback`` decide what the
model's answer comes to. ``PassageAnswers`` answers from the passages alone (``RAG_LLM_MODEL=
extractive``, and the deadline fallback). Each step is a small object with one method, tested on
its own; a different strategy is a different object given to the ``Pipeline``.

How ``Fallback`` decides, from signals measured on held-out data rather than on the wording of
questions (the figures are in the README):

- the model says the passages don't answer: abstain.
- the model's claims stand (every name and number in the passage each cites) but the passages
  they cite lack a number the question states (``question_numbers``): abstain, they answer
  something else.
- the model's claims stand and the best sentence states every name and number they add to
  the question: answer with them alone (quoting the sentence would only add its other figures,
  which strict scoring counts as conflicting).
- the claims add a name or number the best sentence lacks: the model and the sentence ranking
  disagree, and the answer is wrong more often than not: abstain (``require_agreement``; off,
  the best sentence follows the claims).
- the claims add no name or number: answer with them, then with the best sentence, since a
  0.5B model often states a true fact beside the point.
- the model restated the question or stated what the passages don't: the best sentence answers
  when it matches the question at least ``passage_min_score``, else abstain.
- a failing model: the best sentence answers (``degraded``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Generator as Steps
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Protocol

from rag.citations import Claim, Verified, verify
from rag.errors import LLMError
from rag.evidence import Evidence, passage_of
from rag.generation import Generator
from rag.prompt import answer_messages, strip_echoes
from rag.settings import EXTRACTIVE_MODEL, Settings
from rag.text import facts, word_set

__all__ = [
    "Answerer",
    "Check",
    "Fallback",
    "Generate",
    "ModelAnswers",
    "Outcome",
    "PassageAnswers",
]

log = logging.getLogger(__name__)

_MARKER = re.compile(r"\[(\d+)\]")


@dataclass(frozen=True)
class Outcome:
    """What answering came to: claims citing the evidence's passages, or an abstention."""

    claims: tuple[Claim, ...] = ()
    degraded: bool = False  # the model failed; the claims come from the passages
    streamed: str = ""  # the draft already streamed, before the checks

    @property
    def abstained(self) -> bool:
        return not self.claims


class Answerer(Protocol):
    """An answering strategy: the answer's text deltas as they come, then the ``Outcome``."""

    @property
    def model(self) -> str: ...

    def answer(self, evidence: Evidence) -> Steps[str, None, Outcome]: ...


class Generate:
    """The model's answer to the question from the numbered passages, as text deltas."""

    def __init__(
        self, generator: Generator, *, max_tokens: int, grammar: str | None = None
    ) -> None:
        self._generator = generator
        self._max_tokens = max_tokens
        self._grammar = grammar  # the answer's shape, for a model that can be held to one

    @property
    def model(self) -> str:
        return self._generator.model

    def write(self, evidence: Evidence) -> Iterator[str]:
        messages = answer_messages(evidence.question.asked, list(evidence.passages))
        # Without a grammar none is passed: a generator written before grammars still works.
        shape = {} if self._grammar is None else {"grammar": self._grammar}
        return self._generator.complete(messages, max_tokens=self._max_tokens, **shape)


class Check:
    """The claims of the model's answer that the passages state, each citing its passage."""

    def check(self, raw: str, evidence: Evidence) -> Verified:
        passages = list(evidence.passages)
        return verify(strip_echoes(raw, passages), passages, evidence.question.asked)


class Fallback:
    """Decides what an answer comes to when the model's own answer is not enough."""

    def __init__(
        self,
        *,
        passage_min_score: float,
        quote_best: bool = True,
        question_numbers: bool = True,
        require_agreement: bool = True,
    ) -> None:
        self._passage_min_score = passage_min_score
        self._quote_best = quote_best
        self._question_numbers = question_numbers
        self._require_agreement = require_agreement

    @classmethod
    def from_settings(cls, settings: Settings) -> Fallback:
        return cls(
            passage_min_score=settings.passage_min_score,
            quote_best=settings.quote_best_sentence,
            question_numbers=settings.question_numbers,
            require_agreement=settings.require_agreement,
        )

    def decide(self, evidence: Evidence, checked: Verified | None) -> Outcome:
        """``checked`` is the model's checked answer; ``None`` when there is no model."""
        best = _best_claim(evidence)
        if checked is None:
            return Outcome(self._if_strong(evidence, best))
        if checked.abstained:
            return Outcome()
        if checked.claims:
            claims = checked.claims
            cited = {n for claim in claims for n in claim.cited}
            if self._question_numbers and evidence.cited_miss_question_numbers(cited):
                return Outcome()
            said = " ".join(claim.text for claim in claims)
            new = facts(said) - evidence.question.facts
            if best is None or best.text in said or (new and new <= word_set(best.text)):
                return Outcome(claims)  # the best sentence states what they add, or no more
            if new and self._require_agreement:
                return Outcome()  # the model and the sentence ranking disagree on the facts
            return Outcome((*claims, best) if self._quote_best else claims)
        return Outcome(self._if_strong(evidence, best))

    def degraded(self, evidence: Evidence) -> Outcome:
        """The answer when the model failed: the best sentence, whatever its score."""
        best = _best_claim(evidence)
        return Outcome((best,) if best is not None else (), degraded=True)

    def _if_strong(self, evidence: Evidence, best: Claim | None) -> tuple[Claim, ...]:
        if best is None or evidence.strength < self._passage_min_score:
            return ()
        return (best,)


def _best_claim(evidence: Evidence) -> Claim | None:
    """The best sentence as a claim citing the passage that shows it."""
    best = evidence.best
    if best is None:
        return None
    passage = passage_of(best, evidence.passages)
    if passage is None:
        return None
    return Claim(best.text, (passage.n,), max(0.0, min(1.0, best.similarity)))


class ModelAnswers:
    """The model writes the answer; the checks and the fallback decide what stands."""

    def __init__(self, generate: Generate, check: Check, fallback: Fallback) -> None:
        self._generate = generate
        self._check = check
        self._fallback = fallback

    @property
    def model(self) -> str:
        return self._generate.model

    def answer(self, evidence: Evidence) -> Steps[str, None, Outcome]:
        raw: list[str] = []
        shown: list[str] = []
        renumber = _StreamRenumber(len(evidence.passages))
        try:
            for delta in self._generate.write(evidence):
                raw.append(delta)
                if out := renumber.feed(delta):
                    shown.append(out)
                    yield out
            if out := renumber.flush():
                shown.append(out)
                yield out
        except LLMError as exc:
            log.warning("LLM failed (%s: %s); answering from the passages", type(exc).__name__, exc)
            outcome = self._fallback.degraded(evidence)
            return replace(outcome, streamed="".join(shown))
        outcome = self._fallback.decide(evidence, self._check.check("".join(raw), evidence))
        return replace(outcome, streamed="".join(shown))


class PassageAnswers:
    """No model: the best sentence answers when it matches the question well enough."""

    model = EXTRACTIVE_MODEL

    def __init__(self, fallback: Fallback) -> None:
        self._fallback = fallback

    def answer(self, evidence: Evidence) -> Steps[str, None, Outcome]:
        yield from ()  # nothing to stream before the decision: the pipeline sends the text
        return self._fallback.decide(evidence, None)


class _StreamRenumber:
    """Renumbers ``[n]`` markers by first use while streaming, dropping ones past the passages."""

    def __init__(self, passages: int) -> None:
        self._passages = passages
        self._numbering: dict[int, int] = {}
        self._pending = ""

    def feed(self, delta: str) -> str:
        text = self._pending + delta
        cut = text.rfind("[")
        if cut != -1 and "]" not in text[cut:] and len(text) - cut < 8:
            self._pending, text = text[cut:], text[:cut]
        else:
            self._pending = ""
        return _MARKER.sub(self._replace, text)

    def flush(self) -> str:
        text, self._pending = self._pending, ""
        return _MARKER.sub(self._replace, text)

    def _replace(self, match: re.Match[str]) -> str:
        n = int(match.group(1))
        if not 1 <= n <= self._passages:
            return ""
        return f"[{self._numbering.setdefault(n, len(self._numbering) + 1)}]"
