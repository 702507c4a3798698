"""Analysis versions and their job state.

A new analysis of a study gets the next version number (the study row is locked while it is
read, so concurrent requests get distinct versions); nothing of an older version changes.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from nenscope.store.errors import ConflictError, NotFoundError
from nenscope.store.models import Analysis, AnalysisStatus, Lesion, Study, User, utcnow

__all__ = [
    "INTERRUPTED",
    "fail",
    "finish",
    "get_analysis",
    "new_analysis",
    "recover",
    "set_progress",
    "start",
]

#: Error of a job that was running when the server stopped.
INTERRUPTED = "interrupted: the server stopped during this analysis; run the analysis again"


def get_analysis(session: Session, analysis_id: int, *, lock: bool = False) -> Analysis:
    """The analysis with its study and lesions (``lock``: row lock until the transaction ends).

    Raises:
        NotFoundError: no such analysis.
    """
    query = select(Analysis).where(Analysis.id == analysis_id)
    if lock:
        query = query.with_for_update()
    analysis = session.scalar(
        query.options(selectinload(Analysis.lesions), selectinload(Analysis.study))
    )
    if analysis is None:
        raise NotFoundError(f"no analysis {analysis_id}")
    return analysis


def new_analysis(
    session: Session, study_id: int, options: dict[str, Any], user: User | None
) -> Analysis:
    """Queue a new analysis version of a study (its outputs go to ``analysis.folder``)."""
    study = session.scalar(select(Study).where(Study.id == study_id).with_for_update())
    if study is None:
        raise NotFoundError(f"no study {study_id}")
    last = session.scalar(select(func.max(Analysis.version)).where(Analysis.study_id == study_id))
    version = (last or 0) + 1
    analysis = Analysis(
        study_id=study_id,
        version=version,
        status=AnalysisStatus.queued,
        progress=0.0,
        options=options,
        folder=f"analyses/study-{study_id}/v{version}",
        requested_by=None if user is None else user.id,
    )
    session.add(analysis)
    session.flush()
    return analysis


def start(session: Session, analysis_id: int) -> Analysis | None:
    """Mark a queued analysis running; ``None`` if it is not queued (taken or finished)."""
    analysis = get_analysis(session, analysis_id, lock=True)
    if analysis.status != AnalysisStatus.queued:
        return None
    analysis.status = AnalysisStatus.running
    analysis.started_at = utcnow()
    return analysis


def set_progress(session: Session, analysis_id: int, stage: str, progress: float) -> None:
    """Record the stage a running job has reached (``progress`` 0-1)."""
    analysis = get_analysis(session, analysis_id)
    analysis.stage = stage
    analysis.progress = max(0.0, min(1.0, float(progress)))


def finish(session: Session, analysis_id: int, findings: dict[str, Any]) -> Analysis:
    """Store the findings and their lesions; the job is done.

    Raises:
        ConflictError: the analysis is not running (it was failed by a restart meanwhile).
    """
    analysis = get_analysis(session, analysis_id, lock=True)
    if analysis.status != AnalysisStatus.running:
        raise ConflictError(f"analysis {analysis_id} is {analysis.status.value}, not running")
    analysis.findings = findings
    for les in findings.get("lesions", []):
        x, y, z = les["center_mm"]
        analysis.lesions.append(
            Lesion(
                number=int(les["id"]),
                site=str(les["site"]),
                center_x_mm=float(x),
                center_y_mm=float(y),
                center_z_mm=float(z),
                volume_ml=float(les["volume_ml"]),
                suv_max=float(les["suv_max"]),
                krenning=les.get("krenning"),
                data=les,
            )
        )
    analysis.status = AnalysisStatus.done
    analysis.stage = "done"
    analysis.progress = 1.0
    analysis.finished_at = utcnow()
    return analysis


def fail(session: Session, analysis_id: int, message: str) -> None:
    """Mark a job failed with a message for the user (it may be run again as a new version)."""
    analysis = get_analysis(session, analysis_id, lock=True)
    analysis.status = AnalysisStatus.failed
    analysis.error = message
    analysis.finished_at = utcnow()


def recover(session: Session) -> tuple[list[int], list[int]]:
    """After a restart: fail the jobs that were running; return (failed ids, queued ids).

    One server process per database runs jobs, so a job still marked running was cut off.
    """
    running = list(
        session.scalars(
            select(Analysis).where(Analysis.status == AnalysisStatus.running).with_for_update()
        )
    )
    for analysis in running:
        analysis.status = AnalysisStatus.failed
        analysis.error = INTERRUPTED
        analysis.finished_at = utcnow()
    queued = session.scalars(
        select(Analysis.id).where(Analysis.status == AnalysisStatus.queued).order_by(Analysis.id)
    )
    return [a.id for a in running], list(queued)
