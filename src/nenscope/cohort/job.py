"""One cohort study, as a Dask task: analyse it into ``OUT/<study_id>/`` and return the result.

:func:`run_study` runs on a worker. It never raises: any failure (bad DICOM, PACS down, a bug)
comes back as a ``failed`` :class:`StudyOutcome` with the error, so the other studies go on.
"""

from __future__ import annotations

import os
import socket
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from nenscope.analysis import AnalysisOptions
from nenscope.atomic import staged_input
from nenscope.cohort.manifest import CohortEntry
from nenscope.errors import NenscopeError
from nenscope.pacs.analyze import IMAGE_MODALITIES, analyze_from_pacs, run_analysis
from nenscope.pacs.client import Pacs, is_pacs_uri, parse_pacs_uri
from nenscope.pacs.session import PacsAuth


@dataclass(frozen=True)
class StudyOutcome:
    """What one study's task returns to the cohort runner.

    Attributes:
        study_id: the manifest's id.
        status: ``"done"`` or ``"failed"``.
        out_dir: the study's output folder.
        duration_s: wall time of the task, in s.
        findings_json: the ``findings.json`` text (done).
        radiomics_csv: the ``radiomics.csv`` text, when radiomics were asked for.
        error: one line (failed): the :class:`NenscopeError` message, or the exception type
            and message of anything else.
        traceback: the full traceback (failed).
        worker: ``host:pid`` of the worker process.
    """

    study_id: str
    status: Literal["done", "failed"]
    out_dir: str
    duration_s: float
    findings_json: str | None = None
    radiomics_csv: str | None = None
    error: str | None = None
    traceback: str | None = None
    worker: str | None = None


def _local(path: str | None, dest: Path, auth: PacsAuth | None) -> str | None:
    """``path`` itself, or the folder a ``pacs://`` study was pulled into."""
    if path is None or not is_pacs_uri(path):
        return path
    url, uid = parse_pacs_uri(path)
    return str(Pacs(url, auth).pull_study(uid, dest, modalities=IMAGE_MODALITIES).folder)


def _analyse(entry: CohortEntry, out: Path, auth: PacsAuth | None, radiomics: str | None):
    options = AnalysisOptions(tracer=entry.tracer)
    with staged_input(out, "fdg_dicom") as staging:  # into the result set once it exists
        fdg = _local(entry.fdg_path, staging, auth)
        if is_pacs_uri(entry.path):
            url, uid = parse_pacs_uri(entry.path)
            return analyze_from_pacs(
                url, uid, out, auth=auth, fdg_path=fdg, options=options, radiomics=radiomics
            ).run
        if not Path(entry.path).exists():
            raise NenscopeError(f"{entry.path} does not exist")
        return run_analysis(entry.path, out, fdg_path=fdg, options=options, radiomics=radiomics)


def run_study(
    entry: CohortEntry,
    out_root: str | os.PathLike,
    *,
    auth: PacsAuth | None = None,
    radiomics: str | None = None,
) -> StudyOutcome:
    """Analyse ``entry`` into ``out_root/<study_id>`` (``pacs://`` studies are pulled into its
    ``dicom/`` folder first); ``radiomics`` is an IBSI preset or settings file, or None."""
    t0 = time.perf_counter()
    out = Path(out_root) / entry.study_id
    worker = f"{socket.gethostname()}:{os.getpid()}"
    try:
        result = _analyse(entry, out, auth, radiomics)
        radiomics_file = result.files.get("radiomics")
        return StudyOutcome(
            study_id=entry.study_id,
            status="done",
            out_dir=str(out),
            duration_s=time.perf_counter() - t0,
            findings_json=Path(result.files["findings"]).read_text("utf-8"),
            radiomics_csv=Path(radiomics_file).read_text("utf-8") if radiomics_file else None,
            worker=worker,
        )
    except Exception as exc:  # the task boundary: one study's failure must not stop the cohort
        message = str(exc) if isinstance(exc, NenscopeError) else f"{type(exc).__name__}: {exc}"
        return StudyOutcome(
            study_id=entry.study_id,
            status="failed",
            out_dir=str(out),
            duration_s=time.perf_counter() - t0,
            error=message.strip().splitlines()[0] if message.strip() else type(exc).__name__,
            traceback=traceback.format_exc(),
            worker=worker,
        )
