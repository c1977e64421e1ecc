"""Scale benchmark: dense search latency at a large synthetic size, FAISS HNSW and Milvus Lite.

    .venv/bin/python bench/scale_bench.py [--vectors 1000000] [--queries 200] [--skip-milvus]

Clustered unit vectors of 384 dimensions (the bundled model's), like real embeddings that group
by topic. Each backend is timed one query at a time on one thread (as a server searches), with
recall@10 against exact search. Prints build/insert time, p50/p95 latency and memory.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from index.dense import DenseIndex  # noqa: E402

DIMENSION = 384


def clustered(count: int, seed: int, topics: int = 2000, noise: float = 0.1) -> np.ndarray:
    rng = np.random.default_rng(0)
    centers = rng.standard_normal((topics, DIMENSION)).astype(np.float32)
    centers /= np.linalg.norm(centers, axis=1, keepdims=True)
    rng = np.random.default_rng(seed)
    out = np.empty((count, DIMENSION), dtype=np.float32)
    for first in range(0, count, 100_000):
        n = min(100_000, count - first)
        block = centers[rng.integers(0, topics, n)]
        block += noise * rng.standard_normal((n, DIMENSION)).astype(np.float32)
        out[first : first + n] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out


def exact_top10(data: np.ndarray, queries: np.ndarray) -> list[set[int]]:
    truth = []
    for query in queries:
        scores = data @ query
        top = np.argpartition(-scores, 10)[:10]
        truth.append({int(i) + 1 for i in top})  # ids are rows + 1
    return truth


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p50, p95 = ordered[len(ordered) // 2], ordered[int(len(ordered) * 0.95) - 1]
    return f"p50 {p50:7.2f} ms   p95 {p95:7.2f} ms"


def rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6


def bench_faiss(data: np.ndarray, queries: np.ndarray, truth: list[set[int]]) -> None:
    ids = np.arange(1, len(data) + 1, dtype=np.int64)
    started = time.perf_counter()
    index = DenseIndex.build(data, ids, approximate=True)
    built = time.perf_counter() - started
    latencies, found = [], []
    for query in queries:
        started = time.perf_counter()
        hit_ids, _ = index.search(query, 10)
        latencies.append((time.perf_counter() - started) * 1000)
        found.append(set(hit_ids.tolist()))
    recall = np.mean([len(t & f) / 10 for t, f in zip(truth, found, strict=True)])
    print(
        f"  FAISS HNSW (M=32, efSearch=128): build {built:6.0f} s ({len(data) / built:,.0f}/s) "
        f"  {percentiles(latencies)}   recall@10 {recall:.3f}   peak RSS {rss_gb():.1f} GB"
    )


def bench_milvus(data: np.ndarray, queries: np.ndarray, truth: list[set[int]], work: Path) -> None:
    from pymilvus import DataType, MilvusClient

    client = MilvusClient(str(work / "scale.db"))
    schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=DIMENSION)
    params = client.prepare_index_params()
    params.add_index("vector", index_type="AUTOINDEX", metric_type="IP")
    client.create_collection("scale", schema=schema, index_params=params)
    started = time.perf_counter()
    for first in range(0, len(data), 5_000):
        block = data[first : first + 5_000]
        rows = [{"id": first + n + 1, "vector": vector} for n, vector in enumerate(block.tolist())]
        client.insert("scale", rows)
    client.flush("scale")
    inserted = time.perf_counter() - started
    client.search("scale", data=[queries[0].tolist()], limit=10)  # load / warm up
    latencies, found = [], []
    for query in queries:
        started = time.perf_counter()
        hits = client.search(
            "scale", data=[query.tolist()], limit=10, search_params={"metric_type": "IP"}
        )
        latencies.append((time.perf_counter() - started) * 1000)
        found.append({int(hit["id"]) for hit in hits[0]})
    recall = np.mean([len(t & f) / 10 for t, f in zip(truth, found, strict=True)])
    print(
        f"  Milvus Lite (AUTOINDEX, IP):     insert {inserted:5.0f} s ({len(data) / inserted:,.0f}/s)"
        f"  {percentiles(latencies)}   recall@10 {recall:.3f}   peak RSS {rss_gb():.1f} GB"
    )
    client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vectors", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--skip-milvus", action="store_true")
    parser.add_argument("--skip-faiss", action="store_true")
    args = parser.parse_args()
    print(
        f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; "
        f"{args.vectors:,} vectors x {DIMENSION} dims, {args.queries} queries, k=10"
    )
    data = clustered(args.vectors, seed=1)
    queries = clustered(args.queries, seed=2)
    truth = exact_top10(data, queries)
    if not args.skip_faiss:
        bench_faiss(data, queries, truth)
    if not args.skip_milvus:
        with tempfile.TemporaryDirectory(prefix="scale-bench-") as tmp:
            bench_milvus(data, queries, truth, Path(tmp))
    print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
