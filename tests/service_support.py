"""Helpers shared by the service tests: a small simulated study, zips of it, a live server.

The study is the 8 mm virtual patient of ``tests/test_run.py`` (68Ga-DOTATATE, seed 11,
three lesions); the test of many analyses at once uploads the same patient at 10 mm with one
lesion (:data:`COARSE`: 200 DICOM files instead of 250, an analysis in about 60 % of the
time). Copies get a distinct StudyInstanceUID by rewriting its last two digits in the files'
bytes (the UID keeps its length, so every DICOM element stays valid).
"""

from __future__ import annotations

import io
import os
import socket
import threading
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pydicom

from conftest import cached_simulation

PATIENT_NAME = "Virtual^NET^seed11"  # set by the simulator (must never reach a log)
TOKEN = "test-admin-token-0123456789"


SMALL = {"tracer": "68Ga-DOTATATE", "seed": 11, "n_lesions": 3, "voxel_mm": 8.0}
COARSE = {"tracer": "68Ga-DOTATATE", "seed": 11, "n_lesions": 1, "voxel_mm": 10.0}


def simulate(folder: Path, config: dict | None = None) -> Path:
    """Write the small study (or the ``SimulationConfig`` fields ``config``, e.g.
    :data:`COARSE`) into ``folder`` (DICOM in ``pet/`` and ``ct/``, truth aside)."""
    from nenscope.simulation.output import write_study
    from nenscope.simulation.study import SimulationConfig

    write_study(cached_simulation(SimulationConfig(**(config or SMALL))), folder)
    return folder


def dicom_files(folder: Path) -> list[Path]:
    """The study's DICOM files (the simulator's truth folder left out)."""
    return sorted(p for p in folder.rglob("*.dcm") if "truth" not in p.parts)


def study_uid(folder: Path) -> str:
    return str(pydicom.dcmread(dicom_files(folder)[0], stop_before_pixels=True).StudyInstanceUID)


def study_zip(folder: Path, copy: int | None = None) -> bytes:
    """The study's DICOM files as a zip (``copy``: 0-99, a distinct StudyInstanceUID)."""
    old = study_uid(folder).encode()
    new = old if copy is None else old[:-2] + f"{copy:02d}".encode()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        for path in dicom_files(folder):
            zf.writestr(str(path.relative_to(folder)), path.read_bytes().replace(old, new))
    return buf.getvalue()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def live_server(app) -> Iterator[str]:
    """Run ``app`` under uvicorn in a thread; yield its base URL."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="info"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=60)


def wait_for(client, analysis_id: int, statuses=("done", "failed"), timeout_s: float = 300):
    """Poll an analysis until its status is one of ``statuses``; its last state."""
    deadline = time.monotonic() + timeout_s
    while True:
        state = client.get(f"/api/analyses/{analysis_id}").json()
        if state["status"] in statuses:
            return state
        if time.monotonic() > deadline:
            raise TimeoutError(f"analysis {analysis_id} still {state['status']}")
        time.sleep(0.2)


def files_outside(root: Path, inside: Path) -> list[Path]:
    """Files under ``root`` that are not under ``inside`` (what an upload may not create)."""
    inside = inside.resolve()
    return [
        Path(d) / f
        for d, _, names in os.walk(root)
        for f in names
        if not (Path(d) / f).resolve().is_relative_to(inside)
    ]
