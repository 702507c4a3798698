"""Request and response bodies of the API (pydantic; they make the OpenAPI schema)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import Path
from pydantic import BaseModel, ConfigDict, Field

from nenscope.knowledge import list_scenarios

__all__ = [
    "PathId",
    "AddLesionIn",
    "AnalysisIn",
    "AnalysisOut",
    "AnalysisRef",
    "AuditEventOut",
    "HealthOut",
    "ImpressionIn",
    "LesionDecisionIn",
    "ProtocolIn",
    "ProtocolOut",
    "ReportOut",
    "ReviewOut",
    "ReviewedLesionOut",
    "SeriesOut",
    "StudyOut",
    "UserOut",
]

Role = Literal["technologist", "physician", "admin"]
Status = Literal["queued", "running", "done", "failed"]
Scenario = Literal[tuple(name for name, _ in list_scenarios())]  # type: ignore[valid-type]
#: A record id or lesion number in a path (a 32-bit integer, as the store's keys).
PathId = Annotated[int, Path(ge=1, le=2**31 - 1)]


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class HealthOut(BaseModel):
    status: Literal["ok"]
    version: str


class UserOut(_Out):
    id: int
    name: str
    role: Role


class SeriesOut(_Out):
    series_instance_uid: str
    modality: str
    kind: str
    description: str | None
    n_instances: int


class AnalysisRef(_Out):
    id: int
    version: int
    status: Status
    progress: float
    created_at: datetime
    signed: bool = Field(description="a signed report exists for this version")


class StudyOut(BaseModel):
    id: int
    patient_key: str = Field(description="DICOM PatientID")
    patient_name: str | None
    study_instance_uid: str
    study_date: str | None
    description: str | None
    agent: str | None
    modality: str | None
    n_files: int
    size_bytes: int
    created_at: datetime
    series: list[SeriesOut]
    analyses: list[AnalysisRef]


class AnalysisIn(BaseModel):
    """Options of an analysis (all optional: the study's headers and the agent's defaults)."""

    model_config = ConfigDict(extra="forbid")
    tracer: str | None = Field(None, max_length=40, description="agent, e.g. 68Ga-DOTATATE")
    threshold_method: Literal["liver", "percist", "suvmax_percent", "fixed"] | None = None
    min_volume_ml: float = Field(0.3, ge=0.0, le=1000.0)
    weight_kg: float | None = Field(None, gt=0.0, le=350.0)
    height_cm: float | None = Field(None, ge=40.0, le=250.0)
    injected_mbq: float | None = Field(None, gt=0.0, le=50_000.0)
    injection_time: str | None = Field(
        None, max_length=32, description="HH:MM[:SS] or YYYY-MM-DDTHH:MM"
    )


class AnalysisOut(_Out):
    id: int
    study_id: int
    version: int
    status: Status
    stage: str | None
    progress: float = Field(description="0-1")
    error: str | None
    options: dict[str, Any]
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    findings: dict[str, Any] | None = Field(description="findings.json of the automatic analysis")


class LesionDecisionIn(BaseModel):
    """A decision on an automatic lesion; unset fields keep their value."""

    model_config = ConfigDict(extra="forbid")
    decision: Literal["accepted", "rejected"] | None = None
    site: str | None = Field(None, min_length=1, max_length=60)
    physiological: bool | None = None


class AddLesionIn(BaseModel):
    """A missed lesion, by a point in it (DICOM patient coordinates LPS, mm)."""

    model_config = ConfigDict(extra="forbid")
    seed_mm: tuple[float, float, float]
    site: str | None = Field(None, min_length=1, max_length=60)


class ImpressionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(max_length=20_000)


class ReviewedLesionOut(BaseModel):
    number: int
    source: Literal["automatic", "added"]
    decision: Literal["accepted", "rejected", "added"]
    site: str
    physiological: bool
    lesion: dict[str, Any] = Field(description="the lesion's record (automatic or as added)")


class ReviewOut(BaseModel):
    analysis_id: int
    signed: bool
    impression: str
    lesions: list[ReviewedLesionOut]
    automatic_summary: dict[str, Any]
    reviewed_summary: dict[str, Any]


class ReportOut(BaseModel):
    analysis_id: int
    status: Literal["draft", "signed"]
    sha256: str | None = Field(description="SHA-256 of the signed content text")
    signed_by: str | None
    signed_at: datetime | None
    content: dict[str, Any]
    content_text: str | None = Field(description="the exact signed text the hash covers")


class AuditEventOut(BaseModel):
    id: int
    at: datetime
    user: str | None
    action: str
    study_id: int | None
    analysis_id: int | None
    detail: dict[str, Any]


class ProtocolIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    scenario: Scenario = Field(description="clinical scenario (``nenscope protocol --list``)")
    weight_kg: float = Field(gt=0.0, le=350.0)
    height_cm: float | None = Field(None, ge=40.0, le=250.0)
    sex: Literal["F", "M"] | None = None
    age_years: float | None = Field(None, ge=0.0, le=120.0)
    jurisdiction: Literal["us", "eu"] | None = None
    genotype: str | None = Field(None, max_length=32, description="e.g. SDHB, RET, sporadic")
    site: Literal["adrenal", "head-neck", "extra-adrenal", "metastatic"] | None = None
    doubling_time_months: float | None = Field(None, gt=0.0, le=1200.0)


class RecommendationOut(BaseModel):
    rank: int
    agent: str
    radionuclide: str
    modality: str
    status: str
    status_source: str
    activity_mbq: float | None
    activity_method: str
    uptake_min: int
    scan_h: float
    imaging_times_h: list[float]
    effective_dose_msv: float | None
    dose_method: str
    rationale: str
    evidence: list[str]


class GuidanceOut(BaseModel):
    text: str
    source: str
    interrupt_h: float | None = None


class InterferingDrugOut(BaseModel):
    drug: str
    advice: str
    source: str


class ProtocolOut(BaseModel):
    scenario: str
    title: str
    branch: str | None
    branch_source: str | None
    patient: dict[str, Any]
    inputs: dict[str, Any]
    jurisdiction: str | None
    recommendations: list[RecommendationOut]
    preparation: list[GuidanceOut]
    pregnancy: GuidanceOut
    breastfeeding: GuidanceOut
    interfering_drugs: list[InterferingDrugOut]
    cautions: list[str]
