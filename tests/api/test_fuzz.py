"""``schemathesis run --checks all`` over ``/openapi.json`` of a real server, as a user would run
it: every check (status codes, content types, headers, response schemas, schema-valid data
accepted, schema-invalid data refused, Allow headers, auth, use after delete, ...) and every
phase (examples, coverage, fuzzing, stateful), with 0 failures and 0 server errors."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.api.test_server import running_server

pytestmark = pytest.mark.slow

HOOKS = Path(__file__).resolve().parent / "schemathesis_hooks.py"
API_KEY = "fuzz-key"
EXAMPLES_PER_OPERATION = 40  # ~600 requests, about 30 s on 2 cores; the seed keeps it the same
SEED = 1
JOB_THRESHOLD = 120  # characters of text


def test_schemathesis_finds_nothing_with_every_check(tmp_path: Path) -> None:
    # With API keys on, `ignored_auth` checks that every /v1 operation refuses a missing key.
    # A low job threshold: some uploads answer 202 with a job_id, so GET /v1/jobs/{job_id}
    # is fuzzed with real ids too.
    options = ("--api-keys", API_KEY, "--job-threshold", str(JOB_THRESHOLD))
    with running_server(tmp_path / "server", 0.0, *options) as server:
        command = [
            str(Path(sys.executable).parent / "schemathesis"),
            "run",
            f"{server.url}/openapi.json",
            "--checks=all",
            "--phases=examples,coverage,fuzzing,stateful",
            f"--max-examples={EXAMPLES_PER_OPERATION}",
            f"--seed={SEED}",
            "--workers=1",
            "--request-timeout=30",
            "--no-color",
            f"--header=Authorization: Bearer {API_KEY}",
        ]
        # The hooks say what a valid uploaded article is; JSON Schema cannot. Run from tmp_path,
        # where schemathesis leaves its .schemathesis/ cache.
        env = {**os.environ, "SCHEMATHESIS_HOOKS": str(HOOKS)}
        run = subprocess.run(
            command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=540
        )
    report = run.stdout + run.stderr
    assert run.returncode == 0, report[-6000:]
    assert "No issues found" in report, report[-6000:]
    generated = re.search(r"(\d+) generated, (\d+) passed", report)
    assert generated is not None and generated.group(1) == generated.group(2), report[-2000:]
    assert int(generated.group(1)) >= 300  # every operation was really exercised
    for phase in ("Coverage", "Fuzzing", "Stateful"):
        assert f"✅ {phase}" in report, report[-3000:]
