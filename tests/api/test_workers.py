"""``rag serve --workers 2``: two processes on one port share the index, the rate limit and the
metrics (real embedder, no LLM)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.api.conftest import ZEBRA_TEXT
from tests.api.test_server import free_port

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
RAG = Path(sys.executable).parent / "rag"
RATE = 40  # requests a minute per caller, across both workers
SPENT: list[int] = []  # /v1 requests made by earlier tests of this module (the same caller)


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("workers")
    env = {
        **os.environ,
        "RAG_INDEX_DIR": str(root / "index"),
        "RAG_STATE_DIR": str(root / "state"),
        "RAG_LLM_MODEL": "extractive",
        "RAG_RATE_LIMIT_PER_MINUTE": str(RATE),
        "OMP_NUM_THREADS": "1",
    }
    subprocess.run(
        [str(RAG), "index", "build", str(ROOT / "seeds")], env=env, check=True, timeout=300,
        capture_output=True,
    )  # fmt: skip
    port = free_port()
    command = [str(RAG), "serve", "--port", str(port), "--workers", "2"]
    server = subprocess.Popen(command, env=env, cwd=root, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        pids = _ready_pids(url, server)
        assert len(pids) == 2, pids
        yield url
    finally:
        server.terminate()
        server.wait(30)


def _ready_pids(url: str, server: subprocess.Popen[bytes]) -> set[int]:
    """Poll /readyz on new connections until both workers have answered ready."""
    pids: set[int] = set()
    deadline = time.monotonic() + 240
    while len(pids) < 2 and time.monotonic() < deadline:
        assert server.poll() is None, "the server exited"
        try:
            response = httpx.get(f"{url}/readyz", timeout=5)
            if response.status_code == 200:
                pids.add(response.json()["pid"])
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    return pids


def test_a_write_in_one_worker_is_seen_by_the_other_within_a_second(two_workers: str) -> None:
    added = httpx.post(
        f"{two_workers}/v1/documents", json={"doc_id": "zebra", "text": ZEBRA_TEXT}, timeout=60
    )
    assert added.status_code == 201
    time.sleep(1.0)
    seen = {}
    for _ in range(20):  # a new connection each: the kernel hands them to both processes
        ready = httpx.get(f"{two_workers}/readyz", timeout=10).json()
        response = httpx.get(f"{two_workers}/v1/documents/zebra", timeout=10)
        seen[ready["pid"]] = response.status_code
    SPENT.append(21)
    assert set(seen.values()) == {200}


def test_rate_limit_and_metrics_count_across_workers(two_workers: str) -> None:
    statuses = [
        httpx.get(f"{two_workers}/v1/documents", timeout=10).status_code for _ in range(RATE + 10)
    ]
    # One budget for both processes (plus a refill of a few tokens while the tests ran);
    # a budget per process would have let about twice as many through.
    left = RATE - sum(SPENT)
    assert left - 2 <= statuses.count(200) <= left + 8, statuses
    assert statuses.count(429) >= 8
    text = httpx.get(f"{two_workers}/metrics", timeout=10).text
    counted = sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("rag_http_requests_total{") and 'route="/v1/documents"' in line
        and 'method="GET"' in line
    )  # fmt: skip
    assert counted >= RATE + 10  # every request, whichever process answered it
