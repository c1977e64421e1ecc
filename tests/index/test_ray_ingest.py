"""``rag index build --ray``: Ray Data gives the index a plain build gives, on a local Ray."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from index.assembly import IndexConfig
from index.store import open_index
from tests.fakes import HashEmbedder
from tests.index.helpers import SEEDS, writer

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    ray = pytest.importorskip("ray")
    ray.init(
        num_cpus=2, include_dashboard=False, log_to_driver=False, object_store_memory=200 << 20
    )
    yield
    ray.shutdown()


def test_a_ray_build_gives_the_index_a_plain_build_gives(local_ray: None, tmp_path: Path) -> None:
    from index.ray_ingest import PrecomputedEmbedder, ingest_with_ray

    (tmp_path / "bad.txt").write_bytes(b"")  # an empty file is reported, not fatal
    result = ingest_with_ray([SEEDS, tmp_path / "bad.txt"], HashEmbedder, IndexConfig())
    assert result.workers >= 1
    assert len(result.documents) == 5
    assert [path for path, _ in result.failures] == [str(tmp_path / "bad.txt")]
    fallback = HashEmbedder()
    embedder = PrecomputedEmbedder(fallback.name, fallback.dimension, result.vectors, fallback)
    report = writer(tmp_path / "ray", embedder).replace(result.documents)  # type: ignore[arg-type]
    assert sorted(report.added) == sorted(d.doc_id for d in result.documents)
    assert embedder.fallback_texts == 0  # every vector came from the Ray actors

    writer(tmp_path / "plain").build([SEEDS])
    ray_store = open_index(tmp_path / "ray", HashEmbedder())
    plain = open_index(tmp_path / "plain", HashEmbedder())
    assert len(ray_store) == len(plain)
    query = "Witkoff envoy Moscow talks"
    vector = HashEmbedder().embed([query])[0]
    for store_a, store_b in ((ray_store, plain),):
        dense_a = [(c.doc_id, c.start, round(s, 5)) for c, s in store_a.search_dense(vector, 10)]
        dense_b = [(c.doc_id, c.start, round(s, 5)) for c, s in store_b.search_dense(vector, 10)]
        assert dense_a == dense_b


def test_a_plain_build_never_imports_ray(tmp_path: Path) -> None:
    code = (
        "import sys; from tests.index.helpers import SEEDS, writer; "
        f"writer(__import__('pathlib').Path({str(tmp_path / 'i')!r})).build([SEEDS]); "
        "print('ray' in sys.modules)"
    )
    run = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "False"


def test_an_unreachable_ray_address_is_one_line_at_once(tmp_path: Path) -> None:
    rag = Path(sys.executable).parent / "rag"
    command = [str(rag), "index", "build", "--ray", "127.0.0.1:1", str(ROOT / "seeds")]
    command += ["--index-dir", str(tmp_path / "index")]
    run = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert run.returncode == 1
    assert run.stderr.strip().splitlines() == [
        "error: cannot reach the Ray cluster at 127.0.0.1:1: Connection refused"
    ]
