"""LiteLLMGenerator: streamed replies, errors, deadlines, the "local" provider, the real model."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from rag.context import Passage
from rag.errors import LLMError, LLMTimeoutError, ModelError
from rag.llm import LiteLLMGenerator, import_litellm, load_generator
from rag.local_llm import LocalModel, LocalModelConfig, loaded_model, use_local_model
from rag.prompt import ANSWER_GRAMMAR, answer_messages
from rag.settings import EXTRACTIVE_MODEL, LOCAL_MODEL, Settings
from rag.types import Message

QUESTION = [
    Message("system", "Answer from the passage only, citing it as [1]."),
    Message("user", "[1] The 42-day first phase began in January.\n\nQuestion: How long?"),
]


def reply(generator: LiteLLMGenerator, **options: Any) -> tuple[str, list[str]]:
    deltas = list(generator.complete(QUESTION, **options))
    return "".join(deltas), deltas


# ---- litellm's own mock_response ----------------------------------------------------------


def test_a_reply_streams_in_pieces() -> None:
    generator = LiteLLMGenerator(
        "openai/gpt-4o-mini", mock_response="Phase one lasted 42 days [1]."
    )
    text, deltas = reply(generator)
    assert text == "Phase one lasted 42 days [1]."
    assert len(deltas) > 1
    assert generator.model == "openai/gpt-4o-mini"


def test_a_failing_model_raises_llm_error_from_litellms() -> None:
    generator = LiteLLMGenerator("openai/gpt-4o-mini", mock_response=ValueError("model is down"))
    with pytest.raises(LLMError, match="model is down") as caught:
        reply(generator)
    assert not isinstance(caught.value, LLMTimeoutError)
    assert type(caught.value.__cause__).__module__.startswith("litellm")
    assert "\n" not in str(caught.value)


def test_a_failure_mid_stream_raises_llm_error() -> None:
    generator = LiteLLMGenerator(
        "openai/gpt-4o-mini", mock_response="Exception: mock_streaming_error"
    )
    with pytest.raises(LLMError):
        reply(generator)


def test_a_slow_model_times_out_at_the_deadline() -> None:
    generator = LiteLLMGenerator(
        "openai/gpt-4o-mini", mock_response="too late", mock_delay_s=10.0, timeout_s=0.3
    )
    import_litellm()  # its first import is slow and not part of any call
    started = time.monotonic()
    with pytest.raises(LLMTimeoutError, match=r"0\.3 s"):
        reply(generator)
    assert time.monotonic() - started < 5.0


# ---- a real HTTP server speaking the OpenAI streaming protocol ----------------------------


class FakeOpenAI(ThreadingHTTPServer):
    """An OpenAI-compatible endpoint on 127.0.0.1 that streams, trickles or fails on demand."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _FakeOpenAIHandler)
        self.mode = "ok"
        self.requests: list[tuple[dict[str, str], dict[str, Any]]] = []
        self.closing = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


class _FakeOpenAIHandler(BaseHTTPRequestHandler):
    server: FakeOpenAI

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append((dict(self.headers), body))
        if self.server.mode == "error":
            payload = json.dumps({"error": {"message": "bad model", "type": "invalid"}}).encode()
            self.send_response(400)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        words = ["Phase ", "one ", "lasted ", "42 ", "days ", "[1]."]
        for n, word in enumerate(words if self.server.mode == "ok" else iter(lambda: "x ", None)):
            if self.server.mode == "trickle" and self.server.closing.wait(0.1):
                return
            try:
                self._event({"choices": [{"index": 0, "delta": {"content": word}}]}, n)
            except (BrokenPipeError, ConnectionResetError):
                return
        self._event({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}, 99)
        self.wfile.write(b"data: [DONE]\n\n")

    def _event(self, chunk: dict[str, Any], n: int) -> None:
        chunk |= {"id": f"c{n}", "object": "chat.completion.chunk", "created": 0, "model": "m"}
        self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
        self.wfile.flush()


@pytest.fixture
def openai_server() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.closing.set()
    server.shutdown()
    server.server_close()


def test_options_go_with_each_call(openai_server: FakeOpenAI) -> None:
    generator = LiteLLMGenerator(
        "openai/served-model", api_base=openai_server.url, api_key="k-123", max_tokens=50
    )
    assert reply(generator, max_tokens=33)[0] == "Phase one lasted 42 days [1]."
    headers, body = openai_server.requests[-1]
    assert headers["Authorization"] == "Bearer k-123"
    assert body["model"] == "served-model"
    assert body["max_tokens"] == 33
    assert body["temperature"] == 0
    assert body["stream"] is True
    assert [m["role"] for m in body["messages"]] == ["system", "user"]


def test_a_remote_model_is_sent_no_grammar(openai_server: FakeOpenAI) -> None:
    generator = LiteLLMGenerator("openai/served-model", api_base=openai_server.url, api_key="k")
    assert reply(generator, grammar=ANSWER_GRAMMAR)[0] == "Phase one lasted 42 days [1]."
    assert "grammar" not in openai_server.requests[-1][1]


def test_an_endpoint_error_becomes_llm_error(openai_server: FakeOpenAI) -> None:
    openai_server.mode = "error"
    generator = LiteLLMGenerator("openai/served-model", api_base=openai_server.url, api_key="k")
    with pytest.raises(LLMError, match="bad model"):
        reply(generator)


def test_a_stream_that_never_ends_stops_at_the_deadline(openai_server: FakeOpenAI) -> None:
    openai_server.mode = "trickle"  # a token every 0.1 s, forever: no read timeout ever fires
    generator = LiteLLMGenerator(
        "openai/served-model", api_base=openai_server.url, api_key="k", timeout_s=3.0
    )
    import_litellm()
    received: list[str] = []
    started = time.monotonic()
    with pytest.raises(LLMTimeoutError):
        for delta in generator.complete(QUESTION):
            received.append(delta)
    assert 2.9 < time.monotonic() - started < 8.0
    assert received, "what came before the deadline was delivered"


# ---- the "local" provider, with a fake llama.cpp behind it -------------------------------


class FakeLlama:
    """Stands in for ``llama_cpp.Llama``: replies from ``answer``, records calls and overlap."""

    def __init__(self, answer: str = "Phase one lasted 42 days [1].", delay_s: float = 0.0):
        self.answer = answer
        self.delay_s = delay_s
        self.calls: list[dict[str, Any]] = []
        self.active = 0
        self.most_active = 0

    def create_chat_completion(self, *, messages: list[dict[str, str]], **options: Any) -> Any:
        self.calls.append({"messages": messages, **options})
        pieces = re.findall(r"\S+\s*", self.answer)
        if not options.get("stream"):
            usage = {"prompt_tokens": 9, "completion_tokens": len(pieces), "total_tokens": 9}
            choice = {"message": {"role": "assistant", "content": self.answer}}
            return {"choices": [choice | {"finish_reason": "stop"}], "usage": usage}
        return self._stream(pieces, options["max_tokens"])

    def _stream(self, pieces: list[str], max_tokens: int) -> Iterator[dict[str, Any]]:
        self.active += 1
        self.most_active = max(self.most_active, self.active)
        try:
            yield {"choices": [{"delta": {"role": "assistant"}, "finish_reason": None}]}
            for piece in pieces[:max_tokens]:
                time.sleep(self.delay_s)
                yield {"choices": [{"delta": {"content": piece}, "finish_reason": None}]}
            yield {"choices": [{"delta": {}, "finish_reason": "stop"}]}
        finally:
            self.active -= 1


@pytest.fixture
def fake_llama() -> Iterator[FakeLlama]:
    previous = loaded_model()
    llama = FakeLlama()
    use_local_model(LocalModel(LocalModelConfig(Path("fake.gguf")), load=lambda _: llama))
    yield llama
    use_local_model(previous)


def test_the_local_provider_streams_through_litellm(fake_llama: FakeLlama) -> None:
    text, deltas = reply(LiteLLMGenerator(LOCAL_MODEL, max_tokens=64))
    assert text == "Phase one lasted 42 days [1]."
    assert len(deltas) == 6
    call = fake_llama.calls[-1]
    assert call["messages"] == [{"role": m.role, "content": m.content} for m in QUESTION]
    assert call["max_tokens"] == 64
    assert call["temperature"] == 0.0


def test_a_grammar_reaches_the_local_model(fake_llama: FakeLlama) -> None:
    llama_cpp = pytest.importorskip("llama_cpp")
    reply(LiteLLMGenerator(LOCAL_MODEL), grammar=ANSWER_GRAMMAR)
    reply(LiteLLMGenerator(LOCAL_MODEL))
    held, free = fake_llama.calls[-2:]
    assert isinstance(held["grammar"], llama_cpp.LlamaGrammar)
    assert held["grammar"]._grammar == ANSWER_GRAMMAR
    assert free["grammar"] is None


def test_a_plain_completion_takes_the_grammar_too(fake_llama: FakeLlama) -> None:
    llama_cpp = pytest.importorskip("llama_cpp")
    import_litellm().completion(
        model=LOCAL_MODEL, messages=[{"role": "user", "content": "How long?"}], grammar="root ::= x"
    )
    grammar = fake_llama.calls[-1]["grammar"]
    assert isinstance(grammar, llama_cpp.LlamaGrammar) and grammar._grammar == "root ::= x"


def test_the_local_provider_answers_a_plain_completion(fake_llama: FakeLlama) -> None:
    response = import_litellm().completion(
        model=LOCAL_MODEL, messages=[{"role": "user", "content": "How long?"}], max_tokens=8
    )
    assert response.choices[0].message.content == "Phase one lasted 42 days [1]."
    assert response.usage.prompt_tokens == 9


def test_the_local_model_answers_one_question_at_a_time(fake_llama: FakeLlama) -> None:
    fake_llama.delay_s = 0.02
    generator = LiteLLMGenerator(LOCAL_MODEL)
    texts: list[str] = []
    threads = [threading.Thread(target=lambda: texts.append(reply(generator)[0])) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert texts == ["Phase one lasted 42 days [1]."] * 3
    assert fake_llama.most_active == 1


def test_a_timed_out_answer_frees_the_local_model(fake_llama: FakeLlama) -> None:
    fake_llama.answer = "word " * 200
    fake_llama.delay_s = 0.05  # 10 s in all
    with pytest.raises(LLMTimeoutError):
        reply(LiteLLMGenerator(LOCAL_MODEL, timeout_s=0.5, max_tokens=500))
    fake_llama.answer, fake_llama.delay_s = "Done.", 0.0
    started = time.monotonic()
    assert reply(LiteLLMGenerator(LOCAL_MODEL, timeout_s=5))[0] == "Done."
    assert time.monotonic() - started < 2.0


def test_the_local_model_needs_no_deadline() -> None:
    llama = FakeLlama("Forty-two days.")
    model = LocalModel(LocalModelConfig(Path("fake.gguf")), load=lambda _: llama)
    question = [{"role": "user", "content": "How long?"}]
    assert model.complete(question, max_tokens=8)[0] == "Forty-two days."
    assert "".join(d.text for d in model.stream(question, max_tokens=8)) == "Forty-two days."


def test_a_file_that_is_not_a_gguf_is_one_clear_model_error(tmp_path: Path) -> None:
    pytest.importorskip("llama_cpp")
    bogus = tmp_path / "bogus.gguf"
    bogus.write_bytes(b"this is not a model" * 100)
    model = LocalModel(LocalModelConfig(bogus))
    with pytest.raises(ModelError, match="cannot load the GGUF file"):
        model.load()


def test_a_reader_that_stops_early_frees_the_local_model(fake_llama: FakeLlama) -> None:
    fake_llama.answer = "word " * 200
    fake_llama.delay_s = 0.05
    deltas = LiteLLMGenerator(LOCAL_MODEL, timeout_s=60, max_tokens=500).complete(QUESTION)
    assert next(deltas) == "word "
    deltas.close()  # e.g. the HTTP client went away
    fake_llama.answer, fake_llama.delay_s = "Done.", 0.0
    assert reply(LiteLLMGenerator(LOCAL_MODEL, timeout_s=3))[0] == "Done."
    assert fake_llama.active == 0


# ---- load_generator and the real embedded model --------------------------------------------


def test_extractive_mode_has_no_generator() -> None:
    assert load_generator(Settings(llm_model=EXTRACTIVE_MODEL)) is None


def test_any_litellm_model_string_is_accepted() -> None:
    generator = load_generator(Settings(llm_model="ollama/llama3", llm_timeout_s=7))
    assert isinstance(generator, LiteLLMGenerator)
    assert generator.model == "ollama/llama3"


@pytest.mark.llm
def test_the_embedded_model_answers_from_the_passage() -> None:
    pytest.importorskip("llama_cpp")
    settings = Settings(llm_model=LOCAL_MODEL, local_model_path=None, llm_timeout_s=600)
    generator = load_generator(settings)
    assert generator is not None and generator.model == LOCAL_MODEL
    messages = [
        Message("system", "Answer in one short sentence using only the passages. Cite as [n]."),
        Message(
            "user",
            "Passages:\n[1] Ceasefire deal: The 42-day first phase of the ceasefire began on "
            "Sunday, with hostages and prisoners exchanged in stages.\n\n"
            "Question: How long was the first phase of the ceasefire?",
        ),
    ]
    deltas = list(generator.complete(messages, max_tokens=40))
    assert len(deltas) > 1
    assert "42" in "".join(deltas)


@pytest.mark.llm
def test_the_embedded_model_keeps_to_the_answer_grammar() -> None:
    pytest.importorskip("llama_cpp")
    settings = Settings(llm_model=LOCAL_MODEL, local_model_path=None, llm_timeout_s=600)
    generator = load_generator(settings)
    assert generator is not None
    passage = Passage(1, "d1", "Truce", "The 42-day first phase of the truce began.", 0, 42, 1.0)
    shape = re.compile(r"The articles don't say\.|[^\[\]]+ \[1\](, [^\[\]]+ \[1\])*\.?")
    replies = [
        "".join(generator.complete(answer_messages(q, [passage]), grammar=ANSWER_GRAMMAR))
        for q in ("How long was the first phase?", "Who won the 2024 Super Bowl?")
    ]
    assert all(shape.fullmatch(r) for r in replies), replies
    assert "42" in replies[0]
    toy = 'root ::= "maybe" | "never"'
    yes_no = [Message("user", "Is the sky blue? Reply yes or no.")]
    assert "".join(generator.complete(yes_no, max_tokens=8, grammar=toy)) in {"maybe", "never"}
