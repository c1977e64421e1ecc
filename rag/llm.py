"""Chat models through litellm: the one module that calls it, for every model string alike.

``LiteLLMGenerator`` streams a reply as text deltas within an overall deadline, stalls
included, and turns litellm's exceptions into ``LLMError`` / ``LLMTimeoutError``. Options go
with each call; the only litellm globals touched are the "local" provider entry
(``rag.local_llm``) and ``suppress_debug_info`` (see ``import_litellm``).
"""

from __future__ import annotations

import functools
import os
import queue
import threading
import time
from collections.abc import Iterator, Sequence
from types import ModuleType
from typing import Any

from rag.errors import LLMError, LLMTimeoutError
from rag.generation import Generator
from rag.local_llm import PROVIDER, LocalModelConfig, ensure_local_model, register_local_provider
from rag.settings import EXTRACTIVE_MODEL, Settings
from rag.types import Message

__all__ = ["LiteLLMGenerator", "import_litellm", "load_generator"]


@functools.cache
def import_litellm() -> Any:
    """litellm, imported on first use (it takes seconds) and kept quiet."""
    # Use the price map shipped in the package instead of fetching one at import.
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    # Otherwise litellm prints a "Give Feedback / Get Help" banner on stdout for every failed
    # call, which would corrupt `rag ask --json`. There is no per-call switch for it.
    litellm.suppress_debug_info = True
    return litellm


class _Done:
    """Marks the end of a stream in the hand-over queue."""


_DONE = _Done()


class LiteLLMGenerator:
    """A ``Generator`` for any litellm model string (``openai/gpt-4o-mini``, ``local/...``).

    ``mock_response`` is litellm's own test double (a reply string or an exception), for tests.
    """

    def __init__(
        self,
        model: str,
        *,
        api_base: str | None = None,
        api_key: str | None = None,
        timeout_s: float = 30.0,
        max_tokens: int = 120,
        temperature: float = 0.0,
        mock_response: str | Exception | None = None,
        mock_delay_s: float | None = None,
    ) -> None:
        self._model = model
        self._api_base = api_base
        self._api_key = api_key
        self._timeout_s = timeout_s
        self._max_tokens = max_tokens
        self._temperature = temperature
        self._mock_response = mock_response
        self._mock_delay_s = mock_delay_s

    @property
    def model(self) -> str:
        return self._model

    def complete(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int | None = None,
        grammar: str | None = None,
    ) -> Iterator[str]:
        """Yield the reply's text deltas; raise ``LLMTimeoutError`` once ``timeout_s`` is spent.

        ``grammar`` goes to the embedded model only: litellm's other providers have no such
        option (and some reject unknown ones).

        The call runs on a worker thread so that a stalled stream cannot hold the caller past
        the deadline; when the caller stops early (or times out) the worker stops reading and
        the stream is closed, which also frees the local model.
        """
        litellm = import_litellm()  # before the clock starts: the first import is slow
        deadline = time.monotonic() + self._timeout_s
        feed: queue.SimpleQueue[str | _Done | BaseException] = queue.SimpleQueue()
        stop = threading.Event()
        worker = threading.Thread(
            target=self._produce,
            args=(litellm, messages, max_tokens or self._max_tokens, grammar, feed, stop),
            name="llm-stream",
            daemon=True,
        )
        worker.start()
        try:
            while True:
                remaining = deadline - time.monotonic()
                try:
                    if remaining <= 0:
                        raise queue.Empty
                    item = feed.get(timeout=remaining)
                except queue.Empty:
                    raise LLMTimeoutError(
                        f"{self._model} did not finish within {self._timeout_s:g} s"
                    ) from None
                if isinstance(item, _Done):
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            stop.set()

    def _produce(
        self,
        litellm: ModuleType,
        messages: Sequence[Message],
        max_tokens: int,
        grammar: str | None,
        feed: queue.SimpleQueue[str | _Done | BaseException],
        stop: threading.Event,
    ) -> None:
        """Run the streamed call, handing each delta (or the failure) to the caller."""
        import openai  # litellm's exceptions derive from openai's

        stream = None
        try:
            stream = litellm.completion(
                model=self._model,
                messages=[{"role": m.role, "content": m.content} for m in messages],
                stream=True,
                max_tokens=max_tokens,
                temperature=self._temperature,
                timeout=self._timeout_s,
                api_base=self._api_base,
                api_key=self._api_key,
                **self._mock_options(),
                **self._grammar_option(grammar),
            )
            for chunk in stream:
                if stop.is_set():
                    break
                text = chunk.choices[0].delta.content if chunk.choices else None
                if text:
                    feed.put(text)
            else:
                feed.put(_DONE)
        except (openai.APITimeoutError, TimeoutError) as exc:
            feed.put(_wrap(LLMTimeoutError, self._model, exc))
        except openai.OpenAIError as exc:
            feed.put(_wrap(LLMError, self._model, exc))
        except Exception as exc:  # not litellm's: hand it over unchanged rather than lose it
            feed.put(exc)
        finally:
            _close(stream)

    def _grammar_option(self, grammar: str | None) -> dict[str, Any]:
        if grammar is None or not self._model.startswith(f"{PROVIDER}/"):
            return {}
        return {"grammar": grammar}

    def _mock_options(self) -> dict[str, Any]:
        options: dict[str, Any] = {}
        if self._mock_response is not None:
            options["mock_response"] = self._mock_response
        if self._mock_delay_s is not None:
            options["mock_delay"] = self._mock_delay_s
        return options


def _close(stream: Any) -> None:
    """Close the provider's stream now, not at garbage collection: for the local model that
    ends generation and frees it for the next question; for HTTP it releases the connection."""
    inner = getattr(stream, "completion_stream", None)
    close = getattr(inner, "close", None)
    if callable(close):
        close()


def _wrap(kind: type[LLMError], model: str, exc: BaseException) -> LLMError:
    # litellm's messages run to many lines (tracebacks, bug-report links): keep the first.
    first_line = next((line for line in str(exc).splitlines() if line.strip()), type(exc).__name__)
    error = kind(f"{model}: {first_line[:300]}")
    error.__cause__ = exc
    return error


def load_generator(settings: Settings) -> Generator | None:
    """The configured chat model, ready to answer; ``None`` in extractive mode.

    For the embedded local model this assembles and verifies the GGUF, registers the litellm
    provider and loads the weights, so the first question does not pay for it.
    """
    if settings.llm_model == EXTRACTIVE_MODEL:
        return None

    if settings.llm_model.startswith(f"{PROVIDER}/"):
        path = ensure_local_model(settings)
        register_local_provider(LocalModelConfig.from_settings(settings, path)).load()
    else:
        import_litellm()
    return LiteLLMGenerator(
        settings.llm_model,
        api_base=settings.llm_api_base,
        api_key=settings.llm_api_key,
        timeout_s=settings.llm_timeout_s,
        max_tokens=settings.llm_max_tokens,
    )
