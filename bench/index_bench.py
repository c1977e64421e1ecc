"""Index benchmark: build throughput, size on disk, load time, exact vs HNSW search at 100k.

    .venv/bin/python bench/index_bench.py                  # the default figures
    .venv/bin/python bench/index_bench.py --real-full   # also build the 20k corpus with the model

The 20k-chunk build runs the whole pipeline (load, clean, chunk, MinHash, BM25, FAISS, write)
with a fast stand-in embedder; the bundled model's own throughput is measured on a sample and
reported beside it, so the two can be added up for a build with the real model.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from index.dense import DenseIndex  # noqa: E402
from index.disk import directory_size  # noqa: E402
from index.store import open_index  # noqa: E402
from index.writer import IndexConfig, IndexWriter  # noqa: E402

DIMENSION = 384


class TopicEmbedder:
    """Stand-in for the model: a vector near its text's topic centre, like real embeddings
    cluster by subject. Fast, so the benchmark measures the index, not the model."""

    name = "bench-topic-embedder"
    dimension = DIMENSION

    def __init__(self, topics: int = 1000, noise: float = 0.05) -> None:
        rng = np.random.default_rng(1)
        centers = rng.standard_normal((topics, DIMENSION)).astype(np.float32)
        self._centers = centers / np.linalg.norm(centers, axis=1, keepdims=True)
        self._noise = noise

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.empty((len(texts), DIMENSION), dtype=np.float32)
        for row, text in enumerate(texts):
            seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
            rng = np.random.default_rng(seed)
            vector = self._centers[seed % len(self._centers)] + self._noise * rng.standard_normal(
                DIMENSION
            )
            out[row] = vector / np.linalg.norm(vector)
        return out


def vocabulary(size: int = 20_000) -> list[str]:
    """Real English words from the seed articles, most frequent first, then made-up words
    (a rare-word tail, as a large news corpus has) built from syllables."""
    counts: dict[str, int] = {}
    for path in sorted((ROOT / "seeds").glob("*.txt")):
        for word in re.findall(r"[a-z]+", path.read_text(encoding="utf-8").lower()):
            counts[word] = counts.get(word, 0) + 1
    words = sorted(counts, key=lambda w: -counts[w])
    syllables = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"]
    rng = np.random.default_rng(4)
    seen = set(words)
    while len(words) < size:
        word = "".join(rng.choice(syllables, int(rng.integers(2, 4))))
        if word not in seen:
            seen.add(word)
            words.append(word)
    return words


def synthetic_corpus(folder: Path, docs: int, words_per_doc: int, seed: int = 0) -> None:
    """News-like articles: a headline, then sentences of 8-25 words, Zipf-distributed."""
    rng = np.random.default_rng(seed)
    words_list = np.array(vocabulary())
    weights = 1.0 / np.arange(1, len(words_list) + 1)
    weights /= weights.sum()
    folder.mkdir(parents=True, exist_ok=True)
    for number in range(docs):
        words = words_list[rng.choice(len(words_list), size=words_per_doc, p=weights)].tolist()
        sentences, position = [], 0
        while position < len(words):
            length = int(rng.integers(8, 26))
            piece = words[position : position + length]
            sentences.append(piece[0].capitalize() + " " + " ".join(piece[1:]) + ".")
            position += length
        body = "\n\n".join(" ".join(sentences[i : i + 5]) for i in range(0, len(sentences), 5))
        (folder / f"doc_{number:06d}.txt").write_text(f"Headline number {number}\n\n{body}\n")


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return ordered[len(ordered) // 2], ordered[int(len(ordered) * 0.95) - 1]


def bench_build(work: Path, docs: int, real_full: bool) -> None:
    corpus = work / "corpus"
    synthetic_corpus(corpus, docs=docs, words_per_doc=900)
    index_dir = work / "index20k"
    config = IndexConfig()
    started = time.perf_counter()
    report = IndexWriter(index_dir, TopicEmbedder(), config).build([corpus])
    elapsed = time.perf_counter() - started
    chunks = len(report.store)
    print(
        f"build, {docs} docs -> {chunks} chunks (stand-in embedder): {elapsed:.1f} s, "
        f"{chunks / elapsed:.0f} chunks/s"
    )
    stats = report.store.stats()
    print(
        f"  size on disk: {stats.size_bytes / 1e6:.1f} MB ({stats.size_bytes / chunks:.0f} B/chunk)"
    )
    started = time.perf_counter()
    store = open_index(index_dir, TopicEmbedder())
    print(f"  load time: {(time.perf_counter() - started) * 1000:.0f} ms ({len(store)} chunks)")
    started = time.perf_counter()
    again = IndexWriter(index_dir, TopicEmbedder(), config).build([corpus])
    print(
        f"  no-op rebuild ({len(again.unchanged)} unchanged): {time.perf_counter() - started:.1f} s"
    )

    from index.embedder import load_embedder

    started = time.perf_counter()
    model = load_embedder()
    print(f"bundled model load: {time.perf_counter() - started:.1f} s")
    texts = store.snapshot.chunk_texts()[:512]
    model.embed(texts[:16])  # warm up
    started = time.perf_counter()
    model.embed(texts)
    rate = len(texts) / (time.perf_counter() - started)
    print(
        f"  real embedder throughput: {rate:.0f} chunks/s on {len(texts)} chunks of ~90 words "
        f"(a {chunks}-chunk build with it: ~{chunks / rate / 60:.1f} min)"
    )
    sample = work / "sample"
    synthetic_corpus(sample, docs=20, words_per_doc=900, seed=5)
    started = time.perf_counter()
    small = IndexWriter(work / "index-real", model, config).build([sample])
    elapsed = time.perf_counter() - started
    print(
        f"  full build with the real embedder, {len(small.store)} chunks: {elapsed:.1f} s, "
        f"{len(small.store) / elapsed:.0f} chunks/s"
    )
    latencies = []
    for n in range(50):
        started = time.perf_counter()
        model.embed([f"how many hostages were released in phase {n}?"])
        latencies.append((time.perf_counter() - started) * 1000)
    p50, p95 = percentiles(latencies)
    # This embedder is loaded as index builds load it (torch); questions in `rag serve` and
    # `rag ask` take the onnxruntime path, timed by bench/retrieval_bench.py.
    print(f"  query embedding latency, torch: p50 {p50:.1f} ms, p95 {p95:.1f} ms")
    if real_full:
        started = time.perf_counter()
        full = IndexWriter(work / "index-real-full", model, config).build([corpus])
        elapsed = time.perf_counter() - started
        print(
            f"  full 20k build with the real embedder: {len(full.store)} chunks in "
            f"{elapsed:.0f} s, {len(full.store) / elapsed:.0f} chunks/s"
        )


def bench_search(vectors: int, queries: int, noise: float) -> None:
    rng = np.random.default_rng(2)
    embedder = TopicEmbedder()
    centers = embedder._centers

    def sample(count: int) -> np.ndarray:
        picks = centers[rng.integers(0, len(centers), count)]
        data = picks + noise * rng.standard_normal((count, DIMENSION)).astype(np.float32)
        return (data / np.linalg.norm(data, axis=1, keepdims=True)).astype(np.float32)

    data, probes = sample(vectors), sample(queries)
    ids = np.arange(1, vectors + 1, dtype=np.int64)
    started = time.perf_counter()
    exact = DenseIndex.build(data, ids, approximate=False)
    exact_build = time.perf_counter() - started
    started = time.perf_counter()
    approx = DenseIndex.build(data, ids, approximate=True)
    approx_build = time.perf_counter() - started
    same_topic = 1 / (1 + noise**2 * DIMENSION)
    print(
        f"search over {vectors} vectors of {DIMENSION} dims, {queries} queries, k=10 "
        f"(clusters: same-topic cosine ~{same_topic:.2f}):"
    )
    results = {}
    for label, index, build in (
        ("exact (Flat)", exact, exact_build),
        ("approximate (HNSW)", approx, approx_build),
    ):
        latencies, found = [], []
        for query in probes:
            started = time.perf_counter()
            hit_ids, _ = index.search(query, 10)
            latencies.append((time.perf_counter() - started) * 1000)
            found.append(set(hit_ids.tolist()))
        results[label] = found
        p50, p95 = percentiles(latencies)
        print(f"  {label:20s} build {build:6.1f} s   p50 {p50:6.2f} ms   p95 {p95:6.2f} ms")
    truth = results["exact (Flat)"]
    recall = sum(len(t & a) for t, a in zip(truth, results["approximate (HNSW)"], strict=True))
    print(f"  HNSW recall@10 vs exact: {recall / (10 * queries):.3f}")


def bench_store_100k(work: Path, docs: int, queries: int) -> None:
    corpus = work / "corpus100k"
    synthetic_corpus(corpus, docs=docs, words_per_doc=900, seed=9)
    index_dir = work / "index100k"
    started = time.perf_counter()
    report = IndexWriter(index_dir, TopicEmbedder(), IndexConfig()).build([corpus])
    elapsed = time.perf_counter() - started
    store = report.store
    print(
        f"store with {len(store)} chunks ({'HNSW' if store.stats().approximate else 'exact'}): "
        f"built in {elapsed:.0f} s ({len(store) / elapsed:.0f} chunks/s), "
        f"{directory_size(index_dir) / 1e6:.0f} MB on disk"
    )
    started = time.perf_counter()
    store = open_index(index_dir, TopicEmbedder())
    print(f"  load time: {time.perf_counter() - started:.2f} s")
    texts = store.snapshot.chunk_texts()
    rng = np.random.default_rng(3)
    picks = rng.integers(0, len(texts), queries)
    words = [" ".join(texts[p].split()[3:9]) for p in picks]
    vectors = TopicEmbedder().embed(words)
    doc_ids = [d.doc_id for d in store.documents()]
    filters = [frozenset(rng.choice(doc_ids, 5).tolist()) for _ in range(queries)]
    for label, run in (
        ("search_dense", lambda i: store.search_dense(vectors[i], 10)),
        ("search_dense + 5-doc filter", lambda i: store.search_dense(vectors[i], 10, filters[i])),
        ("search_keyword", lambda i: store.search_keyword(words[i], 10)),
        ("search_keyword + 5-doc filter", lambda i: store.search_keyword(words[i], 10, filters[i])),
    ):
        latencies = []
        for i in range(queries):
            started = time.perf_counter()
            run(i)
            latencies.append((time.perf_counter() - started) * 1000)
        p50, p95 = percentiles(latencies)
        print(f"  {label:30s} p50 {p50:6.2f} ms   p95 {p95:6.2f} ms")


def squad_chunks(limit: int) -> tuple[list[str], list[str]]:
    """(~90-word chunks of the vendored SQuAD 2.0 dev articles and the seeds, their questions)."""
    import json

    from index.chunking import chunk_text

    squad = json.loads(
        (ROOT / "eval/datasets/squad2-dev/dev-v2.0-four-articles.json").read_text("utf-8")
    )
    texts, questions = [], []
    for article in squad["data"]:
        for paragraph in article["paragraphs"]:
            texts.append(paragraph["context"])
            questions.extend(q["question"] for q in paragraph["qas"])
    texts += [p.read_text("utf-8") for p in sorted((ROOT / "seeds").glob("*.txt"))]
    chunks = [t[s.start : s.end] for t in texts for s in chunk_text(t, 90, 1)]
    return chunks[:limit], questions


def bench_embedders(work: Path, limit: int, queries: int) -> None:
    """Stored vectors from torch fp32 (the reference), onnxruntime fp32 and int8, batched by
    length: chunks/s on every core, and recall@10 of each against torch's top 10."""
    import torch

    from index.embedder import IngestEmbedder, load_embedder
    from index.onnx_encoder import load_onnx_encoder

    texts, questions = squad_chunks(limit)
    model = load_embedder()
    cores = os.cpu_count() or 1
    torch.set_num_threads(cores)
    probes = model.embed(questions[:queries])  # the same question vectors for every variant
    runs: dict[str, np.ndarray] = {}
    variants: list[tuple[str, object]] = [("torch fp32", model)]
    for precision in ("float32", "int8"):
        encoder = load_onnx_encoder(model.model, work / "onnx", precision, threads=cores)  # type: ignore[arg-type]
        if encoder is not None:
            variants.append((f"onnx {precision}", IngestEmbedder(model, encoder)))
    print(
        f"embedding {len(texts)} chunks (~90 words), {cores} threads, recall@10 over "
        f"{len(probes)} SQuAD questions against torch fp32's top 10:"
    )
    for label, embedder in variants:
        embedder.embed(texts[:32])  # type: ignore[attr-defined]
        started = time.perf_counter()
        runs[label] = embedder.embed(texts)  # type: ignore[attr-defined]
        elapsed = time.perf_counter() - started
        truth = np.argsort(-(probes @ runs["torch fp32"].T), axis=1)[:, :10]
        found = np.argsort(-(probes @ runs[label].T), axis=1)[:, :10]
        recall = np.mean([len(set(t) & set(f)) / 10 for t, f in zip(truth, found, strict=True)])
        cosine = float(np.min(np.sum(runs[label] * runs["torch fp32"], axis=1)))
        print(
            f"  {label:11s} {len(texts) / elapsed:6.0f} chunks/s   recall@10 {recall:.3f}   "
            f"lowest cosine to torch {cosine:.4f}"
        )
    torch.set_num_threads(1)


def bench_ray(work: Path, docs: int) -> None:
    """Ingestion with the bundled model: a plain build (onnxruntime on every core) and Ray Data
    with 1 and 2 embedding actors (one onnxruntime thread each), chunks/s end to end."""
    from functools import partial

    import ray

    from index.embedder import load_ingest_embedder
    from index.ray_ingest import ingest_with_ray

    corpus = work / "ray-corpus"
    synthetic_corpus(corpus, docs=docs, words_per_doc=900, seed=11)
    cache = work / "onnx"
    plain = load_ingest_embedder(cache_dir=cache)
    started = time.perf_counter()
    report = IndexWriter(work / "plain-build", plain, IndexConfig()).build([corpus])
    elapsed = time.perf_counter() - started
    chunks = len(report.store)
    print(f"ingestion of {docs} docs -> {chunks} chunks with the bundled model (onnxruntime fp32):")
    print(
        f"  plain build, {os.cpu_count()} threads: {elapsed:.1f} s, {chunks / elapsed:.0f} chunks/s"
    )
    make = partial(load_ingest_embedder, "", 64, cache, 1)
    ray.init(num_cpus=os.cpu_count() or 1, include_dashboard=False, log_to_driver=False)
    try:
        for workers in (1, 2):
            started = time.perf_counter()
            result = ingest_with_ray([corpus], make, IndexConfig(), workers=workers)
            elapsed = time.perf_counter() - started
            print(
                f"  Ray Data, {workers} actor(s): {len(result.vectors)} chunks embedded in "
                f"{elapsed:.1f} s, {len(result.vectors) / elapsed:.0f} chunks/s (model loads included)"
            )
    finally:
        ray.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=1450, help="documents in the 20k corpus")
    parser.add_argument("--vectors", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--store-docs", type=int, default=7_200, help="docs for the 100k store")
    parser.add_argument("--real-full", action="store_true")
    parser.add_argument("--skip-store", action="store_true")
    parser.add_argument("--embed-chunks", type=int, default=1000, help="chunks per embedder")
    parser.add_argument("--embed-only", action="store_true", help="only compare the embedders")
    parser.add_argument("--ray-docs", type=int, default=0, help="also time Ray ingestion")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    work = Path(tempfile.mkdtemp(prefix="index-bench-"))
    try:
        bench_embedders(work, args.embed_chunks, args.queries)
        if args.ray_docs:
            bench_ray(work, args.ray_docs)
        if args.embed_only:
            return
        bench_build(work, args.docs, args.real_full)
        for noise in (0.05, 0.1):
            bench_search(args.vectors, args.queries, noise)
        if not args.skip_store:
            bench_store_100k(work, args.store_docs, args.queries)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
