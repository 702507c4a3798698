"""A real Orthanc with the DICOMweb plugin for the PACS tests.

``.ci/run`` starts one with ``tests/orthanc/orthanc.json`` and exports ``NENSCOPE_ORTHANC_URL``;
without it, :func:`orthanc` starts a private one (temporary storage, a free port) when the
``Orthanc`` binary is installed (Debian: ``apt-get install orthanc orthanc-dicomweb``). In CI
(``NENSCOPE_CI`` set) a missing Orthanc fails the tests instead of skipping them.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

CONFIG = Path(__file__).resolve().parent / "orthanc" / "orthanc.json"
USER, PASSWORD = "nenscope", "nenscope-test"


@dataclass(frozen=True)
class OrthancServer:
    url: str  # DICOMweb root
    rest: str  # Orthanc REST root
    user: str = USER
    password: str = PASSWORD


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(rest: str, timeout_s: float = 30.0) -> bool:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        try:
            if requests.get(f"{rest}/system", auth=(USER, PASSWORD), timeout=2).ok:
                return True
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    return False


def _unavailable(why: str) -> None:
    if os.environ.get("NENSCOPE_CI"):
        pytest.fail(f"{why}: .ci/run must install and start Orthanc (orthanc, orthanc-dicomweb)")
    pytest.skip(f"{why} (CI installs it)")


@contextmanager
def orthanc(tmp: Path) -> Iterator[OrthancServer]:
    """The CI's Orthanc (``NENSCOPE_ORTHANC_URL``), else a private one stored under ``tmp``."""
    url = os.environ.get("NENSCOPE_ORTHANC_URL")
    if url:
        rest = url.rstrip("/").removesuffix("/dicom-web")
        if not _wait(rest, 10.0):
            pytest.fail(f"NENSCOPE_ORTHANC_URL={url} does not answer")
        yield OrthancServer(url=url.rstrip("/"), rest=rest)
        return
    binary = shutil.which("Orthanc")
    if binary is None:
        _unavailable("Orthanc is not installed")
    conf = tmp / "conf"
    conf.mkdir(parents=True)
    shutil.copy(CONFIG, conf / "orthanc.json")
    port = _free_port()
    local = {
        "HttpPort": port,
        "StorageDirectory": str(tmp / "db"),
        "IndexDirectory": str(tmp / "db"),
    }
    (conf / "local.json").write_text(json.dumps(local))
    log = (tmp / "orthanc.log").open("wb")
    proc = subprocess.Popen([binary, str(conf)], stdout=log, stderr=subprocess.STDOUT)
    rest = f"http://127.0.0.1:{port}"
    try:
        if not _wait(rest):
            pytest.fail(f"Orthanc did not start: {(tmp / 'orthanc.log').read_text()[-2000:]}")
        yield OrthancServer(url=f"{rest}/dicom-web", rest=rest)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
