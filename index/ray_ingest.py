"""``rag index build --ray``: read, clean, chunk and embed with Ray Data, then commit as usual.

    files ─ flat_map(read + clean + chunk, tasks) ─ map_batches(embed, one model per actor) ─┐
    driver: documents + {chunk text: vector} ─ the backend's writer (``IndexWrites.replace``) ┘

The writer chunks each document again (cheap, the same function and settings) and asks its
embedder for vectors: here a ``PrecomputedEmbedder`` that answers from what the actors computed,
so nothing is embedded twice and the backend seam stays as it is. Without an address Ray starts
locally with the machine's cores; with one (``ray://head:10001``, ``auto``) it joins that
cluster, whose workers need this project installed. Ray is imported only here.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from index.assembly import IndexConfig
from index.embedder import Embedder
from index.errors import IndexStateError
from index.types import Document

__all__ = ["PrecomputedEmbedder", "RayIngest", "ingest_with_ray"]

# Logical CPUs a reading task and an embedding actor ask of Ray: below one each, so actors on
# every core still leave room for the tasks that feed them (whole CPUs deadlock a 2-core Ray).
_TASK_CPUS = 0.25
_ACTOR_CPUS = 0.75
_BATCH = 128


@dataclass
class RayIngest:
    """What the Ray pipeline produced: documents, their chunks' vectors, unreadable files."""

    documents: list[Document] = field(default_factory=list)
    vectors: dict[str, np.ndarray] = field(default_factory=dict)  # chunk text -> vector
    failures: list[tuple[str, str]] = field(default_factory=list)
    workers: int = 0


class PrecomputedEmbedder:
    """An ``Embedder`` answering from vectors computed elsewhere (the Ray actors); a text it
    was not given goes to ``fallback``."""

    def __init__(
        self, name: str, dimension: int, vectors: dict[str, np.ndarray], fallback: Embedder
    ) -> None:
        self._name = name
        self._dimension = dimension
        self._vectors = vectors
        self._fallback = fallback
        self.fallback_texts = 0

    @property
    def name(self) -> str:
        return self._name

    @property
    def dimension(self) -> int:
        return self._dimension

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.empty((len(texts), self._dimension), dtype=np.float32)
        missing = [i for i, t in enumerate(texts) if t not in self._vectors]
        for i, text in enumerate(texts):
            if text in self._vectors:
                out[i] = self._vectors[text]
        if missing:
            self.fallback_texts += len(missing)
            out[missing] = self._fallback.embed([texts[i] for i in missing])
        return out


def ingest_with_ray(
    paths: Sequence[Path],
    make_embedder: Callable[[], Embedder],
    config: IndexConfig,
    *,
    address: str | None = None,
    workers: int | None = None,
) -> RayIngest:
    """Read, clean, chunk and embed the files under ``paths`` on Ray; ``make_embedder`` is
    called once in each actor (it must pickle: a class or a ``functools.partial``)."""
    import ray
    import ray.data

    from index.loaders import list_files

    started_here = not ray.is_initialized()
    if started_here:
        if address is not None:
            _check_reachable(address)
        try:
            if address is None:
                ray.init(num_cpus=os.cpu_count() or 1, include_dashboard=False, log_to_driver=False)
            else:
                ray.init(address=address, log_to_driver=False)
        except (ConnectionError, RuntimeError, ValueError, TimeoutError) as exc:
            where = f"the Ray cluster at {address}" if address else "a local Ray"
            raise IndexStateError(f"cannot start {where}: {exc}") from exc
    try:
        ray.data.DataContext.get_current().enable_progress_bars = False
        result = RayIngest()
        files = list_files(paths, result.failures)
        if not files:
            return result
        cpus = int(ray.cluster_resources().get("CPU", 1))
        result.workers = workers or max(1, int(cpus / (_ACTOR_CPUS + _TASK_CPUS)))
        rows = (
            ray.data.from_items([{"path": str(f)} for f in files])
            .flat_map(_ReadAndChunk(config), num_cpus=_TASK_CPUS)
            .map_batches(
                _Embed,
                fn_constructor_args=(make_embedder,),
                compute=ray.data.ActorPoolStrategy(size=result.workers),
                num_cpus=_ACTOR_CPUS,
                batch_size=_BATCH,
                batch_format="numpy",
            )
            .take_all()
        )
    finally:
        if started_here:
            ray.shutdown()
    seen: set[str] = set()
    for row in rows:
        if row["failure"]:
            result.failures.append((str(row["path"]), str(row["failure"])))
            continue
        if row["document"]:
            doc = Document(**json.loads(str(row["document"])))
            if doc.doc_id in seen:
                result.failures.append((str(row["path"]), f"duplicate doc_id {doc.doc_id!r}"))
                continue
            seen.add(doc.doc_id)
            result.documents.append(doc)
        if row["text"]:
            result.vectors[str(row["text"])] = np.asarray(row["vector"], dtype=np.float32)
    result.documents.sort(key=lambda d: d.doc_id)
    return result


def _check_reachable(address: str) -> None:
    """Fail in seconds on an address nothing listens at (Ray itself retries for minutes)."""
    import socket

    hostport = address.split("://", 1)[-1].rstrip("/")
    host, _, port = hostport.rpartition(":")
    if not host or not port.isdigit():
        return  # "auto" and the like: Ray finds the cluster itself
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError as exc:
        raise IndexStateError(
            f"cannot reach the Ray cluster at {address}: {exc.strerror or exc}"
        ) from exc


class _ReadAndChunk:
    """One file in, one row per chunk out (the first row of a document carries it)."""

    def __init__(self, config: IndexConfig) -> None:
        self._config = config

    def __call__(self, row: dict[str, Any]) -> list[dict[str, Any]]:
        from index.chunking import chunk_text
        from index.loaders import load_documents

        path = row["path"]
        loaded = load_documents([Path(path)])
        out = [_row(path, failure=reason) for _, reason in loaded.failures]
        cfg = self._config
        for doc in loaded.documents:
            spans = chunk_text(doc.text, cfg.chunk_max_words, cfg.chunk_overlap_sentences)
            texts = [doc.text[s.start : s.end] for s in spans] or [""]
            record = json.dumps(asdict(doc), ensure_ascii=False)
            out.extend(
                _row(path, text=t, document=record if i == 0 else "") for i, t in enumerate(texts)
            )
        return out


def _row(path: str, *, text: str = "", document: str = "", failure: str = "") -> dict[str, Any]:
    return {"path": path, "text": text, "document": document, "failure": failure}


class _Embed:
    """A Ray actor's model, loaded once and used for every batch it is given."""

    def __init__(self, make_embedder: Callable[[], Embedder]) -> None:
        self._embedder = make_embedder()

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        texts = [str(t) for t in batch["text"]]
        wanted = [i for i, t in enumerate(texts) if t]
        vectors: list[np.ndarray] = [np.zeros(0, dtype=np.float32)] * len(texts)
        if wanted:
            embedded = self._embedder.embed([texts[i] for i in wanted])
            for row, i in enumerate(wanted):
                vectors[i] = embedded[row]
        out = dict(batch)
        out["vector"] = np.array(vectors, dtype=object)
        return out
