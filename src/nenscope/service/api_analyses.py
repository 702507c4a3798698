"""Routes: analysis jobs, their findings, reports and the viewer's volumes."""

from __future__ import annotations

from typing import Literal

import numpy as np
from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import FileResponse, HTMLResponse, Response

from nenscope.service.auth import current_user
from nenscope.service.images import (
    automatic_labels,
    labels_nifti,
    reviewed_labels,
    study_volume,
)
from nenscope.service.logs import log
from nenscope.service.responses import errors
from nenscope.service.reviewing import removed_and_added
from nenscope.service.runner import split_options
from nenscope.service.schemas import AnalysisIn, AnalysisOut, AuditEventOut, PathId, ReportOut
from nenscope.service.views import decisions_of, draft_report, signed_report
from nenscope.store import ConflictError, audit
from nenscope.store import analyses as store_analyses
from nenscope.store import reviews as store_reviews
from nenscope.store.models import AnalysisStatus, User

__all__ = ["router"]

router = APIRouter(prefix="/api", tags=["analyses"])
_NIFTI = {200: {"content": {"application/gzip": {}}, "description": "gzipped NIfTI-1 (RAS)"}}


@router.post("/studies/{study_id}/analyses", status_code=202, responses=errors(400, 404))
def request_analysis(
    study_id: PathId,
    request: Request,
    body: AnalysisIn | None = Body(None),
    user: User = Depends(current_user),
) -> AnalysisOut:
    """Queue a new analysis version of a study (a background job; poll its progress)."""
    options = (body or AnalysisIn()).model_dump(exclude_none=True)
    with request.app.state.store.transaction() as session:
        analysis = store_analyses.new_analysis(session, study_id, options, user)
        audit.record(
            session,
            "analysis.request",
            user=user,
            study_id=study_id,
            analysis_id=analysis.id,
            version=analysis.version,
            options=options,
        )
        out = AnalysisOut.model_validate(analysis)
    request.app.state.runner.submit(out.id)
    log.info("analysis %d queued (study %d, version %d)", out.id, study_id, out.version)
    return out


@router.get("/analyses/{analysis_id}", responses=errors(404))
def get_analysis(
    analysis_id: PathId, request: Request, _user: User = Depends(current_user)
) -> AnalysisOut:
    """Status, progress (0-1, by stage) and, when done, the automatic findings."""
    with request.app.state.store.transaction() as session:
        return AnalysisOut.model_validate(store_analyses.get_analysis(session, analysis_id))


@router.get("/analyses/{analysis_id}/report", responses=errors(404, 409))
def get_report(
    analysis_id: PathId, request: Request, _user: User = Depends(current_user)
) -> ReportOut:
    """The signed report (frozen, with its SHA-256), or the draft of the current review."""
    with request.app.state.store.transaction() as session:
        analysis = store_analyses.get_analysis(session, analysis_id)
        if analysis.report is not None:
            signer = session.get(User, analysis.report.signed_by)
            return signed_report(analysis, signer.name if signer else "?")
        if analysis.status != AnalysisStatus.done:
            raise ConflictError(f"analysis {analysis_id} is {analysis.status.value}: no report")
        return draft_report(analysis, store_reviews.find_review(session, analysis_id))


@router.get(
    "/analyses/{analysis_id}/report.html",
    response_class=HTMLResponse,
    responses=errors(404, 409),
)
def get_report_html(
    analysis_id: PathId, request: Request, _user: User = Depends(current_user)
) -> FileResponse:
    """The automatic analysis' HTML report (``nenscope analyze``'s report.html)."""
    folder = _done_folder(request, analysis_id)[1]
    return FileResponse(folder / "report.html", media_type="text/html")


def _done_folder(request: Request, analysis_id: int):
    """(stored analysis, its folder, its study's folder) of a finished analysis."""
    data_dir = request.app.state.settings.data_dir
    with request.app.state.store.transaction() as session:
        analysis = store_analyses.get_analysis(session, analysis_id)
        if analysis.status != AnalysisStatus.done:
            raise ConflictError(f"analysis {analysis_id} is {analysis.status.value}")
        return analysis, data_dir / analysis.folder, data_dir / analysis.study.folder


@router.get(
    "/analyses/{analysis_id}/volumes/{kind}",
    response_class=Response,
    responses={**errors(404, 409), **_NIFTI},
)
def get_volume(
    analysis_id: PathId,
    kind: Literal["suv", "ct", "labels", "outline"],
    request: Request,
    reviewed: bool = False,
    _user: User = Depends(current_user),
) -> Response:
    """A volume for the viewer on the PET grid: SUV (body weight), CT, lesion labels or
    lesion outlines (``reviewed``: the labels after review)."""
    analysis, folder, study_dir = _done_folder(request, analysis_id)
    _, overrides = split_options(analysis.options)
    if kind in ("suv", "ct"):
        path = study_volume(study_dir, folder, kind, overrides)
        return FileResponse(path, media_type="application/gzip", filename=f"{kind}.nii.gz")
    grid = automatic_labels(folder)
    labels = np.asarray(grid.array).astype(np.int32)
    if reviewed:
        with request.app.state.store.transaction() as session:
            decisions = decisions_of(store_reviews.find_review(session, analysis_id))
        labels = reviewed_labels(labels, *removed_and_added(decisions))
    data = labels_nifti(grid, labels, as_outline=kind == "outline")
    return Response(data, media_type="application/gzip")


@router.get("/analyses/{analysis_id}/audit", responses=errors(404))
def get_audit(
    analysis_id: PathId, request: Request, _user: User = Depends(current_user)
) -> list[AuditEventOut]:
    """The audit trail of an analysis (request, review changes, signature), oldest first."""
    with request.app.state.store.transaction() as session:
        store_analyses.get_analysis(session, analysis_id)
        return [
            AuditEventOut(
                id=ev.id,
                at=ev.at,
                user=name,
                action=ev.action,
                study_id=ev.study_id,
                analysis_id=ev.analysis_id,
                detail=ev.detail,
            )
            for ev, name in audit.events(session, analysis_id=analysis_id)
        ]
