"""``rag index ...``: build (plain or on Ray), add, remove and stats, over either backend."""

from __future__ import annotations

import typing
from pathlib import Path
from typing import Annotated

import typer

from rag.cli_options import IndexDirOption, JsonOption, cli_settings
from rag.settings import Settings

__all__ = ["LOCAL_RAY", "index_app"]

index_app = typer.Typer(no_args_is_help=True, help="Build and change the document index.")

if typing.TYPE_CHECKING:  # the index layer itself loads inside the commands
    from index.milvus_backend import MilvusIndex
    from index.writer import BuildReport, IndexWriter


def _index_writer(settings: Settings) -> IndexWriter | MilvusIndex:
    from index.embedder import LazyEmbedder
    from rag.components import open_writer

    # The model loads only if something must be embedded: a removal or a no-op build is fast.
    embedder = LazyEmbedder(settings.embed_model, settings.embed_batch_size, settings.cache_dir)
    return open_writer(settings, embedder)


def _where(settings: Settings) -> str:
    """Where the index lives, for messages: the folder, or the Milvus URI."""
    if settings.index_backend == "milvus":
        return f"Milvus at {settings.milvus_uri}"
    return str(settings.index_dir)


def _print_build_report(report: BuildReport, index_dir: Path | str) -> None:
    for path, reason in report.failures:
        typer.echo(f"skipped {path}: {reason}", err=True)
    stats = report.store.stats()
    typer.echo(
        f"added {len(report.added)}, updated {len(report.updated)}, "
        f"unchanged {len(report.unchanged)}, removed {len(report.removed)}; "
        f"{stats.documents} documents, {stats.chunks} chunks in {index_dir}"
    )


@index_app.command("build")
def index_build(
    paths: Annotated[
        list[Path] | None, typer.Argument(help="Files or folders to index (default: seeds/).")
    ] = None,
    index_dir: IndexDirOption = None,
    ray: Annotated[
        str | None,
        typer.Option(
            "--ray",
            metavar="[ADDRESS]",
            help="Read, chunk and embed with Ray Data: on a local Ray with this machine's "
            "cores, or on the cluster at ADDRESS (ray://head:10001, auto). Adds or replaces "
            "the documents found; removals need a plain build.",
        ),
    ] = None,
) -> None:
    """Build the index, or update it: unchanged documents are skipped, changed ones
    re-indexed, and documents whose file under PATH is gone are removed."""
    from index.errors import DocumentError

    settings = cli_settings(index_dir)
    targets = list(paths or [])
    if not targets:
        if not Path("seeds").is_dir():
            raise DocumentError("no PATH given and no seeds/ folder here")
        targets = [Path("seeds")]
    if ray is not None:
        report = _ray_build(settings, targets, None if ray == LOCAL_RAY else ray)
    else:
        report = _index_writer(settings).build(targets, progress=True)
    _print_build_report(report, _where(settings))
    if report.failures and not (report.added or report.updated or report.unchanged):
        raise typer.Exit(1)  # e.g. a mistyped PATH: nothing of what was named could be read


LOCAL_RAY = "local"


def _ray_build(settings: Settings, paths: list[Path], address: str | None) -> BuildReport:
    from functools import partial

    from index.embedder import LazyEmbedder, load_ingest_embedder
    from index.ray_ingest import PrecomputedEmbedder, ingest_with_ray
    from rag.components import index_config, open_writer

    # One onnxruntime thread per actor: Ray runs one actor per core.
    make = partial(
        load_ingest_embedder, settings.embed_model, settings.embed_batch_size, settings.cache_dir, 1
    )
    result = ingest_with_ray(paths, make, index_config(settings), address=address)
    fallback = LazyEmbedder(settings.embed_model, settings.embed_batch_size, settings.cache_dir)
    dimension = next(iter(result.vectors.values())).shape[0] if result.vectors else 0
    embedder = PrecomputedEmbedder(fallback.name, dimension, result.vectors, fallback)
    report = open_writer(settings, embedder).replace(result.documents)
    report.failures = result.failures + report.failures
    typer.echo(f"embedded on Ray with {result.workers} workers", err=True)
    return report


@index_app.command("add")
def index_add(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders to add or update.")],
    index_dir: IndexDirOption = None,
) -> None:
    """Add or update the documents in PATH...; nothing else changes."""
    settings = cli_settings(index_dir)
    report = _index_writer(settings).add_paths(paths, progress=True)
    _print_build_report(report, _where(settings))
    if report.failures and not (report.added or report.updated or report.unchanged):
        raise typer.Exit(1)


@index_app.command("remove")
def index_remove(
    doc_ids: Annotated[
        list[str], typer.Argument(help="Document ids (file names without extension).")
    ],
    index_dir: IndexDirOption = None,
) -> None:
    """Remove documents by id; the ids of their chunks are never reused."""
    settings = cli_settings(index_dir)
    report = _index_writer(settings).remove(doc_ids)
    _print_build_report(report, _where(settings))


@index_app.command("stats")
def index_stats(index_dir: IndexDirOption = None, as_json: JsonOption = False) -> None:
    """Documents, chunks, near-duplicate groups, model and size on disk."""
    import dataclasses
    import json

    settings = cli_settings(index_dir)
    if settings.index_backend == "milvus":
        from index.embedder import LazyEmbedder
        from index.errors import IndexMissingError
        from rag.components import open_milvus

        milvus = open_milvus(settings, LazyEmbedder(settings.embed_model))
        if len(milvus) == 0 and not milvus.documents():
            raise IndexMissingError(f"no index in {_where(settings)}; run `rag index build`")
        stats = milvus.stats()
    else:
        from index.store import open_index

        stats = open_index(settings.index_dir, None).stats()
    if as_json:
        typer.echo(json.dumps({**dataclasses.asdict(stats), "index_dir": str(settings.index_dir)}))
        return
    typer.echo(f"index:            {_where(settings)}")
    typer.echo(f"documents:        {stats.documents}")
    typer.echo(f"chunks:           {stats.chunks}")
    typer.echo(f"duplicate groups: {stats.duplicate_groups}")
    typer.echo(f"model:            {stats.embed_model} ({stats.dimension} dimensions)")
    typer.echo(f"search:           {'approximate (HNSW)' if stats.approximate else 'exact'}")
    typer.echo(f"size on disk:     {_human_bytes(stats.size_bytes)}")


def _human_bytes(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"  # pragma: no cover
