"""The ``rag`` command run in this process, as a user types it: exit code, stdout, stderr."""

from __future__ import annotations

import sys
from dataclasses import dataclass

import pytest

from rag.cli import main
from rag.settings import get_settings


@dataclass
class Run:
    code: int
    out: str
    err: str

    @property
    def one_line(self) -> bool:
        return self.err.strip() != "" and "\n" not in self.err.strip()


def run_cli(
    args: tuple[str, ...], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Run:
    """``rag *args`` with the settings read afresh (the environment as ``monkeypatch`` left it)."""
    monkeypatch.setattr(sys, "argv", ["rag", *args])
    get_settings.cache_clear()
    capsys.readouterr()
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    finally:
        get_settings.cache_clear()
    captured = capsys.readouterr()
    return Run(code, captured.out, captured.err)
