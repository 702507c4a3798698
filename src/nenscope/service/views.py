"""Store records to API bodies (called inside a transaction: relationships load lazily)."""

from __future__ import annotations

import json
from typing import Any

from nenscope.service.reviewing import report_content, reviewed_findings
from nenscope.service.schemas import (
    AnalysisRef,
    ReportOut,
    ReviewedLesionOut,
    ReviewOut,
    SeriesOut,
    StudyOut,
)
from nenscope.store.models import Analysis, Review, Study

__all__ = [
    "analysis_ref",
    "decisions_of",
    "draft_report",
    "review_out",
    "signed_report",
    "study_out",
]


def study_out(study: Study) -> StudyOut:
    """A study with its series and analysis versions."""
    return StudyOut(
        id=study.id,
        patient_key=study.patient.patient_key,
        patient_name=study.patient.name,
        study_instance_uid=study.study_instance_uid,
        study_date=study.study_date,
        description=study.description,
        agent=study.agent,
        modality=study.modality,
        n_files=study.n_files,
        size_bytes=study.size_bytes,
        created_at=study.created_at,
        series=[SeriesOut.model_validate(s) for s in study.series],
        analyses=[
            AnalysisRef(
                id=a.id,
                version=a.version,
                status=a.status.value,
                progress=a.progress,
                created_at=a.created_at,
                signed=a.report is not None,
            )
            for a in study.analyses
        ],
    )


def decisions_of(review: Review | None) -> list[dict[str, Any]]:
    """The review's decisions as plain records (number order)."""
    if review is None:
        return []
    return [
        {
            "number": d.number,
            "decision": d.decision.value,
            "site": d.site,
            "physiological": d.physiological,
            "seed_mm": None if d.seed_mm is None else d.seed_mm["lps"],
            "measurement": d.measurement,
        }
        for d in sorted(review.decisions, key=lambda d: d.number)
    ]


def review_out(analysis: Analysis, review: Review | None) -> ReviewOut:
    """Every lesion with its decision and its record after review (the automatic record
    for removed lesions), and the summaries before and after review."""
    automatic = analysis.findings or {"lesions": [], "summary": {}, "study": {}}
    decisions = decisions_of(review)
    reviewed = reviewed_findings(automatic, decisions)
    after = {les["id"]: les for les in reviewed["lesions"]}
    by_number = {d["number"]: d for d in decisions}
    rows = []
    for les in automatic["lesions"]:
        d = by_number.get(les["id"], {})
        rows.append(
            ReviewedLesionOut(
                number=les["id"],
                source="automatic",
                decision=d.get("decision", "accepted"),
                site=d.get("site") or les["site"],
                physiological=bool(d.get("physiological")),
                lesion=after.get(les["id"], les),
            )
        )
    for d in decisions:
        if d["decision"] == "added":
            record = {k: v for k, v in d["measurement"].items() if k != "voxels"}
            rows.append(
                ReviewedLesionOut(
                    number=d["number"],
                    source="added",
                    decision="added",
                    site=d["site"] or record["site"],
                    physiological=d["physiological"],
                    lesion=after.get(d["number"], record),
                )
            )
    return ReviewOut(
        analysis_id=analysis.id,
        signed=bool(review is not None and review.signed),
        impression="" if review is None else review.impression,
        lesions=rows,
        automatic_summary=automatic["summary"],
        reviewed_summary=reviewed["summary"],
    )


def analysis_ref(analysis: Analysis) -> dict[str, Any]:
    """What the report names: the analysis version and its study."""
    return {
        "id": analysis.id,
        "version": analysis.version,
        "options": analysis.options,
        "study_id": analysis.study_id,
        "study_instance_uid": analysis.study.study_instance_uid,
        "patient_key": analysis.study.patient.patient_key,
        "finished_at": None if analysis.finished_at is None else analysis.finished_at.isoformat(),
    }


def draft_report(analysis: Analysis, review: Review | None) -> ReportOut:
    """The report as it would be signed now."""
    content = report_content(
        analysis=analysis_ref(analysis),
        automatic=analysis.findings or {},
        decisions=decisions_of(review),
        impression="" if review is None else review.impression,
        signed_by=None,
        signed_at=None,
    )
    return ReportOut(
        analysis_id=analysis.id,
        status="draft",
        sha256=None,
        signed_by=None,
        signed_at=None,
        content=content,
        content_text=None,
    )


def signed_report(analysis: Analysis, signer: str) -> ReportOut:
    """The frozen report as stored (``content_text`` is the hashed text)."""
    report = analysis.report
    return ReportOut(
        analysis_id=analysis.id,
        status="signed",
        sha256=report.sha256,
        signed_by=signer,
        signed_at=report.signed_at,
        content=json.loads(report.content),
        content_text=report.content,
    )
