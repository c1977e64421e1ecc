"""Prometheus metrics, one registry per app so tests can build many apps side by side."""

from __future__ import annotations

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from rag.types import Answer

__all__ = ["CONTENT_TYPE_LATEST", "Metrics"]

# Seconds: search lives in the low milliseconds, generation in seconds.
_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class Metrics:
    """Request counts and latencies per route, answer outcomes, and the index's size."""

    def __init__(self, multiprocess: bool = False) -> None:
        # Several processes (``rag serve --workers N``): prometheus_client keeps every value in
        # files under PROMETHEUS_MULTIPROC_DIR (set by the CLI before it is imported) and
        # /metrics adds up every process's files; gauges say how to combine.
        self.multiprocess = multiprocess
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "rag_http_requests",
            "HTTP requests by route template, method and status code.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "rag_http_request_duration_seconds",
            "HTTP request latency by route template.",
            ["route", "method"],
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.answers = Counter(
            "rag_answers",
            "Answers given, by outcome: answered, abstained.",
            ["outcome"],
            registry=self.registry,
        )
        self.degraded = Counter(
            "rag_answers_degraded",
            "Answers that fell back to extraction because the LLM failed.",
            registry=self.registry,
        )
        self.queue_depth = Gauge(
            "rag_generation_queue_depth",
            "Questions admitted to generation (running and waiting).",
            registry=self.registry,
            multiprocess_mode="livesum",
        )
        self.rejected = Counter(
            "rag_generation_rejected",
            "Questions turned away because the generation queue was full.",
            registry=self.registry,
        )
        self.index_documents = Gauge(
            "rag_index_documents",
            "Documents in the index.",
            registry=self.registry,
            multiprocess_mode="mostrecent",
        )
        self.index_chunks = Gauge(
            "rag_index_chunks",
            "Chunks in the index.",
            registry=self.registry,
            multiprocess_mode="mostrecent",
        )
        self.index_bytes = Gauge(
            "rag_index_size_bytes",
            "Size of the index on disk.",
            registry=self.registry,
            multiprocess_mode="mostrecent",
        )
        # Touch the label sets so they show as zero before the first answer.
        for outcome in ("answered", "abstained"):
            self.answers.labels(outcome)

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        self.requests.labels(route, method, str(status)).inc()
        self.latency.labels(route, method).observe(seconds)

    def observe_answer(self, answer: Answer) -> None:
        self.answers.labels("abstained" if answer.abstained else "answered").inc()
        if answer.degraded:
            self.degraded.inc()

    def set_index(self, documents: int, chunks: int, size_bytes: int) -> None:
        self.index_documents.set(documents)
        self.index_chunks.set(chunks)
        self.index_bytes.set(size_bytes)

    def render(self) -> bytes:
        if self.multiprocess:
            from prometheus_client import multiprocess

            combined = CollectorRegistry()
            multiprocess.MultiProcessCollector(combined)
            return generate_latest(combined)
        return generate_latest(self.registry)
