"""Conversations: follow-ups answered with the earlier turns, in the engine and in ``rag chat``."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from typer.testing import CliRunner

from index.embedder import Embedder
from index.store import IndexStore
from index.writer import IndexConfig, IndexWriter
from rag.chat import ChatEngine, converse
from rag.cli import app
from rag.components import pipeline_over
from rag.conversations import ConversationStore
from rag.settings import Settings, get_settings
from rag.types import Message
from tests.fakes import HashEmbedder, ScriptedLLM

SEEDS = Path(__file__).resolve().parents[2] / "seeds"
PHASE_ONE = "How long did the first phase of the ceasefire last?"
PHASE_ONE_DOC = "000_c04850de3b1b0f05"

SeedStore = tuple[IndexStore, HashEmbedder]


def reply_from_passages(messages: Sequence[Message]) -> str:
    """A fake model answering from the passage that carries the phase-one figures."""
    prompt = messages[-1].content
    question = prompt.rsplit("<question>", 1)[-1].lower()
    passages = dict(re.findall(r"^\[(\d+)\] \(.*?\) (.*)$", prompt, re.M))
    cited = [n for n, text in passages.items() if "1,000 Palestinian" in text]
    if not cited:
        return "The articles don't say."
    if "prisoner" in question:
        return f"Over 1,000 Palestinian prisoners were released [{cited[0]}]."
    if "how long" in question:
        return f"The first phase of the ceasefire lasted 42 days [{cited[0]}]."
    return "The articles don't say."


def settings_for(root: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "index_dir": root / "index",
        "state_dir": root / "state",
        "llm_model": "fake/scripted",
        # The hash embedder's similarities run lower than MiniLM's, which the default was fitted on.
        "min_relevance": 0.6,
        **overrides,
    }
    return Settings(_env_file=None, **values)  # type: ignore[call-arg, arg-type]


@pytest.fixture(scope="module")
def seed_store(tmp_path_factory: pytest.TempPathFactory) -> SeedStore:
    embedder = HashEmbedder()
    settings = settings_for(tmp_path_factory.mktemp("chat"))
    config = IndexConfig(
        chunk_max_words=settings.chunk_max_words,
        chunk_overlap_sentences=settings.chunk_overlap_sentences,
    )
    store = IndexWriter(settings.index_dir, embedder, config).build([SEEDS]).store
    return store, embedder


@pytest.fixture
def llm() -> ScriptedLLM:
    return ScriptedLLM(reply_from_passages)


@pytest.fixture
def engine(seed_store: SeedStore, llm: ScriptedLLM, tmp_path: Path) -> Iterator[ChatEngine]:
    store, embedder = seed_store
    settings = settings_for(tmp_path)
    pipeline = pipeline_over(store, embedder, llm, settings)
    conversations = ConversationStore(settings.state_dir / "conversations.sqlite3")
    yield ChatEngine(lambda: pipeline, conversations)
    conversations.close()


def asked(llm: ScriptedLLM) -> str:
    """The question part of the last prompt the model saw."""
    return llm.calls[-1][-1].content.rsplit("<question>", 1)[-1]


def test_a_follow_up_is_answered_with_the_earlier_turn(
    engine: ChatEngine, llm: ScriptedLLM
) -> None:
    out: list[str] = []
    lines = [PHASE_ONE, "", "and how many prisoners?", "/quit", "never asked?"]
    conversation_id = converse(engine, lines, out.append)

    text = "\n".join(out)
    assert "42 days" in text and "1,000" in text
    assert "Sources:" in text and PHASE_ONE_DOC in text
    assert len(llm.calls) == 2  # nothing after /quit
    assert "ceasefire" in asked(llm).lower()  # the follow-up was made standalone
    history = engine.history(conversation_id)
    assert [m.role for m in history] == ["user", "assistant", "user", "assistant"]
    assert history[2].content == "and how many prisoners?"


def test_new_starts_a_conversation_without_history(engine: ChatEngine, llm: ScriptedLLM) -> None:
    out: list[str] = []
    converse(engine, [PHASE_ONE, "/new", "and how many prisoners?"], out.append)
    assert any(line.startswith("(new conversation") for line in out)
    # Not made standalone: either asked as it is, or (matching nothing well) not asked at all.
    assert len(llm.calls) == 1 or "ceasefire" not in asked(llm).lower()


def test_a_rejected_question_is_reported_and_the_chat_goes_on(engine: ChatEngine) -> None:
    out: list[str] = []
    converse(engine, ["x" * 5000, PHASE_ONE], out.append)
    assert out[0].startswith("error: the question is too long")
    assert "42 days" in "\n".join(out[1:])


def test_a_conversation_resumes_after_a_restart(
    seed_store: SeedStore, llm: ScriptedLLM, tmp_path: Path
) -> None:
    store, embedder = seed_store
    settings = settings_for(tmp_path)
    pipeline = pipeline_over(store, embedder, llm, settings)
    path = settings.state_dir / "conversations.sqlite3"

    first = ConversationStore(path)
    conversation_id = converse(ChatEngine(lambda: pipeline, first), [PHASE_ONE], print)
    first.close()

    second = ConversationStore(path)
    out: list[str] = []
    engine = ChatEngine(lambda: pipeline, second)
    converse(engine, ["and how many prisoners?"], out.append, conversation_id=conversation_id)
    second.close()
    assert "1,000" in "\n".join(out)
    assert "ceasefire" in asked(llm).lower()


@pytest.mark.slow
def test_rag_chat_answers_lines_from_stdin_with_follow_ups(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, real_embedder: Embedder
) -> None:
    """The real command: bundled embedder, extractive answers, no TTY, EOF ends it."""
    settings = settings_for(tmp_path, llm_model="extractive")
    config = IndexConfig(
        chunk_max_words=settings.chunk_max_words,
        chunk_overlap_sentences=settings.chunk_overlap_sentences,
    )
    # One article keeps the build short; it answers both questions.
    IndexWriter(settings.index_dir, real_embedder, config).build([SEEDS / f"{PHASE_ONE_DOC}.txt"])
    monkeypatch.setenv("RAG_INDEX_DIR", str(settings.index_dir))
    monkeypatch.setenv("RAG_STATE_DIR", str(settings.state_dir))
    monkeypatch.setenv("RAG_LLM_MODEL", "extractive")
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["chat"], input=f"{PHASE_ONE}\nand how many prisoners?\n")
    finally:
        get_settings.cache_clear()

    assert result.exit_code == 0, result.output
    answers = result.output.split("Sources:")
    assert len(answers) == 3  # two answers, each with its sources
    assert "42 days" in answers[0]
    assert "1,000" in answers[1] or "prisoners" in answers[1]
    match = re.search(r"conversation: (\S+)", result.output)
    assert match is not None
    conversations = ConversationStore(settings.state_dir / "conversations.sqlite3")
    try:
        assert len(conversations.history(match.group(1), 10)) == 4
    finally:
        conversations.close()
