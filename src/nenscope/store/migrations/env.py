"""Alembic environment of the nenscope store (run by :func:`nenscope.store.db.upgrade`, or by
``alembic -x url=sqlite:///path/nenscope.db revision --autogenerate`` during development)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from nenscope.store.models import Base

config = context.config
connection = config.attributes.get("connection")


def _run(conn) -> None:
    context.configure(
        connection=conn,
        target_metadata=Base.metadata,
        render_as_batch=conn.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if connection is not None:
    _run(connection)
else:  # command-line use: the URL comes from ``-x url=...``
    url = context.get_x_argument(as_dictionary=True)["url"]
    with create_engine(url).begin() as conn:
        _run(conn)
