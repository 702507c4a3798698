"""The cohort's results: one SQLite file, one row per study (the results store of the service,
``nenscope.store``, may replace this module; nothing else in the cohort touches SQL).

A row holds the manifest entry, the status (``done`` or ``failed``), the error and traceback
of a failure, the ``findings.json`` text and the ``radiomics.csv`` text of a success, where
the outputs are, how long it took and on which worker. Only the process that runs the cohort
writes (the Dask workers return their results to it), so SQLite's single writer suffices.
"""

from __future__ import annotations

import os
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from nenscope import __version__
from nenscope.cohort.job import StudyOutcome
from nenscope.cohort.manifest import CohortEntry
from nenscope.errors import NenscopeError

SCHEMA_VERSION = 1
COLUMNS = (
    "study_id",
    "status",
    "path",
    "tracer",
    "fdg_path",
    "prior_path",
    "error",
    "traceback",
    "findings_json",
    "radiomics_csv",
    "out_dir",
    "duration_s",
    "worker",
    "finished_at",
    "nenscope_version",
)
_CREATE = f"""
CREATE TABLE IF NOT EXISTS studies (
    study_id TEXT PRIMARY KEY,
    status TEXT NOT NULL CHECK (status IN ('done', 'failed')),
    {", ".join(f"{c} {'REAL' if c == 'duration_s' else 'TEXT'}" for c in COLUMNS[2:])}
)
"""


def sqlite_path(url: str | os.PathLike) -> Path:
    """The file of a ``sqlite:///path`` URL (or a plain path)."""
    text = str(url)
    if "://" not in text:
        return Path(text)
    if text.startswith("sqlite:///"):
        return Path(text.removeprefix("sqlite:///"))
    raise NenscopeError(
        f"--db {text!r}: the cohort store is a SQLite file (sqlite:///path/cohort.sqlite or a "
        "path); other databases come with the results store"
    )


class CohortStore:
    """Open (and create) the store at ``url``; use as a context manager to close it."""

    def __init__(self, url: str | os.PathLike):
        self.path = sqlite_path(url)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(self.path)
            self._db.execute(_CREATE)
            self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        except sqlite3.DatabaseError as exc:
            raise NenscopeError(f"{self.path} is not a cohort store ({exc})") from exc
        self._db.row_factory = sqlite3.Row

    def __enter__(self) -> CohortStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the database file."""
        self._db.close()

    def finished(self, *, include_failed: bool = True) -> set[str]:
        """Study ids already done (and failed, unless ``include_failed`` is False)."""
        statuses = ("done", "failed") if include_failed else ("done",)
        marks = ",".join("?" * len(statuses))
        rows = self._db.execute(f"SELECT study_id FROM studies WHERE status IN ({marks})", statuses)
        return {row[0] for row in rows}

    def record(self, entry: CohortEntry, outcome: StudyOutcome) -> None:
        """Store (or replace) the result of one study, committed at once."""
        values = {
            "study_id": entry.study_id,
            "status": outcome.status,
            "path": entry.path,
            "tracer": entry.tracer,
            "fdg_path": entry.fdg_path,
            "prior_path": entry.prior_path,
            "error": outcome.error,
            "traceback": outcome.traceback,
            "findings_json": outcome.findings_json,
            "radiomics_csv": outcome.radiomics_csv,
            "out_dir": outcome.out_dir,
            "duration_s": outcome.duration_s,
            "worker": outcome.worker,
            "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "nenscope_version": __version__,
        }
        marks = ",".join("?" * len(COLUMNS))
        with self._db:
            self._db.execute(
                f"INSERT OR REPLACE INTO studies ({','.join(COLUMNS)}) VALUES ({marks})",
                [values[c] for c in COLUMNS],
            )

    def studies(self) -> list[dict[str, Any]]:
        """Every row, ordered by study id."""
        rows = self._db.execute(f"SELECT {','.join(COLUMNS)} FROM studies ORDER BY study_id")
        return [dict(row) for row in rows]
