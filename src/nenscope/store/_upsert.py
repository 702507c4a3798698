"""``INSERT ... ON CONFLICT DO NOTHING`` on SQLite and PostgreSQL (get-or-create races)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

__all__ = ["insert_ignore"]


def insert_ignore(session: Session, model: type, **values: Any) -> None:
    """Insert a row unless one with the same unique key exists (no error, no duplicate)."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    session.execute(dialect.insert(model).values(**values).on_conflict_do_nothing())
