"""The cohort manifest: a CSV file with one study per row.

Columns: ``study_id`` (unique; letters, digits, ``.``, ``_``, ``-``: it names the output
folder), ``path`` (folder or zip of DICOM, relative to the manifest's folder, or a
``pacs://HOST:PORT/ROOT/studies/UID`` address), ``tracer`` (agent, empty: from the header);
optional ``fdg_path`` (the same patient's FDG PET/CT, for NETPET) and ``prior_path`` (the
patient's earlier study; recorded with the results for follow-up comparisons). Other columns
are ignored. A problem with the file itself raises :class:`NenscopeError`; a problem with one
study (missing folder, unreadable DICOM) is that study's failure at run time.
"""

from __future__ import annotations

import csv
import os
import re
from dataclasses import dataclass
from pathlib import Path

from nenscope.errors import NenscopeError
from nenscope.pacs.client import is_pacs_uri

REQUIRED = ("study_id", "path", "tracer")
OPTIONAL = ("fdg_path", "prior_path")
_STUDY_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


@dataclass(frozen=True)
class CohortEntry:
    """One manifest row, paths made absolute (``pacs://`` addresses kept as written)."""

    study_id: str
    path: str
    tracer: str | None = None
    fdg_path: str | None = None
    prior_path: str | None = None


def _resolve(text: str | None, base: Path) -> str | None:
    text = (text or "").strip()
    if not text:
        return None
    if is_pacs_uri(text):
        return text
    path = Path(os.path.expanduser(text))
    return str(path if path.is_absolute() else (base / path).resolve())


def read_manifest(path: str | os.PathLike) -> list[CohortEntry]:
    """The studies of the manifest at ``path``, in file order."""
    manifest = Path(path)
    if not manifest.is_file():
        raise NenscopeError(f"manifest {manifest} does not exist")
    with manifest.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        columns = [c.strip() for c in reader.fieldnames or []]
        missing = [c for c in REQUIRED if c not in columns]
        if missing:
            raise NenscopeError(
                f"manifest {manifest}: missing column(s) {', '.join(missing)}; the header must "
                f"name {', '.join(REQUIRED)} (optional: {', '.join(OPTIONAL)})"
            )
        rows = [{(k or "").strip(): (v or "").strip() for k, v in row.items()} for row in reader]
    entries: list[CohortEntry] = []
    seen: set[str] = set()
    for line, row in enumerate(rows, start=2):
        if not any(row.values()):
            continue
        entry = _entry(row, f"manifest {manifest} line {line}", manifest.parent)
        if entry.study_id in seen:
            raise NenscopeError(
                f"manifest {manifest} line {line}: study_id {entry.study_id!r} repeats"
            )
        seen.add(entry.study_id)
        entries.append(entry)
    if not entries:
        raise NenscopeError(f"manifest {manifest} lists no studies")
    return entries


def _entry(row: dict[str, str], where: str, base: Path) -> CohortEntry:
    """One row as a :class:`CohortEntry`; ``where`` names the file and line in errors."""
    study_id = row["study_id"]
    if not _STUDY_ID.match(study_id):
        raise NenscopeError(
            f"{where}: study_id {study_id!r} must be letters, digits, '.', '_' or '-' "
            "(it names the output folder)"
        )
    if not row["path"]:
        raise NenscopeError(f"{where}: empty path for {study_id}")
    return CohortEntry(
        study_id=study_id,
        path=_resolve(row["path"], base) or "",
        tracer=row.get("tracer") or None,
        fdg_path=_resolve(row.get("fdg_path"), base),
        prior_path=_resolve(row.get("prior_path"), base),
    )
