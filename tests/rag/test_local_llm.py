"""The local model's GGUF: found in its packages, joined once, verified, reused."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import pytest

from rag.errors import ModelError
from rag.local_llm import (
    MODEL_FILE_NAME,
    PART_PACKAGES,
    assemble_model,
    ensure_local_model,
    find_parts,
)
from rag.settings import Settings

PIECES = (b"GGUF" + b"a" * 3000, b"b" * 2048, b"tail-bytes")


@pytest.fixture
def parts(tmp_path: Path) -> list[Path]:
    folder = tmp_path / "site-packages"
    folder.mkdir()
    paths = []
    for number, piece in enumerate(PIECES, start=1):
        path = folder / f"part{number:02d}.bin"
        path.write_bytes(piece)
        paths.append(path)
    return paths


@pytest.fixture
def target(tmp_path: Path) -> Path:
    return tmp_path / "cache" / "model.gguf"


GOOD_SHA = hashlib.sha256(b"".join(PIECES)).hexdigest()


def test_parts_are_joined_in_order_and_verified(parts: list[Path], target: Path) -> None:
    assert assemble_model(parts, target, GOOD_SHA) == target
    assert target.read_bytes() == b"".join(PIECES)
    assert not list(target.parent.glob("*.tmp")), "no temporary file is left behind"


def test_a_verified_file_is_reused_without_reading_the_parts(
    parts: list[Path], target: Path
) -> None:
    assemble_model(parts, target, GOOD_SHA)
    mtime = target.stat().st_mtime_ns
    for part in parts:
        part.unlink()  # were they read again, this would fail
    assert assemble_model(parts, target, GOOD_SHA) == target
    assert target.stat().st_mtime_ns == mtime


def test_a_lost_verification_record_costs_one_rehash_not_a_rebuild(
    parts: list[Path], target: Path
) -> None:
    assemble_model(parts, target, GOOD_SHA)
    for sidecar in target.parent.glob("*.verified"):
        sidecar.unlink()
    for part in parts:
        part.unlink()
    assert assemble_model(parts, target, GOOD_SHA).read_bytes() == b"".join(PIECES)


def test_a_damaged_cache_file_is_rebuilt(parts: list[Path], target: Path) -> None:
    assemble_model(parts, target, GOOD_SHA)
    target.write_bytes(b"GGUF but truncated")
    assert assemble_model(parts, target, GOOD_SHA).read_bytes() == b"".join(PIECES)


def test_a_bad_checksum_is_one_clear_error_and_leaves_nothing(
    parts: list[Path], target: Path
) -> None:
    with pytest.raises(ModelError, match="checksum mismatch") as caught:
        assemble_model(parts, target, "0" * 64)
    assert "\n" not in str(caught.value)
    assert not target.exists()
    assert not list(target.parent.glob("*.tmp"))


def test_a_missing_part_is_named(parts: list[Path], target: Path) -> None:
    parts[1].unlink()
    with pytest.raises(ModelError, match=r"part02\.bin"):
        assemble_model(parts, target, GOOD_SHA)
    assert not target.exists()


def test_a_missing_package_is_named() -> None:
    with pytest.raises(ModelError, match="'no-such-model-part-pkg' is not installed"):
        find_parts(("no-such-model-part-pkg",))


def test_two_concurrent_assemblies_agree(parts: list[Path], target: Path) -> None:
    results: list[Path | BaseException] = []

    def run() -> None:
        try:
            results.append(assemble_model(parts, target, GOOD_SHA))
        except BaseException as exc:
            results.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [target] * 3
    assert target.read_bytes() == b"".join(PIECES)


def test_the_installed_packages_hold_all_six_parts() -> None:
    parts = find_parts()
    assert len(parts) == len(PART_PACKAGES) == 6
    assert [p.name for p in parts] == [f"part{n:02d}.bin" for n in range(1, 7)]
    assert all(p.stat().st_size > 0 for p in parts)


def test_a_user_supplied_gguf_is_taken_as_given(tmp_path: Path) -> None:
    mine = tmp_path / "mine.gguf"
    mine.write_bytes(b"not checked")
    settings = Settings(local_model_path=mine, cache_dir=tmp_path / "cache")
    assert ensure_local_model(settings) == mine
    assert not (tmp_path / "cache" / MODEL_FILE_NAME).exists()


def test_a_missing_user_gguf_is_one_clear_error(tmp_path: Path) -> None:
    settings = Settings(local_model_path=tmp_path / "nope.gguf")
    with pytest.raises(ModelError, match="RAG_LOCAL_MODEL_PATH"):
        ensure_local_model(settings)
