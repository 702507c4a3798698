"""The audit trail: one row per change, with who, when and the values before and after."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from nenscope.store.models import AuditEvent, User

__all__ = ["events", "record"]


def record(
    session: Session,
    action: str,
    *,
    user: User | None,
    study_id: int | None = None,
    analysis_id: int | None = None,
    **detail: Any,
) -> AuditEvent:
    """Append an event (``detail``: JSON-ready values; never a patient name)."""
    event = AuditEvent(
        action=action,
        user_id=None if user is None else user.id,
        study_id=study_id,
        analysis_id=analysis_id,
        detail=detail,
    )
    session.add(event)
    return event


def events(
    session: Session, *, analysis_id: int | None = None, study_id: int | None = None
) -> list[tuple[AuditEvent, str | None]]:
    """Events (oldest first) with the user's name, filtered by analysis or study."""
    query = select(AuditEvent, User.name).outerjoin(User, AuditEvent.user_id == User.id)
    if analysis_id is not None:
        query = query.where(AuditEvent.analysis_id == analysis_id)
    if study_id is not None:
        query = query.where(AuditEvent.study_id == study_id)
    return [(ev, name) for ev, name in session.execute(query.order_by(AuditEvent.id))]
