"""The ``rag`` command: the one composition root, a thin Typer layer over the library.

Each command parses its options and calls library code. A user error prints one line on
stderr and exits 1; heavy imports (torch, litellm, the API) happen inside the commands.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from rag.errors import USER_ERRORS
from rag.settings import Settings, get_settings

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)
index_app = typer.Typer(no_args_is_help=True, help="Build and change the document index.")
feedback_app = typer.Typer(no_args_is_help=True, help="Answer feedback from the chat bot.")
app.add_typer(index_app, name="index")
app.add_typer(feedback_app, name="feedback")


def _settings(index_dir: Path | None = None) -> Settings:
    settings = get_settings()
    if index_dir is not None:
        settings = settings.model_copy(update={"index_dir": index_dir})
    return settings


def _offline_environment() -> None:
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


# ---- index (index/) ----------------------------------------------------------------------


# ---- search and ask (rag/) ---------------------------------------------------------------


# ---- serve (api/) ------------------------------------------------------------------------


# ---- chat and feedback (api/slack, rag/conversations) ------------------------------------


# ---- eval (eval/) ------------------------------------------------------------------------


def main() -> None:
    """Entry point: run the app, turning a user error into one line on stderr."""
    _offline_environment()
    try:
        app(standalone_mode=False)
    except USER_ERRORS as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except (typer.Abort, KeyboardInterrupt):
        typer.echo("aborted", err=True)
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except Exception as exc:  # click's usage errors
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        raise


if __name__ == "__main__":
    main()
