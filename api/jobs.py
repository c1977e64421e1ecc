"""Large uploads as background jobs (``202 Accepted`` + ``GET /v1/jobs/{job_id}``).

A job's documents are committed to SQLite (``state_dir/jobs.sqlite3``, synchronous) before the
202 is sent, so an acknowledged job survives ``kill -9``: the next start of the service finds it
queued (or running under a process that is gone) and runs it again. Every API process of one
machine shares the file, so any of them answers ``GET /v1/jobs/{job_id}``; a job is claimed by
one process with a conditional UPDATE.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from rag.conversations import open_database
from rag.errors import StoreError
from rag.types import Document

if TYPE_CHECKING:
    from index.writer import BuildReport

__all__ = ["Job", "JobResult", "JobRunner", "JobStore"]

log = logging.getLogger("api")

Status = Literal["queued", "running", "done", "failed"]

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS jobs ("
    " job_id TEXT PRIMARY KEY, status TEXT NOT NULL, replace INTEGER NOT NULL,"
    " documents TEXT NOT NULL, done INTEGER NOT NULL DEFAULT 0, total INTEGER NOT NULL DEFAULT 0,"
    " result TEXT, error_code TEXT, error_message TEXT, owner INTEGER,"
    " created REAL NOT NULL, updated REAL NOT NULL)",
    "CREATE INDEX IF NOT EXISTS jobs_status ON jobs (status, created)",
)


@dataclass(frozen=True)
class JobResult:
    """What a write did to one document (a job's result, and a synchronous write's too)."""

    doc_id: str
    title: str
    chunks: int
    status: Literal["added", "updated", "unchanged"]

    @classmethod
    def each(cls, report: BuildReport, docs: Sequence[Document]) -> list[JobResult]:
        """What ``report`` did to each of ``docs``, read back from the store it left."""
        store = report.store
        status: dict[str, Literal["added", "updated"]] = {d: "added" for d in report.added}
        status.update({doc_id: "updated" for doc_id in report.updated})
        results = []
        for doc in docs:
            stored = store.document(doc.doc_id)
            results.append(
                cls(
                    doc_id=doc.doc_id,
                    title=stored.title if stored else doc.title,
                    chunks=store.chunk_count(doc.doc_id),
                    status=status.get(doc.doc_id, "unchanged"),
                )
            )
        return results


@dataclass(frozen=True)
class Job:
    job_id: str
    status: Status
    replace: bool
    documents: int
    chunks_done: int
    chunks_total: int
    results: tuple[JobResult, ...] = ()
    error_code: str | None = None
    error_message: str | None = None


class JobStore:
    """Jobs in SQLite; safe to share between threads and processes."""

    def __init__(self, path: Path) -> None:
        self._lock = threading.Lock()
        self._db = open_database(path, _SCHEMA)
        self._db.execute("PRAGMA synchronous=FULL")  # a 202 promises the job is on disk

    @staticmethod
    def new_id() -> str:
        return "j-" + secrets.token_hex(16)

    def submit(self, docs: Sequence[Document], *, replace: bool) -> str:
        job_id = self.new_id()
        payload = json.dumps([asdict(d) for d in docs], ensure_ascii=False)
        now = time.time()
        self._run(
            "INSERT INTO jobs (job_id, status, replace, documents, created, updated)"
            " VALUES (?, 'queued', ?, ?, ?, ?)",
            (job_id, int(replace), payload, now, now),
        )
        return job_id

    def get(self, job_id: str) -> Job | None:
        rows = self._run(
            "SELECT job_id, status, replace, documents, done, total, result, error_code,"
            " error_message FROM jobs WHERE job_id = ?",
            (job_id,),
        )
        if not rows:
            return None
        (jid, status, replace, documents, done, total, result, code, message) = rows[0]
        results = tuple(JobResult(**r) for r in json.loads(result)) if result else ()
        return Job(
            jid, status, bool(replace), len(json.loads(documents)), done, total, results, code,
            message,
        )  # fmt: skip

    def claim(self) -> tuple[str, list[Document], bool] | None:
        """The oldest queued job, now running under this process; None when there is none."""
        while True:
            rows = self._run(
                "SELECT job_id, documents, replace FROM jobs WHERE status = 'queued'"
                " ORDER BY created LIMIT 1",
                (),
            )
            if not rows:
                return None
            job_id, documents, replace = rows[0]
            claimed = self._run(
                "UPDATE jobs SET status = 'running', owner = ?, updated = ?"
                " WHERE job_id = ? AND status = 'queued' RETURNING job_id",
                (os.getpid(), time.time(), job_id),
            )
            if claimed:  # else another process took it first: try the next one
                return job_id, [Document(**d) for d in json.loads(documents)], bool(replace)

    def requeue_orphans(self) -> int:
        """Put back jobs left running by a process that is gone (killed mid-job)."""
        rows = self._run("SELECT job_id, owner FROM jobs WHERE status = 'running'", ())
        orphans = [job_id for job_id, owner in rows if not _alive(owner)]
        for job_id in orphans:
            self._run(
                "UPDATE jobs SET status = 'queued', owner = NULL, done = 0 WHERE job_id = ?"
                " AND status = 'running'",
                (job_id,),
            )
        return len(orphans)

    def progress(self, job_id: str, done: int, total: int) -> None:
        self._run(
            "UPDATE jobs SET done = ?, total = ?, updated = ? WHERE job_id = ?",
            (done, total, time.time(), job_id),
        )

    def finish(self, job_id: str, results: Sequence[JobResult]) -> None:
        payload = json.dumps([asdict(r) for r in results], ensure_ascii=False)
        self._run(
            "UPDATE jobs SET status = 'done', result = ?, documents = '[]', updated = ?"
            " WHERE job_id = ?",
            (payload, time.time(), job_id),
        )

    def fail(self, job_id: str, code: str, message: str) -> None:
        self._run(
            "UPDATE jobs SET status = 'failed', error_code = ?, error_message = ?, updated = ?"
            " WHERE job_id = ?",
            (code, message, time.time(), job_id),
        )

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _run(self, sql: str, args: tuple[object, ...]) -> list[Any]:
        try:
            with self._lock:
                return self._db.execute(sql, args).fetchall()
        except sqlite3.Error as exc:
            raise StoreError(f"the job database cannot be used ({exc})") from exc


def _alive(pid: int | None) -> bool:
    if pid is None:
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class JobRunner:
    """One background thread running queued jobs in order, woken by ``kick``."""

    def __init__(self, jobs: JobStore, run: Callable[[str, list[Document], bool], None]) -> None:
        self._jobs = jobs
        self._run = run
        self._wake = threading.Event()
        self._stop = False
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._jobs.requeue_orphans()
            self._thread = threading.Thread(target=self._loop, name="rag-jobs", daemon=True)
            self._thread.start()
        self.kick()

    def kick(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _loop(self) -> None:
        while not self._stop:
            self._wake.wait(timeout=1.0)  # also polls: another process may have queued one
            self._wake.clear()
            while not self._stop:
                try:
                    claimed = self._jobs.claim()
                except StoreError:
                    log.exception("cannot read the job database")
                    break
                if claimed is None:
                    break
                self._run(*claimed)
