"""Questions embedded with no torch at all, once the ONNX export is cached.

``index.onnx_encoder`` exports a model and checks onnxruntime against torch, which needs torch
and sentence-transformers loaded: seconds of imports on every ``rag ask``. After a successful
check, ``remember`` writes what answering needs next to the export (the configured Rust
tokenizer, the pooling, the model's name and dimension, and the probes' checked vectors) under
a fingerprint of the model's files; ``load_cached`` builds an embedder from that alone with
onnxruntime and ``tokenizers`` (tens of milliseconds), after checking the probes again. A
changed model folder, a missing file or a failed check gives None, and the caller loads the
model the usual way (which exports and records it anew).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from index.embedder import Embedder, WrappingEmbedder
from index.onnx_encoder import _PROBES, _TOLERANCE, OnnxEncoder, _session, batch_features

__all__ = ["CachedOnnxEmbedder", "load_cached", "remember"]

log = logging.getLogger(__name__)

_VERSION = 1


def _fingerprint(location: Path) -> str:
    """The model folder's files by name, size and modification time."""
    digest = hashlib.sha256(str(location.resolve()).encode())
    for path in sorted(p for p in location.rglob("*") if p.is_file()):
        stat = path.stat()
        digest.update(f"{path.relative_to(location)}|{stat.st_size}|{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]


def _manifest(cache_dir: Path, location: Path) -> Path:
    return cache_dir / f"answering-{_fingerprint(location)}.json"


def remember(
    cache_dir: Path,
    location: Path,
    name: str,
    dimension: int,
    float32: OnnxEncoder,
    int8: OnnxEncoder | None,
) -> None:
    """Record what ``load_cached`` needs for ``location``'s model (exports already checked)."""
    if float32.path is None or float32.tokenizer_json is None:
        return  # no Rust tokenizer to save: this model keeps the usual path
    record = {
        "version": _VERSION,
        "name": name,
        "dimension": dimension,
        "normalize": float32.normalize,
        "float32": float32.path.name,
        "int8": int8.path.name if int8 is not None and int8.path is not None else None,
        "tokenizer": float32.tokenizer_json,
        "probes": float32.encode(list(_PROBES)).tolist(),
    }
    target = _manifest(cache_dir, location)
    partial = target.with_suffix(f".{os.getpid()}.tmp")
    partial.write_text(json.dumps(record), encoding="utf-8")
    os.replace(partial, target)  # a concurrent reader sees the whole record or none


def load_cached(
    cache_dir: Path, location: Path, batch_size: int = 64, *, int8_queries: bool = True
) -> CachedOnnxEmbedder | None:
    """The embedder ``remember`` recorded for ``location``'s model (questions on its int8 copy
    with ``int8_queries``, when one was recorded), or None."""
    try:
        record = json.loads(_manifest(cache_dir, location).read_text(encoding="utf-8"))
        if record.get("version") != _VERSION:
            return None
        import onnxruntime
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_str(record["tokenizer"])
        normalize = bool(record["normalize"])
        float32 = OnnxEncoder(
            _session(onnxruntime, cache_dir / record["float32"]),
            batch_features(tokenizer),
            normalize,
        )
        int8 = None
        if int8_queries and record["int8"]:
            session = _session(onnxruntime, cache_dir / record["int8"])
            int8 = OnnxEncoder(session, batch_features(tokenizer), normalize)
        expected = np.asarray(record["probes"], dtype=np.float32)
    except (OSError, ValueError, KeyError, TypeError, ImportError) as exc:
        log.debug("no cached ONNX embedder for %s: %s", location, exc)
        return None
    except Exception as exc:  # onnxruntime's own errors on a damaged file
        log.warning("cached ONNX export of %s unusable: %s", location, exc)
        return None
    for encoder, precision in ((float32, "float32"), (int8, "int8")):
        if encoder is not None and _distance(encoder, expected) > _TOLERANCE[precision]:
            log.warning("cached ONNX %s vectors moved; loading the model instead", precision)
            return None
    return CachedOnnxEmbedder(record["name"], int(record["dimension"]), float32, int8, batch_size)


def _distance(encoder: OnnxEncoder, expected: np.ndarray) -> float:
    actual = encoder.encode(list(_PROBES))
    cosine = (actual * expected).sum(axis=1) / (
        np.linalg.norm(actual, axis=1) * np.linalg.norm(expected, axis=1)
    )
    return float(1.0 - cosine.min())


class CachedOnnxEmbedder:
    """The float32 export for everything it embeds (L2-normalised); its int8 copy for
    questions, as ``SentenceTransformerEmbedder.for_queries`` embeds them."""

    def __init__(
        self,
        name: str,
        dimension: int,
        float32: OnnxEncoder,
        int8: OnnxEncoder | None,
        batch_size: int,
    ) -> None:
        self._name = name
        self._dimension = dimension
        self._float32 = float32
        self._int8 = int8
        self._batch_size = batch_size

    @property
    def name(self) -> str:
        return self._name

    @property
    def dimension(self) -> int:
        return self._dimension

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self._dimension), dtype=np.float32)
        batches = [
            self._float32.encode(list(texts[start : start + self._batch_size]))
            for start in range(0, len(texts), self._batch_size)
        ]
        vectors = np.concatenate(batches)
        # L2-normalised, as SentenceTransformerEmbedder gives every batch it embeds on torch.
        vectors /= np.clip(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12, None)
        return vectors

    def for_queries(self) -> Embedder:
        return self if self._int8 is None else _Int8Queries(self, self._int8)


class _Int8Queries(WrappingEmbedder):
    def __init__(self, inner: Embedder, encoder: OnnxEncoder) -> None:
        super().__init__(inner)
        self._encoder = encoder

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return self._inner.embed(texts)
        return self._encoder.encode(list(texts))
