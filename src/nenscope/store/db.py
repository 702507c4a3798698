"""The database connection: SQLite under the data directory by default, PostgreSQL by URL.

:class:`Store` opens the engine, brings the schema to the newest Alembic revision and hands
out transactions: every write happens inside ``with store.transaction() as session:``, which
commits on success and rolls back on any exception. On SQLite each transaction takes the
write lock at its start (``BEGIN IMMEDIATE``, WAL journal, 30 s busy timeout), so concurrent
writers queue instead of failing; PostgreSQL runs at its default READ COMMITTED level with
row locks where a value is read and then written (analysis version numbers, review state).
Statement parameters are never logged nor put into error messages (``hide_parameters``): they
hold patient names.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlalchemy.orm import Session, sessionmaker

from nenscope.errors import NenscopeError

__all__ = ["Store", "default_url", "normalise_url", "upgrade"]

_SQLITE_BUSY_MS = 30_000


def default_url(data_dir: str | os.PathLike) -> str:
    """SQLite database file ``nenscope.db`` in ``data_dir``."""
    return f"sqlite:///{Path(data_dir).resolve() / 'nenscope.db'}"


def normalise_url(url: str) -> str:
    """``postgres://`` and ``postgresql://`` URLs use the psycopg 3 driver; others unchanged."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _sqlite_pragmas(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection, _record) -> None:  # pragma: no cover - driver callback
        dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN itself (below)
        cur = dbapi_connection.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={_SQLITE_BUSY_MS}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn) -> None:  # pragma: no cover - driver callback
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def _engine(url: str) -> Engine:
    try:
        parsed = make_url(normalise_url(url))
    except ArgumentError as exc:
        raise NenscopeError(f"--db {url!r} is not a database URL: {exc}") from None
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            parsed, connect_args={"check_same_thread": False}, hide_parameters=True
        )
        _sqlite_pragmas(engine)
        return engine
    if parsed.get_backend_name() != "postgresql":
        raise NenscopeError(
            f"--db {parsed.get_backend_name()!r}: nenscope stores results in SQLite or PostgreSQL"
        )
    try:
        return create_engine(
            parsed, pool_pre_ping=True, pool_size=10, max_overflow=20, hide_parameters=True
        )
    except (NoSuchModuleError, ModuleNotFoundError):
        raise NenscopeError(
            "PostgreSQL needs the psycopg driver: pip install 'nenscope[postgres]'"
        ) from None


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision`` with the migrations shipped in this package."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("nenscope.store") / "migrations"))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


class Store:
    """A results database (``url``: any SQLAlchemy URL of SQLite or PostgreSQL).

    The schema is migrated to the newest revision on opening (``migrate=False`` skips it).
    """

    def __init__(self, url: str, *, migrate: bool = True):
        self.url = normalise_url(url)
        self.engine = _engine(self.url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        if migrate:
            upgrade(self.engine)

    @property
    def backend(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self.engine.dialect.name

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session in one transaction: committed at the end, rolled back on an exception."""
        with self._sessions.begin() as session:
            yield session

    def close(self) -> None:
        """Release every pooled connection."""
        self.engine.dispose()
