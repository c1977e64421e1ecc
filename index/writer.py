"""``IndexWriter``: build, add, update and remove documents, one atomic version per call."""

from __future__ import annotations

import dataclasses
import os
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from index.assembly import Changes, IndexConfig, Prepared, next_snapshot, prepare
from index.backend import AddOrReplace, Progress
from index.disk import (
    MANIFEST,
    Manifest,
    clean_old_versions,
    commit_version,
    current_version,
    new_version_dir,
    read_manifest,
    verify_files,
    with_way_back,
    write_lock,
)
from index.embedder import Embedder
from index.errors import (
    DocumentError,
    DocumentExistsError,
    IndexCorruptError,
    UnknownDocumentError,
)
from index.loaders import load_documents
from index.snapshot import Snapshot, read_snapshot, write_snapshot
from index.store import IndexStore
from index.types import Document

if TYPE_CHECKING:
    from index.backend import IndexReader

__all__ = ["BuildReport", "IndexConfig", "IndexWriter", "check_unique_ids"]


@dataclass
class BuildReport:
    """What one call changed, and the index it left behind."""

    store: IndexReader
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)
    chunks_embedded: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)


@dataclass
class _Plan:
    upserts: list[Document] = field(default_factory=list)  # to chunk and embed
    removals: set[str] = field(default_factory=set)
    relabel: dict[str, Document] = field(default_factory=dict)  # same text, new metadata
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    def report(
        self, store: IndexReader, failures: list[tuple[str, str]], embedded: int = 0
    ) -> BuildReport:
        return BuildReport(
            store=store,
            added=self.added,
            updated=self.updated,
            unchanged=self.unchanged,
            removed=self.removed,
            failures=failures,
            chunks_embedded=embedded,
        )


class IndexWriter(AddOrReplace):
    """The one way the index changes. Every call takes the inter-process write lock, builds
    the next version beside the live one and switches to it atomically."""

    def __init__(self, index_dir: Path, embedder: Embedder, config: IndexConfig | None = None):
        self.index_dir = Path(index_dir)
        self.embedder = embedder
        self.config = config or IndexConfig()

    def build(self, paths: Sequence[Path], *, progress: bool = False) -> BuildReport:
        """Index the files under ``paths``: unchanged documents are skipped, changed ones
        re-indexed, and documents whose source file under ``paths`` is gone are removed."""
        # realpath, unlike Path.resolve, does not raise on a symlink loop (reported as a failure).
        roots = [Path(os.path.realpath(p)) for p in paths]
        loaded = load_documents(paths)
        prepared = self._prepare(loaded.documents, progress=progress, strict=False)
        with write_lock(self.index_dir):
            base, stale = self._base(rebuild_damaged=True)
            plan = self._plan(base, loaded.documents, stale)
            present = {doc.doc_id for doc in loaded.documents}
            for doc in base.documents if base else ():
                if doc.doc_id in present or doc.source is None:
                    continue
                source = Path(doc.source)
                if under_roots(source, roots) and not source.exists():
                    plan.removals.add(doc.doc_id)
                    plan.removed.append(doc.doc_id)
            return self._commit(base, plan, loaded.failures, progress, prepared)

    def add_paths(self, paths: Sequence[Path], *, progress: bool = False) -> BuildReport:
        """Add or update the documents in ``paths``; nothing else changes."""
        loaded = load_documents(paths)
        prepared = self._prepare(loaded.documents, progress=progress)
        with write_lock(self.index_dir):
            base, stale = self._base()
            plan = self._plan(base, loaded.documents, stale)
            return self._commit(base, plan, loaded.failures, progress, prepared)

    def add_documents(
        self,
        docs: Iterable[Document],
        *,
        replace: bool = True,
        on_progress: Progress | None = None,
    ) -> BuildReport:
        """Add or update the given documents (e.g. from the API); nothing else changes.

        A doc_id given twice raises ``DocumentError``; with ``replace=False`` a doc_id already
        in the index raises ``DocumentExistsError``. Either way nothing is written. The text is
        chunked and embedded before the write lock is taken, so other writers wait only for
        the commit, not for the model.
        """
        docs = list(docs)
        check_unique_ids(docs)
        if not replace:
            self._check_new(self._live_manifest(strict=True), docs)  # fail before the slow part
        prepared = self._prepare(docs, on_progress=on_progress)
        with write_lock(self.index_dir):
            base, stale = self._base()
            if not replace and base is not None:
                self._check_new(base.manifest, docs)
            plan = self._plan(base, docs, stale)
            return self._commit(base, plan, [], False, prepared)

    def remove(self, doc_ids: Iterable[str]) -> BuildReport:
        """Remove documents by id; an unknown id raises ``UnknownDocumentError`` and changes
        nothing."""
        # Ids are stored in NFC: 'café' typed with a combining accent names the same document.
        wanted = list(dict.fromkeys(unicodedata.normalize("NFC", d) for d in doc_ids))
        with write_lock(self.index_dir):
            base, stale = self._base()
            known = {doc.doc_id for doc in base.documents} if base else set()
            unknown = [doc_id for doc_id in wanted if doc_id not in known]
            if unknown:
                raise UnknownDocumentError(
                    f"no document {', '.join(map(repr, unknown))} in the index"
                )
            plan = self._plan(base, [], stale)
            plan.removals.update(wanted)
            plan.removed.extend(wanted)
            return self._commit(base, plan, [], progress=False)

    # ---- before the lock -----------------------------------------------------------------

    def _live_manifest(self, *, strict: bool = False) -> Manifest | None:
        """The live version's manifest, read without the lock (a hint: it may change).

        ``strict``: a damaged pointer or manifest raises ``IndexCorruptError`` now, before
        anything is embedded (an incremental change never rebuilds a damaged index)."""
        try:
            version = current_version(self.index_dir)
            if version is None:
                return None
            manifest = read_manifest(version)
            if strict and verify_files(version, manifest.files) is not None:
                raise IndexCorruptError("damaged")
            return manifest
        except (OSError, ValueError, IndexCorruptError):
            if strict:
                self._base()  # raises the error naming what is damaged
            return None

    def _prepare(
        self,
        docs: Sequence[Document],
        *,
        progress: bool = False,
        on_progress: Progress | None = None,
        strict: bool = True,
    ) -> dict[str, Prepared]:
        """Chunk and embed, outside the lock, the documents the live version lacks (``strict``:
        a damaged live version raises first; ``build`` rebuilds it instead)."""
        manifest = self._live_manifest(strict=strict)
        stale = manifest is None or (
            manifest.embed_model != self.embedder.name
            or manifest.chunk_max_words != self.config.chunk_max_words
            or manifest.chunk_overlap_sentences != self.config.chunk_overlap_sentences
        )
        known = manifest.documents if manifest is not None else {}
        changed = [
            d
            for d in docs
            if stale or d.doc_id not in known or known[d.doc_id].hash != d.content_hash
        ]
        if not changed:
            return {}
        return prepare(
            changed, self.embedder, self.config, progress=progress, on_progress=on_progress
        )

    @staticmethod
    def _check_new(manifest: Manifest | None, docs: Sequence[Document]) -> None:
        existing = manifest.documents if manifest is not None else {}
        taken = [doc.doc_id for doc in docs if doc.doc_id in existing]
        if taken:
            raise DocumentExistsError(
                f"doc_id {', '.join(map(repr, taken[:5]))} is already in the index", taken
            )

    # ---- planning ------------------------------------------------------------------------

    def _base(self, *, rebuild_damaged: bool = False) -> tuple[Snapshot | None, bool]:
        """The live version, and whether its vectors or chunks are stale (another model or
        chunking), so every document must be re-indexed.

        A damaged index is rebuilt from the files given when ``rebuild_damaged`` (``build``);
        an incremental change raises ``IndexCorruptError`` instead of dropping what it held.
        """
        try:
            version = current_version(self.index_dir)
            snapshot = read_snapshot(version) if version is not None else None
        except IndexCorruptError as exc:
            if rebuild_damaged:
                return None, False
            raise with_way_back(exc, self.index_dir) from exc
        if snapshot is None:
            return None, False
        m, cfg = snapshot.manifest, self.config
        # The name decides; the dimension is checked when vectors are made (asking for it
        # would load the model even for a removal).
        stale = (
            m.embed_model != self.embedder.name
            or m.chunk_max_words != cfg.chunk_max_words
            or m.chunk_overlap_sentences != cfg.chunk_overlap_sentences
        )
        return snapshot, stale

    def _plan(self, base: Snapshot | None, docs: Sequence[Document], stale: bool) -> _Plan:
        plan = _Plan()
        existing = {doc.doc_id: doc for doc in base.documents} if base else {}
        incoming = {doc.doc_id: doc for doc in docs}
        for doc in incoming.values():
            old = existing.get(doc.doc_id)
            if old is None:
                plan.upserts.append(doc)
                plan.added.append(doc.doc_id)
            elif old.content_hash != doc.content_hash or stale:
                plan.upserts.append(doc)
                plan.updated.append(doc.doc_id)
            else:
                if old.source != doc.source and doc.source is not None:
                    plan.relabel[doc.doc_id] = doc
                plan.unchanged.append(doc.doc_id)
        if stale:  # documents nobody named still need new vectors
            for doc_id, doc in existing.items():
                if doc_id not in incoming:
                    plan.upserts.append(doc)
                    plan.updated.append(doc_id)
        return plan

    # ---- committing ----------------------------------------------------------------------

    def _same_settings(self, base: Snapshot) -> bool:
        """Whether ``base`` has the groups and index kind this config asks for."""
        approximate = len(base.chunks) > self.config.approx_threshold
        return (
            base.manifest.dedup_threshold == self.config.dedup_threshold
            and base.manifest.approximate == approximate
        )

    def _commit(
        self,
        base: Snapshot | None,
        plan: _Plan,
        failures: list[tuple[str, str]],
        progress: bool,
        prepared: dict[str, Prepared] | None = None,
    ) -> BuildReport:
        if plan.removals:  # a removed document is never re-indexed, even for a new model
            plan.upserts = [d for d in plan.upserts if d.doc_id not in plan.removals]
            plan.updated = [d for d in plan.updated if d not in plan.removals]
        nothing_to_do = not (plan.upserts or plan.removals or plan.relabel) and (
            base is None or self._same_settings(base)
        )
        if base is not None and nothing_to_do:
            clean_old_versions(self.index_dir)  # e.g. a folder half written by a killed build
            version = current_version(self.index_dir)
            return plan.report(IndexStore(base, version), failures)
        replaced = plan.removals | {doc.doc_id for doc in plan.upserts}
        next_id = max(base.manifest.next_id if base else 1, _recorded_next_id(self.index_dir))
        snapshot, embedded = next_snapshot(
            base,
            Changes(plan.upserts, replaced, plan.relabel, next_id),
            self.embedder,
            self.config,
            progress=progress,
            prepared=prepared,
        )
        tmp, final = new_version_dir(self.index_dir)
        write_snapshot(snapshot, tmp)
        commit_version(tmp, final, snapshot.manifest)
        clean_old_versions(self.index_dir)
        store = IndexStore(read_manifest_into(snapshot, final), final)
        return plan.report(store, failures, embedded)


def read_manifest_into(snapshot: Snapshot, version: Path) -> Snapshot:
    """The snapshot with the manifest as committed (file checksums included)."""
    return dataclasses.replace(snapshot, manifest=read_manifest(version))


def _recorded_next_id(index_dir: Path) -> int:
    """The highest next_id any readable manifest in ``index_dir`` records (so a rebuild after
    damage still never reuses an id)."""
    best = 1
    for manifest in index_dir.glob(f"v*/{MANIFEST}"):
        try:
            best = max(best, int(Manifest.from_json(manifest.read_text("utf-8")).next_id))
        except (OSError, ValueError, TypeError, KeyError):
            continue
    return best


def check_unique_ids(docs: Sequence[Document]) -> None:
    """Raise ``DocumentError`` when one write names a doc_id twice (every backend's rule)."""
    seen: set[str] = set()
    for doc in docs:
        if doc.doc_id in seen:
            raise DocumentError(f"doc_id {doc.doc_id!r} is given twice")
        seen.add(doc.doc_id)


def under_roots(path: Path, roots: list[Path]) -> bool:
    """Whether ``path`` is one of ``roots`` or inside one."""
    resolved = Path(os.path.abspath(path))
    return any(resolved == root or resolved.is_relative_to(root) for root in roots)
