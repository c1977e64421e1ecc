"""Every ``rag`` command against bad flags, bad settings and damaged files: one line on stderr,
a non-zero exit, never a traceback unless ``--verbose`` asks for it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from api.feedback import FeedbackStore
from rag.settings import get_settings
from tests.fakes import HashEmbedder
from tests.index.helpers import SEEDS, writer
from tests.rag.in_process import Run, run_cli

ROOT = Path(__file__).resolve().parents[2]


Runner = Callable[..., Run]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    index_dir = tmp_path_factory.mktemp("cli") / "index"
    writer(index_dir, HashEmbedder()).build([SEEDS])
    return index_dir


@pytest.fixture
def index_dir(built: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "index"
    subprocess.run(["cp", "-r", str(built), str(copy)], check=True)
    return copy


@pytest.fixture
def rag(
    tmp_path: Path,
    index_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Iterator[Runner]:
    """``rag(*args, **env)``: the CLI in this process, on a copy of a small fake-model index."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RAG_INDEX_DIR", str(index_dir))
    monkeypatch.setenv("RAG_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("RAG_LLM_MODEL", "extractive")

    def run(*args: str, **env: str) -> Run:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        return run_cli(args, monkeypatch, capsys)

    yield run
    get_settings.cache_clear()


def _version(index_dir: Path) -> Path:
    return index_dir / (index_dir / "CURRENT").read_text().strip()


DAMAGE: dict[str, Callable[[Path], None]] = {
    "random-pointer": lambda d: (d / "CURRENT").write_bytes(bytes(range(255, -1, -1))),
    "pointer-outside": lambda d: (d / "CURRENT").write_text("../../etc\n"),
    "manifest-list": lambda d: (_version(d) / "manifest.json").write_text("[1, 2]"),
    "vectors-garbled": lambda d: (_version(d) / "embeddings.npy").write_bytes(b"junk" * 64),
}
COMMANDS = {
    "search": ["search", "phase one"],
    "ask": ["ask", "How long did phase one last?"],
    "stats": ["index", "stats"],
    "remove": ["index", "remove", "anything"],
    "add": ["index", "add", str(SEEDS / "001_e2ebf3ea3f42602b.txt")],
}


@pytest.mark.parametrize("damage", list(DAMAGE))
@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_damaged_index_is_one_line_naming_the_fix(
    rag: Runner, index_dir: Path, damage: str, command: str
) -> None:
    DAMAGE[damage](index_dir)

    result = rag(*COMMANDS[command])

    assert result.code == 1
    assert result.one_line, result.err
    assert result.err.startswith(f"error: the index in {index_dir} is damaged")
    assert "rag index build" in result.err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["search", "q", "-k", "abc"], "Invalid value for '-k'"),
        (["search", "q", "-k", "0"], "Invalid value for '-k'"),
        (["search", "q", "--bogus"], "No such option: --bogus"),
        (["search"], "Missing argument"),
        (["index", "remove"], "Missing argument"),
        (["serve", "--port", "99999"], "Invalid value for '--port'"),
        (["feedback", "export", "--rating", "meh"], "must be one of up, down"),
    ],
    ids=["k-not-int", "k-zero", "unknown-flag", "no-query", "no-doc-id", "bad-port", "bad-rating"],
)
def test_a_bad_flag_is_one_line_and_exit_2(rag: Runner, args: list[str], message: str) -> None:
    result = rag(*args)

    assert result.code == 2
    assert result.one_line and message in result.err and "--help" in result.err


def test_bad_settings_are_one_line(rag: Runner, tmp_path: Path) -> None:
    bad_number = rag("index", "stats", RAG_TOP_K="many")
    not_a_number = rag("index", "stats", RAG_TOP_K="5", RAG_MIN_RELEVANCE="nan")
    (tmp_path / ".env").write_bytes(b"RAG_TOP_K=\xff\xfe\n")
    bad_env_file = rag("index", "stats")

    assert bad_number.code == 1 and bad_number.one_line
    assert "invalid setting: RAG_TOP_K" in bad_number.err
    # NaN would switch the relevance gate off: every comparison with it is false.
    assert not_a_number.code == 1 and not_a_number.one_line
    assert "invalid setting: RAG_MIN_RELEVANCE: Input should be a finite number" in not_a_number.err
    assert bad_env_file.code == 1 and bad_env_file.one_line
    assert "cannot read the settings" in bad_env_file.err


def test_damaged_state_databases_are_one_line(rag: Runner, tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    (state / "feedback.sqlite3").write_bytes(bytes(range(256)) * 16)
    (state / "conversations.sqlite3").write_bytes(bytes(range(256)) * 16)

    export = rag("feedback", "export")
    serve = rag("serve", "--port", "0")

    for result in (export, serve):
        assert result.code == 1 and result.one_line, result.err
        assert "move it away" in result.err


def test_files_in_place_of_folders_are_one_line(rag: Runner, tmp_path: Path) -> None:
    (tmp_path / "not-a-dir").write_text("oops")
    env = {"RAG_INDEX_DIR": str(tmp_path / "not-a-dir")}

    stats = rag("index", "stats", **env)
    build = rag("index", "build", str(SEEDS), **env)
    FeedbackStore(tmp_path / "state" / "feedback.sqlite3").close()
    export = rag("feedback", "export", "--out", str(tmp_path))

    for result in (stats, build):
        assert result.code == 1 and result.one_line, result.err
        assert "is not a directory" in result.err
    assert export.code == 1 and export.one_line, export.err
    assert export.err == f"error: Is a directory: {tmp_path}\n"


@pytest.mark.slow  # an empty first build still asks the bundled model for its dimension
def test_a_build_of_nothing_that_exists_fails(rag: Runner, tmp_path: Path) -> None:
    result = rag("index", "build", str(tmp_path / "typo"), RAG_INDEX_DIR=str(tmp_path / "new"))

    assert result.code == 1
    assert "no such file or directory" in result.err


def test_a_dataset_that_is_not_text_is_one_line(rag: Runner, tmp_path: Path) -> None:
    (tmp_path / "data.jsonl").write_bytes(b"\xff\xfe\x00binary")

    result = rag("eval", "--dataset", str(tmp_path / "data.jsonl"))

    assert result.code == 1 and result.one_line, result.err


def test_serve_on_a_port_in_use_is_one_line(rag: Runner) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = rag("serve", "--port", str(port))

    assert result.code == 1 and result.one_line
    assert f"cannot listen on 127.0.0.1:{port}" in result.err


def test_verbose_adds_the_traceback_wherever_it_is_typed(rag: Runner, index_dir: Path) -> None:
    DAMAGE["random-pointer"](index_dir)

    before = rag("--verbose", "index", "stats")
    after = rag("index", "stats", "--verbose")

    for result in (before, after):
        assert result.code == 1
        assert "Traceback" in result.err and "IndexCorruptError" in result.err
        assert result.err.strip().splitlines()[-1].startswith("error: the index in")


def test_in_a_real_process_too_no_traceback_reaches_the_terminal(index_dir: Path) -> None:
    (index_dir / "CURRENT").write_bytes(bytes(range(255, -1, -1)))
    env = {**os.environ, "RAG_INDEX_DIR": str(index_dir), "HF_HUB_OFFLINE": "1"}
    command = [sys.executable, "-m", "rag.cli"]

    damaged = subprocess.run(
        [*command, "search", "phase one"], env=env, capture_output=True, text=True, cwd=ROOT
    )
    bad_flag = subprocess.run(
        [*command, "search", "q", "-k", "abc"], env=env, capture_output=True, text=True, cwd=ROOT
    )
    stats = subprocess.run(
        [*command, "index", "stats", "--json"],
        env={**env, "RAG_INDEX_DIR": str(index_dir.parent / "fresh")},
        capture_output=True,
        text=True,
        cwd=ROOT,
    )

    assert (damaged.returncode, bad_flag.returncode) == (1, 2)
    for result in (damaged, bad_flag, stats):
        assert "Traceback" not in result.stderr and "─" not in result.stderr
        assert result.stderr.count("\n") == 1, result.stderr
    assert stats.returncode == 1 and "rag index build" in stats.stderr
