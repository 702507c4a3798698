"""SQLAlchemy 2 models of the results store (one table per record kind).

Patients own studies (the uploaded DICOM, kept under the data directory); a study has series
and analysis versions; an analysis keeps its automatic findings and lesions, one review (the
physician's decisions per lesion, added lesions, the impression) and, once signed, one frozen
report with its SHA-256. Every change by a user is an :class:`AuditEvent`. Times are UTC.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

__all__ = [
    "AnalysisStatus",
    "Analysis",
    "AuditEvent",
    "Base",
    "Decision",
    "DosimetryResult",
    "Lesion",
    "LesionReview",
    "Patient",
    "Report",
    "Review",
    "Role",
    "Series",
    "Study",
    "User",
    "utcnow",
]


def utcnow() -> datetime:
    """The current time in UTC (every timestamp of the store)."""
    return datetime.now(UTC)


class Role(enum.StrEnum):
    """What a user may do: technologists upload and analyse, physicians also review and
    sign, admins manage users (and may do what technologists do)."""

    technologist = "technologist"
    physician = "physician"
    admin = "admin"


class AnalysisStatus(enum.StrEnum):
    """Life cycle of an analysis job."""

    queued = "queued"
    running = "running"
    done = "done"
    failed = "failed"


class Decision(enum.StrEnum):
    """A physician's decision on one lesion."""

    accepted = "accepted"
    rejected = "rejected"
    added = "added"


def _enum(cls: type[enum.Enum]) -> Enum:
    return Enum(
        cls,
        native_enum=False,
        create_constraint=True,
        length=20,
        name=f"{cls.__name__.lower()}_enum",
        values_callable=lambda e: [m.value for m in e],
    )


class Base(DeclarativeBase):
    """Declarative base; ``Base.metadata`` is what the migrations create."""

    type_annotation_map = {dict[str, Any]: JSON, datetime: DateTime(timezone=True)}


class User(Base):
    """A person with a bearer token (only its SHA-256 is stored)."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    role: Mapped[Role] = mapped_column(_enum(Role))
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Patient(Base):
    """A patient, keyed by the DICOM PatientID (the name is shown, never logged)."""

    __tablename__ = "patients"
    id: Mapped[int] = mapped_column(primary_key=True)
    patient_key: Mapped[str] = mapped_column(String(128), unique=True)
    name: Mapped[str | None] = mapped_column(String(200))
    sex: Mapped[str | None] = mapped_column(String(4))
    studies: Mapped[list[Study]] = relationship(back_populates="patient")


class Study(Base):
    """One uploaded study (its DICOM files under ``folder``, relative to the data directory)."""

    __tablename__ = "studies"
    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    study_instance_uid: Mapped[str] = mapped_column(String(64), unique=True)
    study_date: Mapped[str | None] = mapped_column(String(8))
    description: Mapped[str | None] = mapped_column(String(200))
    agent: Mapped[str | None] = mapped_column(String(40))
    modality: Mapped[str | None] = mapped_column(String(8))
    folder: Mapped[str] = mapped_column(String(200), unique=True)
    n_files: Mapped[int] = mapped_column(Integer)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    uploaded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    patient: Mapped[Patient] = relationship(back_populates="studies")
    series: Mapped[list[Series]] = relationship(
        back_populates="study", order_by="Series.id", cascade="all, delete-orphan"
    )
    analyses: Mapped[list[Analysis]] = relationship(
        back_populates="study", order_by="Analysis.version"
    )


class Series(Base):
    """One DICOM series of a study."""

    __tablename__ = "series"
    __table_args__ = (UniqueConstraint("study_id", "series_instance_uid"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id"), index=True)
    series_instance_uid: Mapped[str] = mapped_column(String(64))
    modality: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16))
    description: Mapped[str | None] = mapped_column(String(200))
    n_instances: Mapped[int] = mapped_column(Integer)
    study: Mapped[Study] = relationship(back_populates="series")


class Analysis(Base):
    """One analysis version of a study: options, job state, outputs and automatic findings."""

    __tablename__ = "analyses"
    __table_args__ = (UniqueConstraint("study_id", "version"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[AnalysisStatus] = mapped_column(_enum(AnalysisStatus), index=True)
    stage: Mapped[str | None] = mapped_column(String(32))
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    error: Mapped[str | None] = mapped_column(Text)
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)
    folder: Mapped[str] = mapped_column(String(200), unique=True)
    findings: Mapped[dict[str, Any] | None] = mapped_column()
    requested_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()
    study: Mapped[Study] = relationship(back_populates="analyses")
    lesions: Mapped[list[Lesion]] = relationship(
        back_populates="analysis", order_by="Lesion.number", cascade="all, delete-orphan"
    )
    review: Mapped[Review | None] = relationship(back_populates="analysis")
    report: Mapped[Report | None] = relationship(back_populates="analysis")


class Lesion(Base):
    """One automatically found lesion (``number`` = its id in findings.json and its value in
    the label map); the headline numbers are columns, the whole record is ``data``."""

    __tablename__ = "lesions"
    __table_args__ = (UniqueConstraint("analysis_id", "number"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    analysis_id: Mapped[int] = mapped_column(ForeignKey("analyses.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    site: Mapped[str] = mapped_column(String(60))
    center_x_mm: Mapped[float] = mapped_column(Float)
    center_y_mm: Mapped[float] = mapped_column(Float)
    center_z_mm: Mapped[float] = mapped_column(Float)
    volume_ml: Mapped[float] = mapped_column(Float)
    suv_max: Mapped[float] = mapped_column(Float)
    krenning: Mapped[int | None] = mapped_column(Integer)
    data: Mapped[dict[str, Any]] = mapped_column()
    analysis: Mapped[Analysis] = relationship(back_populates="lesions")


class Review(Base):
    """The physician's review of one analysis version (open until signed)."""

    __tablename__ = "reviews"
    id: Mapped[int] = mapped_column(primary_key=True)
    analysis_id: Mapped[int] = mapped_column(ForeignKey("analyses.id"), unique=True)
    impression: Mapped[str] = mapped_column(Text, default="")
    signed: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    analysis: Mapped[Analysis] = relationship(back_populates="review")
    decisions: Mapped[list[LesionReview]] = relationship(
        back_populates="review", order_by="LesionReview.number", cascade="all, delete-orphan"
    )


class LesionReview(Base):
    """A decision on an automatic lesion (``lesion_id`` set) or a lesion the physician added
    (``lesion_id`` empty: seed point, grown mask as flat voxel indices, measurements)."""

    __tablename__ = "lesion_reviews"
    __table_args__ = (UniqueConstraint("review_id", "number"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("reviews.id"), index=True)
    lesion_id: Mapped[int | None] = mapped_column(ForeignKey("lesions.id"))
    number: Mapped[int] = mapped_column(Integer)
    decision: Mapped[Decision] = mapped_column(_enum(Decision))
    site: Mapped[str | None] = mapped_column(String(60))
    physiological: Mapped[bool] = mapped_column(Boolean, default=False)
    seed_mm: Mapped[dict[str, Any] | None] = mapped_column()
    measurement: Mapped[dict[str, Any] | None] = mapped_column()
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    review: Mapped[Review] = relationship(back_populates="decisions")


class Report(Base):
    """The signed, frozen report: ``content`` is the exact text hashed by ``sha256``."""

    __tablename__ = "reports"
    id: Mapped[int] = mapped_column(primary_key=True)
    analysis_id: Mapped[int] = mapped_column(ForeignKey("analyses.id"), unique=True)
    content: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    signed_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    signed_at: Mapped[datetime] = mapped_column(default=utcnow)
    analysis: Mapped[Analysis] = relationship(back_populates="report")


class DosimetryResult(Base):
    """A dosimetry result of a study (organ and lesion doses as the dosimetry job wrote them)."""

    __tablename__ = "dosimetry"
    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id"), index=True)
    method: Mapped[str] = mapped_column(String(40))
    results: Mapped[dict[str, Any]] = mapped_column()
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditEvent(Base):
    """Who did what and when; ``detail`` holds the before/after values (never a name)."""

    __tablename__ = "audit_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(40))
    study_id: Mapped[int | None] = mapped_column(ForeignKey("studies.id"), index=True)
    analysis_id: Mapped[int | None] = mapped_column(ForeignKey("analyses.id"), index=True)
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
