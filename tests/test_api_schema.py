"""The OpenAPI spec says what the API accepts and answers: schemathesis against the running server.

Every check schemathesis has (``--checks all``: server errors, status codes, content types,
headers and bodies against the spec, spec-valid input accepted, spec-invalid input
refused, ...) over its example, coverage and fuzzing phases, with a bounded number of
examples per operation and a fixed seed.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import free_port, start_server

MAX_EXAMPLES = 15


@pytest.fixture(scope="module")
def live_api(demo_data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = tmp_path_factory.mktemp("schema") / "data"
    shutil.copytree(demo_data_dir, data)  # reports are written
    port = free_port()
    proc = start_server(data, port, data.parent / "server.log")
    base = f"http://127.0.0.1:{port}"
    # The place search builds its gazetteer on first use (seconds): not inside a timed request.
    with urllib.request.urlopen(f"{base}/api/v1/places?q=bj", timeout=120) as r:
        assert r.status == 200
    yield base
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


def test_schemathesis_finds_nothing(live_api: str, tmp_path: Path) -> None:
    cmd = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "run",
        f"{live_api}/api/v1/openapi.json",
        "--checks",
        "all",
        "--phases",
        "examples,coverage,fuzzing",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        "1",
        "--workers",
        "2",
        "--request-timeout",
        "30",
        "--generation-database",
        "none",
        "--no-color",
    ]
    run = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=600, check=False)
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    assert "Fuzzing" in run.stdout
    assert "Coverage" in run.stdout
