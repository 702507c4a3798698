"""``nenscope serve`` as a process: killed (SIGKILL) while an analysis runs, restarted on the
same data directory, the job is marked failed and a new version runs; the server's whole log
(uvicorn's access log included, at DEBUG) holds no patient name."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx2
import pytest

from nenscope.store.analyses import INTERRUPTED
from service_support import PATIENT_NAME, TOKEN, free_port, simulate, study_zip, wait_for

pytestmark = [pytest.mark.xdist_group("service_restart"), pytest.mark.slow]


def _serve(data: Path, port: int, log: Path) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "nenscope", "serve", "--data-dir", str(data)]
    cmd += ["--port", str(port), "--log-level", "debug"]
    with log.open("ab") as out:
        proc = subprocess.Popen(
            cmd, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "NENSCOPE_TOKEN": TOKEN}
        )
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx2.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return proc
        except httpx2.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"nenscope serve did not start:\n{log.read_text()}")
        time.sleep(0.2)


def test_a_killed_server_restarts_with_the_job_failed_and_rerunnable(tmp_path):
    zipped = study_zip(simulate(tmp_path / "study"))
    data, log, port = tmp_path / "data", tmp_path / "server.log", free_port()
    url, auth = f"http://127.0.0.1:{port}", {"Authorization": f"Bearer {TOKEN}"}
    server = _serve(data, port, log)
    try:
        with httpx2.Client(base_url=url, headers=auth, timeout=120) as c:
            r = c.post("/api/studies", files=[("files", ("s.zip", zipped, "application/zip"))])
            study_id = r.json()["id"]
            first = c.post(f"/api/studies/{study_id}/analyses").json()["id"]
            assert wait_for(c, first, statuses=("running",))["status"] == "running"
    finally:
        server.send_signal(signal.SIGKILL)
        server.wait(timeout=60)

    server = _serve(data, port, log)
    try:
        with httpx2.Client(base_url=url, headers=auth, timeout=120) as c:
            cut = c.get(f"/api/analyses/{first}").json()
            assert (cut["status"], cut["error"], cut["findings"]) == ("failed", INTERRUPTED, None)
            r = c.post(f"/api/studies/{study_id}/analyses")
            assert r.status_code == 202
            second = wait_for(c, r.json()["id"])
            assert (second["status"], second["version"]) == ("done", 2)
            assert second["findings"]["lesions"]
    finally:
        server.send_signal(signal.SIGTERM)
        # uvicorn shuts down, then ends by the signal it caught
        assert server.wait(timeout=120) in (0, -signal.SIGTERM, 128 + signal.SIGTERM)
    text = log.read_text()
    assert "Application shutdown complete" in text
    assert "analysis 1 was running when the server stopped" in text
    assert "GET /api/analyses/2 HTTP/1.1" in text  # the access log is part of it
    assert PATIENT_NAME not in text and "seed11" not in text
