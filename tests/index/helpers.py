"""Small builders shared by the index tests."""

from __future__ import annotations

from pathlib import Path

from index.writer import IndexConfig, IndexWriter
from tests.fakes import HashEmbedder

SEEDS = Path(__file__).resolve().parents[2] / "seeds"
SEED_IDS = sorted(p.stem for p in SEEDS.glob("*.txt"))


def writer(index_dir: Path, embedder: HashEmbedder | None = None, **config: object) -> IndexWriter:
    return IndexWriter(index_dir, embedder or HashEmbedder(), IndexConfig(**config))  # type: ignore[arg-type]


def write_article(folder: Path, name: str, title: str, paragraphs: list[str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(title + "\n\n" + "\n\n".join(paragraphs) + "\n", encoding="utf-8")
    return path
