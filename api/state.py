"""What an app serves with: the pipeline, the index writer, the chat engine, and their loading.

Models and the index load once, in a background thread started by the lifespan, so the process
answers ``/healthz`` at once and ``/readyz`` says what is still missing. Writes go through one
lock and swap the writer's new snapshot into the pipeline, so the very next answer sees them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import TYPE_CHECKING

from api.batching import BatchingEmbedder
from api.errors import ApiError, status_for
from api.jobs import JobResult, JobRunner, JobStore
from api.metrics import Metrics
from api.queue import GenerationQueue
from index.embedder import Embedder
from index.errors import IndexMissingError, IndexStateError
from rag.chat import ChatEngine
from rag.conversations import ConversationStore
from rag.errors import USER_ERRORS
from rag.generation import Generator
from rag.settings import EXTRACTIVE_MODEL, Settings
from rag.types import Answer, Document

if TYPE_CHECKING:
    from pathlib import Path

    from index.backend import IndexReader, IndexWrites, Progress
    from index.writer import BuildReport
    from rag.pipeline import Pipeline

__all__ = ["AppState"]

log = logging.getLogger("api")


class AppState:
    """The parts of one app; injected parts are used as given, the rest load in ``load``."""

    def __init__(
        self,
        settings: Settings,
        *,
        pipeline: Pipeline | None = None,
        writer: IndexWrites | None = None,
        embedder: Embedder | None = None,
        generator: Generator | None = None,
    ) -> None:
        self.settings = settings
        self.metrics = Metrics(multiprocess=settings.workers > 1)
        self.queue = GenerationQueue(
            settings.generation_queue_size,
            settings.generation_workers,
            on_reject=self.metrics.rejected.inc,
        )
        # Searches run on their own threads: a plain executor hands work over in ~0.2 ms less
        # than anyio's thread pool (measured), which is a tenth of a search's HTTP overhead.
        # 16: the most queries the embedder batches at once.
        self.searches = ThreadPoolExecutor(max_workers=16, thread_name_prefix="search")
        self.pipeline = pipeline
        self.writer = writer
        self._embedder = embedder
        self._generator = generator
        self._generator_given = generator is not None
        self.problems: dict[str, str] = {}  # part -> what is wrong and how to fix it
        self.loading = pipeline is None
        self._swap_lock = threading.Lock()
        self._closed = threading.Event()
        self.conversations = ConversationStore(settings.state_dir / "conversations.sqlite3")
        self.jobs = JobStore(settings.state_dir / "jobs.sqlite3")
        self._job_runner = JobRunner(self.jobs, self._run_job)
        self.chat = ChatEngine(self.require_pipeline, self.conversations)
        self.slack = "off"
        if pipeline is not None:
            self.metrics_from(self.store)

    # ---- reading ----------------------------------------------------------------------------

    @property
    def store(self) -> IndexReader | None:
        if self.pipeline is None:
            return None
        return self.pipeline.retriever.store  # type: ignore[return-value]

    @property
    def ready(self) -> bool:
        return self.pipeline is not None and not self.loading and not self.problems

    def require_pipeline(self) -> Pipeline:
        if self.pipeline is not None:
            return self.pipeline
        if self.loading:
            raise ApiError(503, "not_ready", "models and index are loading", retry_after=5)
        raise ApiError(503, "not_ready", "; ".join(self.problems.values()) or "not ready")

    def require_store(self) -> IndexReader:
        store = self.store
        if store is None:
            self.require_pipeline()
            raise ApiError(503, "not_ready", "no index loaded")
        return store

    # ---- loading ----------------------------------------------------------------------------

    def start_loading(self) -> None:
        if not self.loading:
            return
        # A daemon thread: a server stopped mid-load must not wait for the models.
        threading.Thread(target=self.load, name="rag-load", daemon=True).start()

    def load(self) -> None:
        """Load what was not injected; record each failure as a problem, never raise."""
        started = time.perf_counter()
        try:
            self._load()
        except IndexStateError as exc:
            self.problems["index"] = _fix_hint(str(exc))
        except USER_ERRORS as exc:
            self.problems["models"] = str(exc)
        except Exception as exc:  # a bug: logged in full, and /readyz stays 503 saying so
            log.exception("loading failed")
            self.problems["startup"] = f"{type(exc).__name__}: {exc}"
        finally:
            self.loading = False
        if self.writer is not None:
            self._job_runner.start()  # jobs acknowledged before a restart run now
        if self.settings.index_backend == "faiss":
            threading.Thread(target=self._follow_index, name="rag-index-watch", daemon=True).start()
        took = time.perf_counter() - started
        if self.problems:
            log.warning("not ready after %.1f s: %s", took, "; ".join(self.problems.values()))
        else:
            log.info("models and index loaded in %.1f s", took)

    def _load(self) -> None:
        from rag import components
        from rag.llm import load_generator

        if self._embedder is None:
            self._embedder = components.load_embedder(self.settings)
        if not self._generator_given:
            self._generator = load_generator(self.settings)  # None for `extractive`
        if self.writer is None:
            self.writer = components.open_writer(self.settings, self._embedder)
        try:
            store = components.open_store(self.settings, self._embedder)
        except IndexMissingError as exc:
            self.problems["index"] = _fix_hint(str(exc))
            return
        self.pipeline = self._new_pipeline(store)
        self.metrics_from(store)

    def _follow_index(self) -> None:
        """Swap in versions committed by another process (another API worker, `rag index
        build`): the CURRENT pointer is read every ``index_poll_s``, a few microseconds."""
        from index.disk import current_version
        from index.errors import IndexingError
        from index.store import open_index

        index_dir = self.settings.index_dir
        said = ""  # the last failure logged: a damaged index is said once, not every poll
        seen: tuple[str, int, int] | None = None  # the folder the pointer named last time
        while not self._closed.wait(self.settings.index_poll_s):
            try:
                version = current_version(index_dir)
                if version is None or self._embedder is None:
                    continue
                stat = version.stat()  # a rebuilt index's v000001 may reuse the inode
                mark = (version.name, stat.st_ino, stat.st_mtime_ns)
                if mark == seen:
                    continue
                seen = mark  # a damaged version is tried once, not on every poll
                if not _holds(self.store, version):
                    self._use_store(open_index(index_dir, self._embedder))
                said = ""
            except (IndexingError, OSError) as exc:  # e.g. removed while read: poll again
                if str(exc) != said:
                    log.warning("cannot follow the index in %s: %s", index_dir, exc)
                said = str(exc)

    def _new_pipeline(self, store: IndexReader) -> Pipeline:
        from rag.components import pipeline_over

        assert self._embedder is not None
        # Concurrent requests' query embeddings share model calls (see api.batching).
        return pipeline_over(
            store, self._embedder, self._generator, self.settings, wrap_queries=BatchingEmbedder
        )

    def metrics_from(self, store: IndexReader | None) -> None:
        if store is not None:
            stats = store.stats()
            self.metrics.set_index(stats.documents, stats.chunks, stats.size_bytes)

    # ---- writing ----------------------------------------------------------------------------

    def add_documents(
        self,
        docs: Sequence[Document],
        *,
        replace: bool = False,
        on_progress: Progress | None = None,
    ) -> BuildReport:
        """Commit to disk, then swap the new snapshot in: blocking, run it in a thread.

        A doc_id already in the index raises ``DocumentExistsError`` unless ``replace``.
        Writes run side by side: each embeds on its own and the backend's lock covers only
        its commit, so a small document never waits for a large one's embedding.
        """
        writer = self.require_writer()
        if replace:
            report = writer.replace(list(docs), on_progress=on_progress)
        else:
            report = writer.add(list(docs), on_progress=on_progress)
        self._use_store(report.store)
        return report

    def submit_job(self, docs: Sequence[Document], *, replace: bool) -> str:
        """Keep ``docs`` as a job (on disk before this returns) and index them in the
        background; the job id is what ``GET /v1/jobs/{job_id}`` reports on."""
        self.require_writer()
        job_id = self.jobs.submit(docs, replace=replace)
        self._job_runner.start()
        return job_id

    def _run_job(self, job_id: str, docs: list[Document], replace: bool) -> None:
        try:
            report = self.add_documents(
                docs,
                replace=replace,
                on_progress=lambda done, total: self.jobs.progress(job_id, done, total),
            )
        except USER_ERRORS as exc:
            _, code = status_for(exc)
            self.jobs.fail(job_id, code, str(exc))
            return
        except ApiError as exc:
            self.jobs.fail(job_id, exc.code, str(exc))
            return
        except Exception as exc:  # a bug: logged in full, and the job says it failed
            log.exception("job %s failed", job_id)
            self.jobs.fail(job_id, "internal_error", f"{type(exc).__name__}: {exc}")
            return
        self.jobs.finish(job_id, JobResult.each(report, docs))

    def remove_documents(self, doc_ids: Sequence[str]) -> BuildReport:
        writer = self.require_writer()
        report = writer.remove(list(doc_ids))
        self._use_store(report.store)
        return report

    def require_writer(self) -> IndexWrites:
        if self.writer is None and self.pipeline is not None:
            # A pipeline was given without a writer: write to settings.index_dir with its embedder.
            from rag import components

            self.writer = components.open_writer(self.settings, self.pipeline.retriever.embedder)
        if self.writer is None:
            if self.loading:
                raise ApiError(503, "not_ready", "the index is loading", retry_after=5)
            raise ApiError(503, "not_ready", "; ".join(self.problems.values()) or "no index writer")
        return self.writer

    def _use_store(self, store: IndexReader) -> None:
        with self._swap_lock:
            current = self.store
            if current is not None and _older(store, current):
                return  # a write that committed later has swapped in its newer version
            self._swap(store)

    def _swap(self, store: IndexReader) -> None:
        if self.pipeline is None:
            # The first documents of a new index: answering can start now, unless a model
            # failed to load. A pipeline without it would answer as another engine (a failed
            # LLM is no LLM: extractive answers) while /readyz says not ready.
            if self._embedder is None or self.problems.keys() & {"models", "startup"}:
                return
            self.pipeline = self._new_pipeline(store)
            self.problems.pop("index", None)
        else:
            self.pipeline.use_store(store)
        self.metrics_from(store)

    # ---- the fallback when generation misses the deadline -----------------------------------

    def extractive_answer(
        self,
        question: str,
        *,
        conversation_id: str | None,
        top_k: int | None,
        doc_ids: Sequence[str] | None,
    ) -> Answer:
        """The best-supported sentences, no LLM: what a user gets when generation is too slow."""
        extractive = self.require_pipeline().extractive()
        chat = ChatEngine(lambda: extractive, self.conversations)
        answer = chat.ask(question, conversation_id=conversation_id, top_k=top_k, doc_ids=doc_ids)
        return replace(answer, degraded=True, model=EXTRACTIVE_MODEL)

    def close(self) -> None:
        self._closed.set()
        self._job_runner.stop()
        self.jobs.close()
        self.queue.shutdown()  # waits for the running generation, drops the waiting ones
        self.searches.shutdown(wait=True, cancel_futures=True)
        self.conversations.close()


def _holds(store: IndexReader | None, version: Path) -> bool:
    """Whether ``store`` is the version folder ``version`` or a later one still on disk (a
    write of this process that committed after the pointer was read). A folder of the same
    name is another one when its commit time differs: the index was deleted and rebuilt, and
    its versions started again from v000001."""
    from index.disk import read_manifest

    loaded = getattr(store, "directory", None)
    if store is None or loaded is None or loaded.parent != version.parent or not loaded.exists():
        return False
    if version.name != loaded.name:
        return version.name < loaded.name
    try:
        on_disk = read_manifest(version)
    except (OSError, ValueError):
        return False  # opening it says what is wrong
    return bool(on_disk.created_at == store.snapshot.manifest.created_at)  # type: ignore[attr-defined]


def _older(new: IndexReader, current: IndexReader) -> bool:
    """Whether ``new`` is a version folder older than ``current``'s (two writes that finished
    in the other order than they committed). Once ``current``'s folder is gone (the index was
    deleted, maybe rebuilt from v000001), nothing on disk is older than it."""
    a, b = getattr(new, "directory", None), getattr(current, "directory", None)
    if a is None or b is None or a.parent != b.parent or not b.exists():
        return False
    return bool(a.name < b.name)


def _fix_hint(message: str) -> str:
    return message if "rag index build" in message else f"{message}: run `rag index build`"
