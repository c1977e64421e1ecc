"""The ``rag`` command: the one composition root, a thin Typer layer over the library.

Each command parses its options and calls library code. A user error prints one line on
stderr and exits 1; heavy imports (torch, litellm, the API) happen inside the commands.
"""

from __future__ import annotations

import os
import sys
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer

from rag.cli_index import LOCAL_RAY, index_app
from rag.cli_options import (
    IndexDirOption,
    JsonOption,
    TopKOption,
    offline_environment,
)
from rag.cli_options import cli_settings as _settings
from rag.errors import USER_ERRORS
from rag.settings import Settings

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)
feedback_app = typer.Typer(no_args_is_help=True, help="Answer feedback from the chat bot.")
app.add_typer(index_app, name="index")
app.add_typer(feedback_app, name="feedback")


@app.callback()
def _options(
    verbose: Annotated[
        bool, typer.Option("--verbose", help="On an error, print its traceback as well.")
    ] = False,
) -> None:
    """Question answering over news articles, with verified citations."""
    # main() reads --verbose itself (it may follow the command); here it is only declared.


# ---- search and ask (rag/, through a server: rag/remote) -----------------------------------

LocalOption = Annotated[
    bool,
    typer.Option("--local", help="Answer in this process even when a server answers at RAG_URL."),
]

if typing.TYPE_CHECKING:
    from rag.remote import RemoteEngine


def _remote(local: bool, index_dir: Path | None) -> RemoteEngine | None:
    """The `rag serve` at RAG_URL, unless --local or --index-dir asks for this process."""
    if local or index_dir is not None:
        return None
    from rag.cli_answers import find_remote

    return find_remote(_settings())


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="What to look for.")],
    top_k: TopKOption = None,
    as_json: JsonOption = False,
    index_dir: IndexDirOption = None,
    local: LocalOption = False,
) -> None:
    """Show the passages retrieval finds for QUERY (no LLM).

    From the server at RAG_URL when one answers there, else from the index in this process."""
    from rag.cli_answers import closing, print_passages, search_here, search_remote

    remote = _remote(local, index_dir)
    if remote is not None:
        with closing(remote):
            rows = search_remote(remote, query, top_k, as_json)
    else:
        rows = search_here(_settings(index_dir), query, top_k, as_json)
    if not as_json:
        print_passages(rows)


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="A question about the articles.")],
    top_k: TopKOption = None,
    as_json: JsonOption = False,
    stream: Annotated[bool, typer.Option("--stream", help="Print the answer as it comes.")] = False,
    index_dir: IndexDirOption = None,
    local: LocalOption = False,
) -> None:
    """Answer QUESTION from the articles, with numbered sources.

    From the server at RAG_URL when one answers there, else in this process."""
    from rag.cli_answers import ask_here, ask_remote, closing, print_sources

    remote = _remote(local, index_dir)
    if remote is not None:
        with closing(remote):
            answer = ask_remote(remote, question, top_k, as_json, stream)
    else:
        answer = ask_here(_settings(index_dir), question, top_k, as_json, stream)
    if answer is not None:  # None: printed as JSON
        print_sources(answer)


# ---- serve (api/) ------------------------------------------------------------------------


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="TCP port.")] = 8000,
    index_dir: IndexDirOption = None,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            max=64,
            help="API processes sharing the port, the index and the state (each loads the "
            "models: ~0.5 GB apiece with the embedded LLM).",
        ),
    ] = 1,
) -> None:
    """Serve the HTTP API (models and index load in the background; see /readyz)."""
    # Requests bring the parallelism: one OpenMP thread per query embedding avoids
    # oversubscribing 2 cores (torch loads after this line; FAISS has loaded already, so
    # `make serve` exports OMP_NUM_THREADS=1 before the process starts).
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    _check_can_listen(host, port)
    import uvicorn

    from api.app import create_app

    # One JSON line per request from api.access; uvicorn's own access log would repeat it.
    log_config = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"plain": {"format": "%(message)s"}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "plain"}},
        "loggers": {
            "api": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
            "uvicorn": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
        },
    }
    if workers == 1:
        uvicorn.run(
            create_app(_settings(index_dir)),
            host=host,
            port=port,
            log_config=log_config,
            access_log=False,
            timeout_graceful_shutdown=10,
        )
        return
    # Each worker process builds its own app from the environment (settings are read there).
    settings = _settings(index_dir)
    _prepare_workers(settings, workers, index_dir)
    uvicorn.run(
        "api.app:create_app",
        factory=True,
        workers=workers,
        host=host,
        port=port,
        log_config=log_config,
        access_log=False,
        timeout_graceful_shutdown=10,
    )


def _prepare_workers(settings: Settings, workers: int, index_dir: Path | None) -> None:
    """The environment the worker processes read: the CLI's options as settings, and a fresh
    folder for Prometheus's per-process metric files (read by prometheus_client at import)."""
    import shutil

    metrics_dir = (settings.state_dir / "metrics").resolve()
    shutil.rmtree(metrics_dir, ignore_errors=True)
    metrics_dir.mkdir(parents=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    os.environ["RAG_WORKERS"] = str(workers)
    if index_dir is not None:
        os.environ["RAG_INDEX_DIR"] = str(index_dir)


@app.command("mcp")
def mcp_command(index_dir: IndexDirOption = None) -> None:
    """Serve the MCP tools (search_news, ask_news) and the documents over stdio.

    For an agent that starts this command; the models load on the first call. `rag serve`
    has the same tools at /mcp."""
    from api.mcp_tools import PipelineNews, build_mcp_server
    from rag.components import load_pipeline

    settings = _settings(index_dir)
    build_mcp_server(PipelineNews(lambda: load_pipeline(settings))).run("stdio")


def _check_can_listen(host: str, port: int) -> None:
    """Fail in one line before loading anything when ``host:port`` cannot be listened on."""
    import socket

    from rag.errors import ConfigError

    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        with socket.socket(family, kind, proto) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
            sock.bind(address)
    except OSError as exc:
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


# ---- chat and feedback (api/slack, rag/conversations) ------------------------------------


@app.command()
def chat(
    conversation: Annotated[
        str | None, typer.Option("--conversation", help="Resume this conversation id.")
    ] = None,
    top_k: TopKOption = None,
    index_dir: IndexDirOption = None,
    local: LocalOption = False,
) -> None:
    """Talk to the articles in the terminal; follow-ups use the earlier turns (as in Slack).

    One question a line, from the keyboard or a pipe; /new starts over, /quit or EOF ends.
    The server at RAG_URL keeps the conversation when one answers there.
    """
    from rag.chat import converse
    from rag.cli_answers import chat_here, closing, stdin_lines

    remote = _remote(local, index_dir)
    if remote is None:
        conversation_id = chat_here(_settings(index_dir), conversation, top_k)
    else:
        with closing(remote):
            if sys.stdin.isatty():
                typer.echo(f"Asking {remote.url}; /new starts over, /quit leaves.", err=True)
            conversation_id = converse(
                remote, stdin_lines(), typer.echo, conversation_id=conversation, top_k=top_k
            )
    typer.echo(f"conversation: {conversation_id} (resume with --conversation)", err=True)


@feedback_app.command("export")
def feedback_export(
    out: Annotated[
        Path | None, typer.Option("--out", help="Write here (default: standard output).")
    ] = None,
    rating: Annotated[
        str | None, typer.Option(help="Only answers rated 'up' or 'down' (default: both).")
    ] = None,
) -> None:
    """Write rated chat answers as eval cases (JSONL): 👍 keeps the answer, 👎 leaves a note.

    A 👎 case has no accepted answer yet: fill in its answers and gold_docs (its note says
    what the bot said) before ``rag eval --dataset`` takes it; ``--rating up`` is ready as is.
    """
    from api.feedback import RATINGS, FeedbackStore, export

    if rating is not None and rating not in RATINGS:
        raise typer.BadParameter(f"must be one of {', '.join(RATINGS)}", param_hint="--rating")
    settings = _settings()
    path = settings.state_dir / "feedback.sqlite3"
    if not path.exists():
        typer.echo(f"no feedback yet ({path} does not exist)", err=True)
        return
    store = FeedbackStore(path)
    try:
        if out is None:
            cases = export(store, sys.stdout, rating=rating)
        else:
            out.parent.mkdir(parents=True, exist_ok=True)
            with out.open("w", encoding="utf-8") as file:
                cases = export(store, file, rating=rating)
    finally:
        store.close()
    to_fill = sum(not case.complete for case in cases)
    typer.echo(
        f"{len(cases)} eval case(s) written to {out or 'stdout'}; {to_fill} need a human"
        " (see their note)",
        err=True,
    )


# ---- eval (eval/) ------------------------------------------------------------------------


@app.command("eval")
def eval_command(
    dataset: Annotated[
        str | None,
        typer.Option(
            help="Eval JSONL, or a SQuAD 2.0 JSON (squad:PATH, or a path shaped like one); "
            "default: the packaged news set."
        ),
    ] = None,
    url: Annotated[
        str | None, typer.Option(help="Evaluate a running server (http://host:port).")
    ] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the JSON report.")] = None,
    html_out: Annotated[Path | None, typer.Option("--html", help="Write the HTML report.")] = None,
    compare: Annotated[
        Path | None,
        typer.Option("--compare", help="Baseline report; exit 1 when a metric regressed."),
    ] = None,
    split: Annotated[
        str | None, typer.Option(help="Only the 'dev' or the 'test' half of a split dataset.")
    ] = None,
    corpus: Annotated[
        list[Path] | None,
        typer.Option(help="Documents to ask about, in an index of the eval's own (repeatable)."),
    ] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="Only the first N questions.")] = None,
    kinds: Annotated[
        str | None, typer.Option(help="Only these kinds, comma-separated (factoid,numeric).")
    ] = None,
    top_k: TopKOption = None,
    index_dir: Annotated[
        Path | None,
        typer.Option(
            "--index-dir", help="Ask this existing index instead of the eval's own (news, JSONL)."
        ),
    ] = None,
) -> None:
    """Score the engine on the eval questions: retrieval, answers, citations, abstention.

    The news set and SQuAD files are asked against an index of their own documents (built
    once under the cache dir); a JSONL of yours asks RAG_INDEX_DIR unless --corpus is given.
    """
    from eval.session import EvalOptions, evaluate

    options = EvalOptions(
        dataset=dataset,
        url=url,
        json_out=json_out,
        html_out=html_out,
        baseline=compare,
        limit=limit,
        kinds=[k.strip() for k in (kinds or "").split(",") if k.strip()],
        top_k=top_k,
        split=split,
        corpus=tuple(corpus or ()),
        index_dir=index_dir,
    )
    status = evaluate(
        _settings(), options, echo=typer.echo, progress=lambda s: typer.echo(s, err=True)
    )
    if status:
        # Not typer.Exit: main() runs the app with standalone_mode=False, which drops its code.
        sys.exit(status)


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point: a user error, a bad flag or a damaged file is one line on stderr and a
    non-zero exit; ``--verbose`` (anywhere on the line) adds the traceback."""
    offline_environment()
    args, verbose = _take_verbose(list(sys.argv[1:] if argv is None else argv))
    args = _ray_address(args)
    try:
        # Without standalone mode click returns a command's exit code instead of exiting.
        code = app(args=args, prog_name="rag", standalone_mode=False)
    except Exception as exc:
        sys.exit(_report(exc, verbose))
    except KeyboardInterrupt:
        typer.echo("aborted", err=True)
        sys.exit(130)
    if isinstance(code, int) and code:
        sys.exit(code)


def _ray_address(args: list[str]) -> list[str]:
    """``--ray`` takes an optional ADDRESS, which click cannot say: a bare ``--ray`` (followed
    by an option, a path, or nothing) becomes ``--ray=local``. An address has a colon in it
    (``ray://head:10001``, ``10.0.0.5:6379``) or is ``auto``."""
    out = list(args)
    for n, arg in enumerate(out):
        if arg == "--":
            break
        if arg == "--ray":
            following = out[n + 1] if n + 1 < len(out) else None
            if following is None or not (":" in following or following == "auto"):
                out[n] = f"--ray={LOCAL_RAY}"
            break
    return out


def _take_verbose(args: list[str]) -> tuple[list[str], bool]:
    """``--verbose`` moved to the front (where the option lives), from wherever it was typed."""
    end = args.index("--") if "--" in args else len(args)
    if "--verbose" not in args[:end]:
        return args, False
    rest = [arg for n, arg in enumerate(args) if not (arg == "--verbose" and n < end)]
    return ["--verbose", *rest], True


def _report(exc: Exception, verbose: bool) -> int:
    """Print ``exc`` as one line on stderr (after its traceback when ``verbose``); the exit code."""
    import traceback

    if isinstance(exc, typer.Exit):
        return int(exc.exit_code)
    if isinstance(exc, typer.Abort):
        typer.echo("aborted", err=True)
        return 130
    if isinstance(exc, BrokenPipeError):
        # The reader went away (`rag search ... | head`): nothing left to say to anyone.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    if isinstance(exc, typer.TyperException):  # click's usage errors, and help for no args
        message = str(getattr(exc, "format_message", lambda: exc.message)())
        ctx = getattr(exc, "ctx", None)
        if not message.strip():
            pass  # `rag` or `rag index` alone: the help has been printed
        elif "\n" in message.strip() or ctx is None:
            getattr(exc, "show", lambda: typer.echo(message, err=True))()
        else:
            typer.echo(f"error: {message} (see '{ctx.command_path} --help')", err=True)
        return int(getattr(exc, "exit_code", 2))
    if verbose:
        traceback.print_exception(exc)
    if isinstance(exc, USER_ERRORS):
        line = str(exc)
    elif isinstance(exc, OSError):
        where = f": {exc.filename}" if exc.filename else ""
        line = f"{exc.strerror or exc}{where}"
    elif isinstance(exc, UnicodeDecodeError):
        line = f"a file is not UTF-8 text ({exc.reason} at byte {exc.start})"
    else:  # a bug, not the user's doing: still one line, the traceback on request
        line = f"unexpected {type(exc).__name__}: {exc}"
        if not verbose:
            line += " (a bug; run again with --verbose for the traceback)"
    typer.echo(f"error: {line}", err=True)
    return 1


if __name__ == "__main__":
    main()
