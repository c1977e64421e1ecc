"""Write benchmark: how long a small document waits while a large one is being ingested.

    .venv/bin/python bench/write_bench.py [--size-mb 1.0] [--mode job|sync|both]

Serves the seed index with `rag serve` (bundled embedder, no LLM) in a fresh folder, POSTs a
large document (``--size-mb`` of news text), then two seconds later a small one, and reports
how long the small one took to be acknowledged and how long the large one took to land.
``job``: the large upload is over ``RAG_JOB_THRESHOLD_CHARS`` and is answered 202 at once;
``sync``: the threshold is raised so the large POST is answered only when it is indexed.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
RAG = Path(sys.executable).parent / "rag"


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _large_text(size: int) -> str:
    seeds = [p.read_text(encoding="utf-8") for p in sorted((ROOT / "seeds").glob("*.txt"))]
    parts, total, n = [], 0, 0
    while total < size:
        # Numbered copies, so no two chunks are the same text.
        piece = f"Dispatch {n}.\n\n" + seeds[n % len(seeds)].replace("\n\n", f" ({n})\n\n")
        parts.append(piece)
        total += len(piece)
        n += 1
    return "Archive of dispatches\n\n" + "\n\n".join(parts)[:size]


def run(mode: str, size_mb: float, work: Path) -> None:
    env = {
        **os.environ,
        "RAG_INDEX_DIR": str(work / "index"),
        "RAG_STATE_DIR": str(work / f"state-{mode}"),
        "RAG_LLM_MODEL": "extractive",
        "RAG_JOB_THRESHOLD_CHARS": "100000" if mode == "job" else "100000000",
        "HF_HUB_OFFLINE": "1",
    }
    if not (work / "index").exists():
        subprocess.run([str(RAG), "index", "build", str(ROOT / "seeds")], env=env, check=True)
    port = _port()
    server = subprocess.Popen(
        [str(RAG), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("the server did not become ready")
            time.sleep(0.2)
        text = _large_text(int(size_mb * 1_000_000))
        big: dict[str, object] = {}

        def post_big() -> None:
            started = time.monotonic()
            response = httpx.post(
                f"{url}/v1/documents?replace=true",
                json={"doc_id": f"archive-{mode}", "text": text},
                timeout=3600,
            )
            big.update(status=response.status_code, body=response.json(), started=started)
            big["answered_s"] = time.monotonic() - started

        thread = threading.Thread(target=post_big)
        thread.start()
        time.sleep(2.0)
        started = time.monotonic()
        small = httpx.post(
            f"{url}/v1/documents?replace=true",
            json={"doc_id": f"note-{mode}", "text": "Short note\n\nThe ferry leaves at nine."},
            timeout=3600,
        )
        small_s = time.monotonic() - started
        thread.join()
        landed_s = float(big["answered_s"])  # type: ignore[arg-type]
        chunks = 0
        if big["status"] == 202:
            job_url = url + big["body"]["url"]  # type: ignore[index]
            while True:
                job = httpx.get(job_url, timeout=10).json()
                if job["status"] in ("done", "failed"):
                    break
                time.sleep(0.2)
            landed_s = time.monotonic() - float(big["started"])  # type: ignore[arg-type]
            chunks = job["progress"]["chunks_total"]
        else:
            chunks = big["body"]["documents"][0]["chunks"]  # type: ignore[index]
        print(
            f"{mode}: large document {len(text) / 1e6:.2f} MB ({chunks} chunks) answered "
            f"{big['status']} in {float(big['answered_s']):.2f} s, indexed after "  # type: ignore[arg-type]
            f"{landed_s:.1f} s ({chunks / landed_s:.0f} chunks/s); small document posted 2 s "
            f"later acknowledged {small.status_code} in {small_s:.2f} s"
        )
    finally:
        server.terminate()
        server.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size-mb", type=float, default=1.0)
    parser.add_argument("--mode", choices=["job", "sync", "both"], default="both")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="write-bench-") as tmp:
        for mode in ("job", "sync") if args.mode == "both" else (args.mode,):
            run(mode, args.size_mb, Path(tmp))


if __name__ == "__main__":
    main()
