"""Load test of the HTTP API on loopback: requests/s and p50/p99 for search and ask (fake LLM).

    .venv/bin/python bench/http_bench.py [--embedder real|hash] [--requests N] [--time-cap S]

Starts uvicorn in a subprocess (the real app over the seed index, the LLM faked), drives it
from this process at concurrency 1, 4, 8 and 16 (a fixed number of requests, capped in time),
then, request by request at concurrency 1, HTTP overhead = client wall time - the engine's own
time, which the server reports in its ``Server-Timing`` header.

The load comes from a bare HTTP/1.1 keep-alive client on asyncio streams, as wrk would send it:
httpx spent ~2.5 ms of CPU per request, close to half a core of the two the server is measured
on (measured: 0.45 core at 180 req/s). The client's own CPU share is printed with each run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("OMP_NUM_THREADS", "1")  # the in-process pipeline runs as the server's

QUERIES = [
    "How long did phase one of the ceasefire last?",
    "Who is the US envoy to the Middle East?",
    "How many hostages remain in Gaza?",
    "How many Palestinian prisoners were released?",
    "What did Netanyahu say about the negotiations?",
]
LEVELS = (1, 4, 8, 16)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(root: Path, port: int, embedder: str, plain: bool) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "tests.api.serve_fake", "--root", str(root)]
    command += ["--port", str(port), "--embedder", embedder, "--queue-size", "64"]
    command += ["--plain-asyncio"] if plain else []
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # as `rag serve` sets it
    process = subprocess.Popen(command, cwd=ROOT, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("the server exited during start-up")
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    process.kill()
    raise SystemExit("the server was not ready within 180 s")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


class Connection:
    """One keep-alive HTTP/1.1 connection: a request written, a Content-Length response read."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer

    @classmethod
    async def open(cls, port: int) -> Connection:
        return cls(*await asyncio.open_connection("127.0.0.1", port))

    async def request(
        self, method: str, path: str, body: dict | None = None
    ) -> tuple[int, dict[str, str]]:
        """The response's status and headers (names lowercased, repeats joined by ", "); its
        body is read and dropped."""
        payload = json.dumps(body).encode() if body is not None else b""
        head = f"{method} {path} HTTP/1.1\r\nHost: bench\r\nContent-Length: {len(payload)}\r\n"
        kind = "Content-Type: application/json\r\n" if body is not None else ""
        self._writer.write(f"{head}{kind}\r\n".encode() + payload)
        lines = (await self._reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        headers: dict[str, str] = {}
        for name, _, value in (line.partition(": ") for line in lines[1:] if ": " in line):
            key = name.lower()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        if "content-length" not in headers:
            raise SystemExit(f"{path}: a response without Content-Length, which this client skips")
        await self._reader.readexactly(int(headers["content-length"]))
        return int(lines[0].split()[1]), headers

    def close(self) -> None:
        self._writer.close()


async def drive(
    port: int, path: str, body: Callable[[int], dict], concurrency: int, total: int, cap_s: float
) -> tuple[float, list[float], int, float]:
    """(requests/s, latencies in ms, errors, the client's CPU in cores) for ``total`` requests
    at ``concurrency``."""
    latencies: list[float] = []
    errors = 0
    issued = 0
    connections = [await Connection.open(port) for _ in range(concurrency)]
    started, cpu_started = time.perf_counter(), time.process_time()

    async def worker(connection: Connection) -> None:
        nonlocal issued, errors
        while issued < total and time.perf_counter() - started < cap_s:
            n = issued
            issued += 1
            sent = time.perf_counter()
            status, _ = await connection.request("POST", path, body(n))
            latencies.append((time.perf_counter() - sent) * 1000)
            errors += status != 200

    await asyncio.gather(*(worker(connection) for connection in connections))
    elapsed = time.perf_counter() - started
    client_cores = (time.process_time() - cpu_started) / elapsed
    for connection in connections:
        connection.close()
    return len(latencies) / elapsed, latencies, errors, client_cores


async def drive_get(port: int, path: str, total: int, cap_s: float) -> tuple[float, list[float]]:
    """Sequential GETs: (requests/s, latencies in ms)."""
    latencies: list[float] = []
    connection = await Connection.open(port)
    started = time.perf_counter()
    while len(latencies) < total and time.perf_counter() - started < cap_s:
        sent = time.perf_counter()
        if (await connection.request("GET", path))[0] != 200:
            raise SystemExit(f"GET {path} failed")
        latencies.append((time.perf_counter() - sent) * 1000)
    elapsed = time.perf_counter() - started
    connection.close()
    return len(latencies) / elapsed, latencies


async def overhead(port: int, runs: int) -> dict[str, tuple[float, float, float]]:
    """What HTTP adds to the engine's own time, request by request at concurrency 1: the
    server names the engine's time and the whole request's in ``Server-Timing``. Per path, in
    ms: p50 of (client wall - engine), of (server's whole request - engine), and of the engine."""
    bodies = {
        "/v1/search": lambda q: {"query": q, "top_k": 5},
        "/v1/ask": lambda q: {"question": q},
    }
    result: dict[str, tuple[float, float, float]] = {}
    connection = await Connection.open(port)
    try:
        for path, body in bodies.items():
            added, in_server, engine = [], [], []
            for n in range(runs + 5):
                started = time.perf_counter()
                status, headers = await connection.request(
                    "POST", path, body(QUERIES[n % len(QUERIES)])
                )
                wall = (time.perf_counter() - started) * 1000
                if status != 200:
                    raise SystemExit(f"POST {path} answered {status}")
                timings = server_timings(headers.get("server-timing", ""))
                own = timings["search" if path == "/v1/search" else "answer"]
                if n >= 5:  # warm-up
                    added.append(wall - own)
                    in_server.append(timings["app"] - own)
                    engine.append(own)
            result[path] = (
                statistics.median(added),
                statistics.median(in_server),
                statistics.median(engine),
            )
    finally:
        connection.close()
    return result


def server_timings(header: str) -> dict[str, float]:
    """``search;dur=5.12, app;dur=6.40`` -> {"search": 5.12, "app": 6.4}."""
    parts = (part.strip().partition(";dur=") for part in header.split(",") if part.strip())
    return {name: float(ms) for name, _, ms in parts}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--embedder", choices=["real", "hash"], default="real")
    parser.add_argument("--requests", type=int, default=600, help="per endpoint and level")
    parser.add_argument("--time-cap", type=float, default=15.0, help="seconds per run")
    parser.add_argument(
        "--plain-asyncio",
        action="store_true",
        help="serve with h11 + asyncio, not httptools + uvloop",
    )
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="http-bench-"))
    port = free_port()
    print(
        f"embedder={args.embedder} cores={os.cpu_count()} load={os.getloadavg()[0]:.1f}"
        f" requests<={args.requests} per run plain_asyncio={args.plain_asyncio}"
    )
    server = start_server(root, port, args.embedder, args.plain_asyncio)
    bodies = {
        "/v1/search": lambda n: {"query": QUERIES[n % len(QUERIES)], "top_k": 5},
        "/v1/ask": lambda n: {"question": QUERIES[n % len(QUERIES)]},
    }
    try:
        # The HTTP stack alone (uvicorn, middleware, routing, JSON), no pipeline behind it.
        asyncio.run(drive_get(port, "/healthz", 50, 5))
        rps, lat = asyncio.run(drive_get(port, "/healthz", args.requests, args.time_cap))
        print(
            f"{'/healthz':11} c=1   n={len(lat):<5} {rps:7.1f} req/s"
            f"  p50 {percentile(lat, 50):7.2f} ms  p99 {percentile(lat, 99):7.2f} ms"
        )
        for path, body in bodies.items():
            asyncio.run(drive(port, path, body, 4, 20, 10))  # warm up
            for level in LEVELS:
                rps, lat, errors, client_cores = asyncio.run(
                    drive(port, path, body, level, args.requests, args.time_cap)
                )
                print(
                    f"{path:11} c={level:<3} n={len(lat):<5} {rps:7.1f} req/s"
                    f"  p50 {percentile(lat, 50):7.2f} ms  p99 {percentile(lat, 99):7.2f} ms"
                    f"  errors {errors}  client {client_cores:.2f} cores"
                )
        for path, (added, in_server, engine) in asyncio.run(overhead(port, runs=300)).items():
            print(
                f"{path:11} c=1 HTTP overhead p50 {added:.2f} ms over the engine's {engine:.2f} ms"
                f" (in the server {in_server:.2f} ms, the rest loopback and client)"
            )
    finally:
        server.terminate()
        server.wait(15)


if __name__ == "__main__":
    main()
