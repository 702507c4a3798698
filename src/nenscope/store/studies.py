"""Patients, studies, series and dosimetry results."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from nenscope.store._upsert import insert_ignore
from nenscope.store.errors import ConflictError, NotFoundError
from nenscope.store.models import Analysis, DosimetryResult, Patient, Series, Study, User

__all__ = [
    "SeriesRecord",
    "StudyRecord",
    "add_dosimetry",
    "add_study",
    "dosimetry_of",
    "get_study",
    "list_studies",
]


@dataclass(frozen=True)
class SeriesRecord:
    """One series as discovered in the uploaded files."""

    series_instance_uid: str
    modality: str
    kind: str
    description: str | None
    n_instances: int


@dataclass(frozen=True)
class StudyRecord:
    """What an upload holds (read from the DICOM headers)."""

    study_instance_uid: str
    patient_key: str
    patient_name: str | None
    patient_sex: str | None
    study_date: str | None
    description: str | None
    agent: str | None
    modality: str | None
    n_files: int
    size_bytes: int
    series: list[SeriesRecord] = field(default_factory=list)


def _patient(session: Session, record: StudyRecord) -> Patient:
    insert_ignore(
        session,
        Patient,
        patient_key=record.patient_key,
        name=record.patient_name,
        sex=record.patient_sex,
    )
    return session.scalars(select(Patient).where(Patient.patient_key == record.patient_key)).one()


def add_study(session: Session, record: StudyRecord, folder: str, user: User | None) -> Study:
    """Store an uploaded study (its files already in ``folder``, relative to the data dir).

    The patient is found by key or created (concurrent uploads of one patient make one row).

    Raises:
        ConflictError: a study with this StudyInstanceUID is stored already.
    """
    existing = session.scalar(
        select(Study.id).where(Study.study_instance_uid == record.study_instance_uid)
    )
    if existing is not None:
        raise ConflictError(f"this study is stored already (study {existing})")
    study = Study(
        patient=_patient(session, record),
        study_instance_uid=record.study_instance_uid,
        study_date=record.study_date,
        description=record.description,
        agent=record.agent,
        modality=record.modality,
        folder=folder,
        n_files=record.n_files,
        size_bytes=record.size_bytes,
        uploaded_by=None if user is None else user.id,
        series=[
            Series(
                series_instance_uid=s.series_instance_uid,
                modality=s.modality,
                kind=s.kind,
                description=s.description,
                n_instances=s.n_instances,
            )
            for s in record.series
        ],
    )
    session.add(study)
    try:
        session.flush()
    except IntegrityError:
        raise ConflictError("this study is being stored by another upload") from None
    return study


def _loaded():
    return (
        selectinload(Study.patient),
        selectinload(Study.series),
        selectinload(Study.analyses).selectinload(Analysis.report),
    )


def get_study(session: Session, study_id: int) -> Study:
    """The study with its patient, series and analyses (NotFoundError when absent)."""
    study = session.scalar(select(Study).where(Study.id == study_id).options(*_loaded()))
    if study is None:
        raise NotFoundError(f"no study {study_id}")
    return study


def list_studies(session: Session, *, limit: int = 500, offset: int = 0) -> list[Study]:
    """Studies, newest first, with their patient, series and analyses."""
    query = select(Study).options(*_loaded()).order_by(Study.id.desc()).limit(limit).offset(offset)
    return list(session.scalars(query))


def add_dosimetry(
    session: Session, study_id: int, method: str, results: dict[str, Any], user: User | None
) -> DosimetryResult:
    """Store a dosimetry result of a study (``results``: JSON-ready doses, Gy)."""
    get_study(session, study_id)
    row = DosimetryResult(
        study_id=study_id,
        method=method,
        results=results,
        created_by=None if user is None else user.id,
    )
    session.add(row)
    session.flush()
    return row


def dosimetry_of(session: Session, study_id: int) -> list[DosimetryResult]:
    """The dosimetry results of a study, oldest first."""
    query = select(DosimetryResult).where(DosimetryResult.study_id == study_id)
    return list(session.scalars(query.order_by(DosimetryResult.id)))
