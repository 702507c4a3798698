"""Reviews: decisions per lesion, added lesions, the impression, and signing.

Every change is refused once the review is signed (:class:`ConflictError`); the signed
:class:`~nenscope.store.models.Report` is written once and never updated. Each change is
recorded in the audit trail with the values before and after.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from nenscope.store import audit
from nenscope.store._upsert import insert_ignore
from nenscope.store.analyses import get_analysis
from nenscope.store.errors import ConflictError, ForbiddenError, NotFoundError
from nenscope.store.models import (
    Analysis,
    AnalysisStatus,
    Decision,
    LesionReview,
    Report,
    Review,
    Role,
    User,
    utcnow,
)

__all__ = ["add_lesion", "decide", "find_review", "get_review", "set_impression", "sign"]


def find_review(session: Session, analysis_id: int) -> Review | None:
    """The review of an analysis, or ``None`` before the first change (nothing is written)."""
    query = select(Review).where(Review.analysis_id == analysis_id)
    return session.scalar(query.options(selectinload(Review.decisions)))


def get_review(session: Session, analysis_id: int, *, lock: bool = False) -> Review:
    """The review of a finished analysis (created empty on first use).

    Raises:
        NotFoundError: no such analysis.
        ConflictError: the analysis has not finished successfully.
    """
    analysis = get_analysis(session, analysis_id)
    if analysis.status != AnalysisStatus.done:
        raise ConflictError(f"analysis {analysis_id} is {analysis.status.value}: nothing to review")
    insert_ignore(session, Review, analysis_id=analysis_id, impression="", signed=False)
    query = select(Review).where(Review.analysis_id == analysis_id)
    if lock:
        query = query.with_for_update()
    query = query.options(selectinload(Review.decisions), selectinload(Review.analysis))
    return session.scalars(query.execution_options(populate_existing=True)).one()


def _open(session: Session, analysis_id: int) -> Review:
    review = get_review(session, analysis_id, lock=True)
    if review.signed:
        raise ConflictError(f"analysis {analysis_id} is signed: its review cannot change")
    return review


def _state(row: LesionReview | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {"decision": row.decision.value, "site": row.site, "physiological": row.physiological}


def decide(
    session: Session,
    analysis_id: int,
    number: int,
    *,
    user: User,
    decision: Decision | str | None = None,
    site: str | None = None,
    physiological: bool | None = None,
) -> LesionReview:
    """Accept or reject automatic lesion ``number`` and/or relabel it (site, physiological).

    Unset arguments keep the current value (an untouched lesion counts as accepted).
    """
    review = _open(session, analysis_id)
    lesion = next((les for les in review.analysis.lesions if les.number == number), None)
    if lesion is None:
        raise NotFoundError(f"analysis {analysis_id} has no automatic lesion {number}")
    decision = None if decision is None else Decision(decision)
    if decision == Decision.added:
        raise ConflictError("'added' is the decision of a lesion added by a seed point")
    row = next((d for d in review.decisions if d.number == number), None)
    before = _state(row)
    if row is None:
        row = LesionReview(
            number=number, lesion_id=lesion.id, decision=Decision.accepted, physiological=False
        )
        review.decisions.append(row)
    if decision is not None:
        row.decision = decision
    if site is not None:
        row.site = site
    if physiological is not None:
        row.physiological = physiological
    row.updated_by, row.updated_at = user.id, utcnow()
    review.updated_by, review.updated_at = user.id, row.updated_at
    audit.record(
        session,
        "review.lesion",
        user=user,
        study_id=review.analysis.study_id,
        analysis_id=analysis_id,
        lesion=number,
        before=before,
        after=_state(row),
    )
    return row


def add_lesion(
    session: Session,
    analysis_id: int,
    *,
    user: User,
    seed_mm: tuple[float, float, float],
    measurement: dict[str, Any],
    site: str | None = None,
) -> LesionReview:
    """Add a lesion the automatic analysis missed (``measurement``: its grown mask's
    numbers and ``voxels``, flat indices on the emission grid); numbered after every other."""
    review = _open(session, analysis_id)
    numbers = [les.number for les in review.analysis.lesions] + [d.number for d in review.decisions]
    number = max(numbers, default=0) + 1
    row = LesionReview(
        number=number,
        decision=Decision.added,
        site=site,
        physiological=False,
        seed_mm={"lps": [float(c) for c in seed_mm]},
        measurement={**measurement, "id": number},
        updated_by=user.id,
        updated_at=utcnow(),
    )
    review.decisions.append(row)
    review.updated_by, review.updated_at = user.id, row.updated_at
    audit.record(
        session,
        "review.add",
        user=user,
        study_id=review.analysis.study_id,
        analysis_id=analysis_id,
        lesion=row.number,
        seed_mm=list(seed_mm),
        volume_ml=measurement.get("volume_ml"),
        suv_max=measurement.get("suv_max"),
    )
    return row


def set_impression(session: Session, analysis_id: int, text: str, *, user: User) -> Review:
    """Replace the impression (free text)."""
    review = _open(session, analysis_id)
    before = review.impression
    review.impression = text
    review.updated_by, review.updated_at = user.id, utcnow()
    audit.record(
        session,
        "review.impression",
        user=user,
        study_id=review.analysis.study_id,
        analysis_id=analysis_id,
        before=before,
        after=text,
    )
    return review


def sign(
    session: Session,
    analysis: Analysis,
    content: str,
    sha256: str,
    *,
    user: User,
    signed_at: datetime,
) -> Report:
    """Freeze the review: store the report text and its hash, signed by ``user`` at
    ``signed_at`` (the time written in ``content``).

    Raises:
        ForbiddenError: the user is not a physician.
        ConflictError: the analysis is signed already.
    """
    if user.role != Role.physician:
        raise ForbiddenError("only a physician signs a report")
    review = _open(session, analysis.id)
    review.signed = True
    report = Report(
        analysis_id=analysis.id,
        content=content,
        sha256=sha256,
        signed_by=user.id,
        signed_at=signed_at,
    )
    session.add(report)
    session.flush()
    audit.record(
        session,
        "report.sign",
        user=user,
        study_id=analysis.study_id,
        analysis_id=analysis.id,
        sha256=sha256,
    )
    return report
