"""Background analysis jobs: the CLI's job code (``run_analysis``) on a thread pool.

This is the only module of the service that calls the analysis job. A job reads the study's
DICOM files from the data directory, writes every output of ``nenscope analyze`` into the
analysis version's own folder (so a re-run never overwrites an earlier version) and stores
the findings and lesions in one transaction. Progress is stored per stage. A job that was
running when the server died is marked failed at the next start (:func:`JobRunner.recover`)
and can be run again as a new version; queued jobs are queued again.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from nenscope.errors import NenscopeError
from nenscope.jobs.analyze import run_analysis
from nenscope.service.logs import log, log_failure
from nenscope.store import Store
from nenscope.store import analyses as store_analyses

__all__ = ["JobRunner", "OPTION_KEYS", "OVERRIDE_KEYS", "split_options"]

#: Fraction of the job done when each stage of ``run_analysis`` starts.
STAGE_PROGRESS = {"load": 0.05, "analyse": 0.2, "write": 0.7, "radiomics": 0.75, "report": 0.85}
#: Request keys that are :class:`~nenscope.analysis.AnalysisOptions` fields.
OPTION_KEYS = ("tracer", "threshold_method", "min_volume_ml")
#: Request keys that override SUV header values.
OVERRIDE_KEYS = ("weight_kg", "height_cm", "injected_mbq", "injection_time")


def split_options(options: dict[str, Any]) -> tuple[Any, dict[str, Any] | None]:
    """(AnalysisOptions, SUV overrides or None) from a stored analysis request."""
    from nenscope.analysis import AnalysisOptions

    kwargs = {k: options[k] for k in OPTION_KEYS if options.get(k) is not None}
    overrides = {k: options[k] for k in OVERRIDE_KEYS if options.get(k) is not None}
    return AnalysisOptions(**kwargs), overrides or None


class JobRunner:
    """Runs analysis jobs on ``workers`` threads against ``store``; files under ``data_dir``."""

    def __init__(self, store: Store, data_dir: Path, workers: int = 1):
        self.store = store
        self.data_dir = Path(data_dir)
        self._pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="job")

    def submit(self, analysis_id: int) -> Future:
        """Queue the job of a (queued) analysis."""
        return self._pool.submit(self._run, analysis_id)

    def call(self, fn: Callable[[], Any]) -> Future:
        """Run another background task (the demo loader) on the job threads."""
        return self._pool.submit(fn)

    def recover(self) -> list[int]:
        """Fail the jobs cut off by a stop, queue the queued ones again; the failed ids."""
        with self.store.transaction() as session:
            failed, queued = store_analyses.recover(session)
        for analysis_id in failed:
            log.warning(
                "analysis %d was running when the server stopped: marked failed", analysis_id
            )
        for analysis_id in queued:
            self.submit(analysis_id)
        return failed

    def shutdown(self) -> None:
        """Finish the running jobs, drop the queue (queued jobs stay queued in the store)."""
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _progress(self, analysis_id: int) -> Callable[[str], None]:
        def say(stage: str) -> None:
            with self.store.transaction() as session:
                store_analyses.set_progress(
                    session, analysis_id, stage, STAGE_PROGRESS.get(stage, 0.0)
                )

        return say

    def _run(self, analysis_id: int) -> None:
        with self.store.transaction() as session:
            analysis = store_analyses.start(session, analysis_id)
            if analysis is None:
                return
            study_dir = self.data_dir / analysis.study.folder
            out_dir = self.data_dir / analysis.folder
            options, overrides = split_options(analysis.options)
        log.info("analysis %d started", analysis_id)
        t0 = time.perf_counter()
        try:
            result = run_analysis(
                study_dir,
                out_dir,
                options=options,
                overrides=overrides,
                progress=self._progress(analysis_id),
            )
            # findings.json as the CLI wrote it (JSON-ready: dates and NumPy values converted)
            findings = json.loads(result.files["findings"].read_text("utf-8"))
            with self.store.transaction() as session:
                store_analyses.finish(session, analysis_id, findings)
        except NenscopeError as exc:
            self._fail(analysis_id, str(exc))
            log.info("analysis %d failed: bad input", analysis_id)
            return
        except Exception as exc:
            log_failure(f"analysis {analysis_id}", exc)
            self._fail(analysis_id, f"internal error ({type(exc).__name__}); see the server log")
            return
        log.info(
            "analysis %d done: %d lesion(s) in %.1f s",
            analysis_id,
            len(findings["lesions"]),
            time.perf_counter() - t0,
        )

    def _fail(self, analysis_id: int, message: str) -> None:
        with self.store.transaction() as session:
            store_analyses.fail(session, analysis_id, message)
