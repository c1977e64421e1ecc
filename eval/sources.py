"""Which questions an eval run asks, and which documents it asks them about.

- no ``--dataset`` (or its path): the packaged news set, over an index of its own built from
  ``seeds/`` (of the folder the command runs in) plus ``eval/datasets/news_extra_docs.jsonl``,
  documents that carry injected instructions; ``--index-dir`` evaluates an existing index
  instead;
- ``squad:PATH``, or a path to a ``.json`` file holding one object with a ``data`` key (as
  SQuAD 2.0 JSON does; a malformed one is reported as a SQuAD file): its questions, over an
  index of its paragraphs;
- any other path: an eval JSONL over the configured index, or over ``--corpus`` documents.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from eval.corpus import load_corpus
from eval.dataset import DatasetError, EvalItem, default_dataset_path, load_dataset, select_items
from eval.squad import SQUAD_PREFIX, is_squad_file, load_squad
from rag.types import Document

__all__ = ["SEEDS_DIR", "EvalSet", "extra_docs_path", "resolve"]

SEEDS_DIR = Path("seeds")


@dataclass(frozen=True)
class EvalSet:
    """The questions of one run and, when the eval brings them, its documents."""

    name: str  # "news", "squad" or "custom": names the eval's index folder
    source: str  # what the report names as the dataset
    items: tuple[EvalItem, ...]
    documents: tuple[Document, ...] | None  # None: the configured index
    squad: bool = False


def extra_docs_path() -> Path:
    """The packaged documents the news set adds to ``seeds/`` (injected instructions)."""
    return Path(str(resources.files("eval").joinpath("datasets", "news_extra_docs.jsonl")))


def resolve(
    dataset: str | None,
    *,
    split: str | None = None,
    kinds: Sequence[str] = (),
    limit: int | None = None,
    corpus: Sequence[Path] = (),
    named_index: bool = False,
    over_http: bool = False,
) -> EvalSet:
    """The run's questions (filtered) and documents. ``named_index`` (``--index-dir``): a news
    or JSONL eval asks that index. ``over_http``: the server's index is asked, so the news
    documents are not read (a SQuAD file's paragraphs still name what each question needs)."""
    if named_index and corpus:
        raise DatasetError("--corpus builds an index of the eval's own; --index-dir names one")
    squad_path = _squad_path(dataset)
    if squad_path is not None:
        if named_index or corpus:
            raise DatasetError(
                "a SQuAD file is asked against an index of its own paragraphs; "
                "--index-dir and --corpus do not apply"
            )
        squad = load_squad(squad_path)
        items = select_items(squad.items, kinds=kinds, split=split, limit=limit)
        return EvalSet("squad", str(squad_path), tuple(items), squad.documents, squad=True)
    path = Path(dataset) if dataset else default_dataset_path()
    news = path.resolve() == default_dataset_path().resolve()  # named or by default
    items = select_items(load_dataset(path), kinds=kinds, split=split, limit=limit)
    if over_http:
        return EvalSet("custom", str(path), tuple(items), None)
    if corpus:
        paths = list(corpus)
    elif news and not named_index:
        if not SEEDS_DIR.is_dir():
            raise DatasetError(
                "the news eval indexes seeds/ beside its extra documents: run it in the "
                "project folder, or name an index with --index-dir"
            )
        paths = [SEEDS_DIR, extra_docs_path()]
    else:
        return EvalSet("custom", str(path), tuple(items), None)
    name = "news" if news else "custom"
    return EvalSet(name, str(path), tuple(items), load_corpus(paths))


def _squad_path(dataset: str | None) -> Path | None:
    if dataset is None:
        return None
    if dataset.startswith(SQUAD_PREFIX):
        path = Path(dataset[len(SQUAD_PREFIX) :])
        if not path.is_file():
            raise DatasetError(f"{path}: no such SQuAD file")
        return path
    path = Path(dataset)
    return path if is_squad_file(path) else None
