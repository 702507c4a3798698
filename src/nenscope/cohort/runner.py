"""Run a cohort on Dask distributed: one task per study, results into the cohort store.

On this machine (a ``LocalCluster`` of ``workers`` single-threaded processes) or on an
existing cluster (``scheduler="tcp://host:8786"``; its workers must see the study paths and
the output folder, and have nenscope installed). Studies already in the store are skipped, so
a re-run after an interruption picks up where it stopped; failed studies are tried again only
with ``retry_failed``.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from nenscope.cohort.job import StudyOutcome, run_study
from nenscope.cohort.manifest import CohortEntry, read_manifest
from nenscope.cohort.store import CohortStore
from nenscope.errors import NenscopeError
from nenscope.pacs.session import PacsAuth

DEFAULT_OUT = Path("out") / "cohort"
DB_NAME = "cohort.sqlite"
SCHEDULER_TIMEOUT_S = 20.0  # to connect to an existing scheduler
# One core per local worker: Dask's nanny already pins OpenMP/MKL/OpenBLAS to one thread;
# ITK (SimpleITK resampling and registration) and Numba would otherwise start a thread per CPU
# in every worker, and two workers on two cores would fight over them; so would nenscope's own
# threads for reading and resampling (nenscope.parallel).
SINGLE_THREAD_ENV = {
    "ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS": "1",
    "NUMBA_NUM_THREADS": "1",
    "NENSCOPE_THREADS": "1",
}


class CohortProgress(Protocol):
    """What the runner reports while it works (the CLI draws a Rich progress bar)."""

    def start(self, total: int, skipped: int, workers: int) -> None:
        """``total`` studies to run, ``skipped`` already in the store, on ``workers``."""

    def advance(self, outcome: StudyOutcome) -> None:
        """One study finished (done or failed)."""


@dataclass
class CohortRun:
    """The outcome of :func:`run_cohort`.

    Attributes:
        db: the store's file.
        skipped: study ids already in the store (not run again).
        done: study ids analysed in this run.
        failed: study id -> error, for this run's failures.
        workers: Dask workers used (0 when nothing was left to run).
        elapsed_s: wall time of the Dask part, in s.
    """

    db: Path
    skipped: list[str] = field(default_factory=list)
    done: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    workers: int = 0
    elapsed_s: float = 0.0


@contextmanager
def dask_client(workers: int | None, scheduler: str | None) -> Iterator[object]:
    """A ``distributed.Client`` on a new LocalCluster of ``workers`` single-threaded processes,
    or on the existing ``scheduler``; closed (and the local cluster stopped) on exit."""
    from distributed import Client, LocalCluster

    if scheduler:
        try:
            client = Client(scheduler, timeout=f"{SCHEDULER_TIMEOUT_S}s")
        except (OSError, TimeoutError) as exc:
            raise NenscopeError(
                f"cannot reach the Dask scheduler at {scheduler}: start one (`dask scheduler` and "
                f"`dask worker {scheduler}`) or check --scheduler ({exc})"
            ) from exc
        with client:
            yield client
        return
    n = workers or os.cpu_count() or 1
    with (
        LocalCluster(
            n_workers=n,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address="127.0.0.1:0",  # its HTTP routes on a free port, never 8787
            silence_logs=logging.ERROR,
            env=SINGLE_THREAD_ENV,
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


def _outcome(future, entry: CohortEntry, out_root: Path) -> StudyOutcome:
    """The task's result, or a failed outcome when the task itself died (worker lost)."""
    try:
        return future.result()
    except Exception as exc:  # KilledWorker, CancelledError, an unpicklable result...
        return StudyOutcome(
            study_id=entry.study_id,
            status="failed",
            out_dir=str(out_root / entry.study_id),
            duration_s=0.0,
            error=f"task lost: {type(exc).__name__}: {exc}",
        )


def run_cohort(
    manifest: str | os.PathLike,
    *,
    out_dir: str | os.PathLike = DEFAULT_OUT,
    db: str | os.PathLike | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    radiomics: str | None = None,
    retry_failed: bool = False,
    auth: PacsAuth | None = None,
    progress: CohortProgress | None = None,
) -> CohortRun:
    """Analyse every study of ``manifest`` not yet in the store ``db`` (default
    ``out_dir/cohort.sqlite``), one Dask task each; returns what was done.

    ``workers`` sizes the local cluster (default: one per CPU, at most one per study);
    ``scheduler`` uses an existing cluster instead. ``auth`` is sent to the workers for
    ``pacs://`` studies.
    """
    if workers is not None and scheduler:
        raise NenscopeError("--workers sizes a local cluster: leave it out with --scheduler")
    if workers is not None and workers < 1:
        raise NenscopeError(f"--workers {workers}: give at least 1")
    entries = read_manifest(manifest)
    out_root = Path(out_dir).resolve()
    with CohortStore(db or out_root / DB_NAME) as store:
        finished = store.finished(include_failed=not retry_failed)
        pending = [e for e in entries if e.study_id not in finished]
        run = CohortRun(
            db=store.path, skipped=[e.study_id for e in entries if e.study_id in finished]
        )
        if not pending:
            if progress is not None:
                progress.start(0, len(run.skipped), 0)
            return run
        t0 = time.perf_counter()
        n_local = None if scheduler else min(workers or os.cpu_count() or 1, len(pending))
        with dask_client(n_local, scheduler) as client:
            run.workers = _wait_for_workers(client, scheduler)
            if progress is not None:
                progress.start(len(pending), len(run.skipped), run.workers)
            _submit_and_collect(client, pending, out_root, store, run, auth, radiomics, progress)
        run.elapsed_s = time.perf_counter() - t0
    return run


def _wait_for_workers(client, scheduler: str | None, timeout_s: float = 30.0) -> int:
    """The number of workers, after waiting up to ``timeout_s`` for a first one."""
    try:
        client.wait_for_workers(1, timeout=timeout_s)
    except TimeoutError as exc:
        raise NenscopeError(
            f"the Dask scheduler at {scheduler or 'the local cluster'} has no worker after "
            f"{timeout_s:g} s: start one with `dask worker {scheduler or ''}`"
        ) from exc
    return len(client.nthreads())


def _submit_and_collect(client, pending, out_root, store, run, auth, radiomics, progress) -> None:
    from distributed import as_completed

    futures = {
        client.submit(
            run_study, entry, str(out_root), auth=auth, radiomics=radiomics, pure=False
        ): entry
        for entry in pending
    }
    for future in as_completed(futures):
        entry = futures[future]
        outcome = _outcome(future, entry, out_root)
        store.record(entry, outcome)
        if outcome.status == "done":
            run.done.append(entry.study_id)
        else:
            run.failed[entry.study_id] = outcome.error or "unknown error"
        if progress is not None:
            progress.advance(outcome)
