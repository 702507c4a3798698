"""From an upload's files to a stored study: read the headers, store, move into place.

The study's files end in ``studies/<random>/`` under the data directory; the database row is
written in the same transaction that moves the folder there, so a failed commit leaves no
orphan folder and a failed move leaves no row.
"""

from __future__ import annotations

import os
from pathlib import Path

from nenscope.service.upload import UploadError
from nenscope.store import Store, audit
from nenscope.store import studies as store_studies
from nenscope.store.models import User

__all__ = ["read_study", "store_study"]

_EMISSION = ("PT", "NM")


def _text(ds, keyword: str, limit: int) -> str | None:
    value = ds.get(keyword)
    text = None if value is None else str(value).strip()
    return text[:limit] if text else None


def read_study(folder: Path, n_files: int, size_bytes: int) -> store_studies.StudyRecord:
    """The study in ``folder`` (headers only) as a record to store.

    Raises:
        UploadError: no PET or SPECT series, or more than one study in the upload.
    """
    from nenscope.imaging import discover
    from nenscope.imaging.summary import summarize_series

    disc = discover(folder)
    emission = disc.of_kind(*_EMISSION)
    if not emission:
        raise UploadError(
            f"no PET or reconstructed SPECT series among the {n_files} file(s) "
            f"({len(disc.skipped_files)} not usable DICOM)"
        )
    uids = {s.study_instance_uid for s in disc.series if s.kind in (*_EMISSION, "CT")}
    uids.discard(None)
    if len(uids) != 1:
        raise UploadError(f"the upload holds {len(uids)} studies: upload one study at a time")
    first = emission[0]
    ds = first.datasets[0]
    summary = summarize_series(first)
    study_uid = next(iter(uids))
    return store_studies.StudyRecord(
        study_instance_uid=study_uid,
        patient_key=_text(ds, "PatientID", 128) or f"unknown:{study_uid}",
        patient_name=_text(ds, "PatientName", 200),
        patient_sex=summary.get("patient_sex"),
        study_date=_text(ds, "StudyDate", 8),
        description=_text(ds, "StudyDescription", 200),
        agent=summary.get("radiopharmaceutical"),
        modality=first.modality,
        n_files=n_files,
        size_bytes=size_bytes,
        series=[
            store_studies.SeriesRecord(
                series_instance_uid=s.series_instance_uid,
                modality=s.modality[:16],
                kind=s.kind,
                description=s.description[:200] if s.description else None,
                n_instances=s.n_instances,
            )
            for s in disc.series
        ],
    )


def store_study(
    store: Store,
    data_dir: Path,
    files: Path,
    record: store_studies.StudyRecord,
    user: User | None,
) -> int:
    """Store ``record`` and move its folder ``files`` to ``studies/<name>``; the study id."""
    folder = f"studies/{files.parent.name}"
    target = data_dir / folder
    target.parent.mkdir(parents=True, exist_ok=True)
    moved = False
    try:
        with store.transaction() as session:
            study = store_studies.add_study(session, record, folder, user)
            audit.record(
                session,
                "study.upload",
                user=user,
                study_id=study.id,
                n_files=record.n_files,
                size_bytes=record.size_bytes,
            )
            os.rename(files, target)
            moved = True
            return study.id
    except BaseException:
        if moved:
            os.rename(target, files)
        raise
