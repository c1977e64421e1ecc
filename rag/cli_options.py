"""What the ``rag`` commands share: the settings with command-line overrides, common options."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from rag.settings import Settings, get_settings

__all__ = ["IndexDirOption", "JsonOption", "TopKOption", "cli_settings", "offline_environment"]


def cli_settings(index_dir: Path | None = None) -> Settings:
    settings = get_settings()
    if index_dir is not None:
        settings = settings.model_copy(update={"index_dir": index_dir})
    return settings


def offline_environment() -> None:
    # The bundled models load from site-packages; never reach for a model hub or price map.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


IndexDirOption = Annotated[
    Path | None, typer.Option("--index-dir", help="Index directory (default: RAG_INDEX_DIR).")
]
TopKOption = Annotated[int | None, typer.Option("-k", "--top-k", min=1, max=50)]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
