"""The index on disk: immutable version folders, an atomically switched pointer, a write lock.

index_dir/
  CURRENT           the name of the live version, replaced atomically (os.replace)
  .lock             fcntl lock held by the one writer
  v000007/          one complete version: manifest.json (written last, with a checksum of
                    every other file), documents.jsonl, chunks.npz, embeddings.npy,
                    minhash.npy, bm25/, hnsw.faiss (approximate indexes only)
  .tmp-v000008-PID  a version being written; a crash leaves it behind, never CURRENT
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import fcntl
import json
import os
import re
import shutil
import time
import zlib
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from index.errors import IndexBusyError, IndexCorruptError, IndexStateError

FORMAT_VERSION = 1
POINTER = "CURRENT"
LOCK = ".lock"
MANIFEST = "manifest.json"
_TMP_PREFIX = ".tmp-"
_KEEP_PREVIOUS = 1  # readers that loaded the previous version a moment ago may still read it
_VERSION_NAME = re.compile(r"v\d{6,}")
_FIX = "run `rag index build` to rebuild it"


@dataclass(frozen=True)
class DocEntry:
    hash: str
    chunks: int
    source: str | None = None


@dataclass(frozen=True)
class Manifest:
    """What a version holds and how it was made; checked on every load."""

    embed_model: str
    dimension: int
    chunk_max_words: int
    chunk_overlap_sentences: int
    dedup_threshold: float
    approximate: bool
    next_id: int  # the next chunk id to hand out; ids are never reused
    chunks: int
    documents: dict[str, DocEntry] = field(default_factory=dict)
    files: dict[str, list[int]] = field(default_factory=dict)  # name -> [size, crc32]
    format_version: int = FORMAT_VERSION
    created_at: float = 0.0

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1, sort_keys=True)

    @classmethod
    def from_json(cls, text: str | bytes) -> Manifest:
        """The manifest in ``text``; ``ValueError`` for anything but a well-formed one."""
        try:
            raw = json.loads(text)
            raw["documents"] = {k: DocEntry(**v) for k, v in raw.get("documents", {}).items()}
            files = raw.get("files", {})
            if not all(_is_size_and_crc(entry) for entry in files.values()):
                raise ValueError("bad file entry")
            return cls(**raw)
        except (TypeError, KeyError, AttributeError) as exc:  # the right JSON, the wrong shape
            raise ValueError(f"not a manifest ({type(exc).__name__})") from exc


def _is_size_and_crc(entry: object) -> bool:
    return (
        isinstance(entry, list)
        and len(entry) == 2
        and all(isinstance(n, int) and not isinstance(n, bool) for n in entry)
    )


def current_version(index_dir: Path) -> Path | None:
    """The live version folder, or None when the pointer does not exist yet.

    Raises ``IndexCorruptError`` when the pointer cannot be read or names no version folder,
    and ``IndexStateError`` when ``index_dir`` is not a directory.
    """
    pointer = index_dir / POINTER
    try:
        raw = pointer.read_bytes()
    except FileNotFoundError:
        return None
    except NotADirectoryError as exc:
        raise not_a_directory(index_dir) from exc
    except OSError as exc:
        raise IndexCorruptError(
            f"the index in {index_dir} is damaged ({POINTER} cannot be read: "
            f"{exc.strerror or exc}); {_FIX}"
        ) from exc
    name = raw.decode("ascii", errors="replace").strip()
    if not _VERSION_NAME.fullmatch(name):
        raise IndexCorruptError(
            f"the index in {index_dir} is damaged ({POINTER} does not name a version); {_FIX}"
        )
    return index_dir / name


def read_manifest(version: Path) -> Manifest:
    """The manifest of the version folder ``version``; ``OSError`` when it cannot be read,
    ``ValueError`` when it is not a manifest."""
    return Manifest.from_json((version / MANIFEST).read_bytes())


def _version_dirs(index_dir: Path) -> list[Path]:
    """The version folders in ``index_dir``, oldest first."""
    return sorted(p for p in index_dir.glob("v*") if p.is_dir() and p.name[1:].isdigit())


def newest_intact_version(index_dir: Path, *, besides: Path | None = None) -> Path | None:
    """The newest version folder (other than ``besides``) whose manifest reads and whose files
    match their checksums: what a damaged pointer or version can go back to."""
    for path in reversed(_version_dirs(index_dir)):
        if path == besides:
            continue
        try:
            manifest = read_manifest(path)
        except (OSError, ValueError):
            continue
        if verify_files(path, manifest.files) is None:
            return path
    return None


def with_way_back(exc: IndexCorruptError, index_dir: Path) -> IndexCorruptError:
    """``exc`` naming an intact earlier version when there is one. `rag index build` rebuilds
    from the files, so a document added through the API, which has no file, is kept only in
    the versions on disk, and the build's next write removes the older of them."""
    try:
        live = current_version(index_dir)
    except IndexStateError:
        live = None
    intact = newest_intact_version(index_dir, besides=live)
    if intact is None:
        return exc
    return IndexCorruptError(
        f"{exc}; or, to keep documents that were added through the API and have no file, go "
        f"back to {intact.name}, which is intact: write '{intact.name}' into "
        f"{index_dir / POINTER}"
    )


def not_a_directory(index_dir: Path) -> IndexStateError:
    return IndexStateError(f"the index directory {index_dir} is not a directory")


def new_version_dir(index_dir: Path) -> tuple[Path, Path]:
    """(temporary folder to write into, final name) for the next version."""
    make_index_dir(index_dir)
    numbers = [int(p.name[1:]) for p in index_dir.glob("v*") if p.name[1:].isdigit()]
    number = max(numbers, default=0) + 1
    tmp = index_dir / f"{_TMP_PREFIX}v{number:06d}-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    return tmp, index_dir / f"v{number:06d}"


def file_checksums(directory: Path) -> dict[str, list[int]]:
    """[size, crc32] of every file under ``directory`` but the manifest, by relative path."""
    out = {}
    for path in sorted(directory.rglob("*")):
        if path.is_file() and path.name != MANIFEST:
            out[path.relative_to(directory).as_posix()] = [path.stat().st_size, _crc32(path)]
    return out


def verify_files(directory: Path, expected: dict[str, list[int]]) -> str | None:
    """A description of the first missing or damaged file, or None when all match."""
    for name, (size, crc) in expected.items():
        path = directory / name
        if not path.is_file():
            return f"{name} is missing"
        if path.stat().st_size != size:
            return f"{name} is truncated or changed"
        if _crc32(path) != crc:
            return f"{name} is corrupt (checksum mismatch)"
    return None


def commit_version(tmp: Path, final: Path, manifest: Manifest) -> None:
    """Seal ``tmp`` (checksums, fsync), move it to ``final`` and switch the pointer to it."""
    manifest_with_files = dataclasses.replace(
        manifest, files=file_checksums(tmp), created_at=time.time()
    )
    _write_synced(tmp / MANIFEST, manifest_with_files.to_json().encode())
    for path in tmp.rglob("*"):
        if path.is_file():
            _fsync_path(path)
    for folder in [*(p for p in tmp.rglob("*") if p.is_dir()), tmp]:
        _fsync_path(folder)
    os.rename(tmp, final)
    index_dir = final.parent
    _fsync_path(index_dir)
    pointer_tmp = index_dir / f"{POINTER}.tmp"
    _write_synced(pointer_tmp, f"{final.name}\n".encode())
    os.replace(pointer_tmp, index_dir / POINTER)
    _fsync_path(index_dir)


def clean_old_versions(index_dir: Path) -> None:
    """Remove crashed temporaries and versions older than the previous one (lock held)."""
    live = current_version(index_dir)
    versions = _version_dirs(index_dir)
    keep = {live.name} if live else set()
    older = [p for p in versions if live is None or p.name < live.name]
    keep.update(p.name for p in older[-_KEEP_PREVIOUS:])
    for path in versions:
        if path.name not in keep:
            shutil.rmtree(path, ignore_errors=True)
    for path in index_dir.glob(f"{_TMP_PREFIX}*"):
        shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink()


@contextlib.contextmanager
def write_lock(index_dir: Path, timeout_s: float = 300.0) -> Iterator[None]:
    """The inter-process lock every writer holds while it builds and commits a version."""
    make_index_dir(index_dir)
    with open(index_dir / LOCK, "a+b") as handle:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                if time.monotonic() > deadline:
                    raise IndexBusyError(
                        f"another process is writing the index in {index_dir}; try again later"
                    ) from exc
                time.sleep(0.05)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def make_index_dir(index_dir: Path) -> None:
    """Create ``index_dir`` (and its parents) unless it exists; a file in its place is an error."""
    try:
        index_dir.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError) as exc:
        raise not_a_directory(index_dir) from exc


def directory_size(directory: Path) -> int:
    return sum(p.stat().st_size for p in directory.rglob("*") if p.is_file())


def _crc32(path: Path) -> int:
    crc = 0
    with open(path, "rb") as handle:
        while block := handle.read(1 << 22):
            crc = zlib.crc32(block, crc)
    return crc


def _write_synced(path: Path, data: bytes) -> None:
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
