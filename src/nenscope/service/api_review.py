"""Routes: review (decide, relabel, add a lesion, impression) and sign-off. Physicians only."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from nenscope.errors import NenscopeError
from nenscope.knowledge import get_agent
from nenscope.service.auth import current_user, require
from nenscope.service.images import load_grid, reviewed_labels
from nenscope.service.logs import log
from nenscope.service.responses import errors
from nenscope.service.reviewing import canonical, removed_and_added, report_content
from nenscope.service.runner import split_options
from nenscope.service.schemas import (
    AddLesionIn,
    ImpressionIn,
    LesionDecisionIn,
    PathId,
    ReportOut,
    ReviewOut,
)
from nenscope.service.seeding import grow_lesion
from nenscope.service.views import analysis_ref, decisions_of, review_out, signed_report
from nenscope.store import ConflictError
from nenscope.store import reviews as store_reviews
from nenscope.store.analyses import get_analysis
from nenscope.store.models import Role, User, utcnow

__all__ = ["router"]

router = APIRouter(prefix="/api/analyses/{analysis_id}", tags=["review"])
physician = require(Role.physician)


def _review(request: Request, analysis_id: int) -> ReviewOut:
    with request.app.state.store.transaction() as session:
        review = store_reviews.get_review(session, analysis_id)
        return review_out(review.analysis, review)


@router.get("/review", responses=errors(404, 409))
def get_review(
    analysis_id: PathId, request: Request, _user: User = Depends(current_user)
) -> ReviewOut:
    """Each lesion with its decision; the summary before and after review."""
    with request.app.state.store.transaction() as session:
        analysis = get_analysis(session, analysis_id)
        if analysis.findings is None:
            raise ConflictError(f"analysis {analysis_id} is {analysis.status.value}: no findings")
        return review_out(analysis, store_reviews.find_review(session, analysis_id))


@router.put("/review/lesions/{number}", responses=errors(400, 403, 404, 409))
def decide(
    analysis_id: PathId,
    number: PathId,
    body: LesionDecisionIn,
    request: Request,
    user: User = Depends(physician),
) -> ReviewOut:
    """Accept or reject an automatic lesion, or relabel it (site, physiological)."""
    with request.app.state.store.transaction() as session:
        store_reviews.decide(
            session,
            analysis_id,
            number,
            user=user,
            decision=body.decision,
            site=body.site,
            physiological=body.physiological,
        )
    return _review(request, analysis_id)


def _radionuclide(agent: str | None) -> str | None:
    try:
        return get_agent(agent).radionuclide if agent else None
    except NenscopeError:
        return None


@router.post("/review/lesions", status_code=201, responses=errors(400, 403, 404, 409))
def add_lesion(
    analysis_id: PathId, body: AddLesionIn, request: Request, user: User = Depends(physician)
) -> ReviewOut:
    """Add a missed lesion by a point in it: grown from that seed (see
    :mod:`nenscope.service.seeding`), measured and scored like the automatic ones."""
    data_dir = request.app.state.settings.data_dir
    with request.app.state.store.transaction() as session:
        review = store_reviews.get_review(session, analysis_id)
        if review.signed:
            raise ConflictError(f"analysis {analysis_id} is signed: its review cannot change")
        analysis = review.analysis
        findings, options = analysis.findings, analysis.options
        folder, study_dir = data_dir / analysis.folder, data_dir / analysis.study.folder
        decisions = decisions_of(review)
    opts, overrides = split_options(options)
    suv, ct, labels = load_grid(folder, study_dir, overrides)
    taken = reviewed_labels(labels, *removed_and_added(decisions)) > 0
    measurement = grow_lesion(
        suv,
        ct,
        taken,
        body.seed_mm,
        findings,
        smooth_fwhm_mm=opts.detect_smooth_fwhm_mm,
        radionuclide=_radionuclide(findings["study"].get("agent")),
    )
    with request.app.state.store.transaction() as session:
        store_reviews.add_lesion(
            session,
            analysis_id,
            user=user,
            seed_mm=body.seed_mm,
            measurement=measurement,
            site=body.site,
        )
    return _review(request, analysis_id)


@router.put("/review/impression", responses=errors(400, 403, 404, 409))
def set_impression(
    analysis_id: PathId, body: ImpressionIn, request: Request, user: User = Depends(physician)
) -> ReviewOut:
    """Replace the impression."""
    with request.app.state.store.transaction() as session:
        store_reviews.set_impression(session, analysis_id, body.text, user=user)
    return _review(request, analysis_id)


@router.post("/sign", responses=errors(403, 404, 409))
def sign(analysis_id: PathId, request: Request, user: User = Depends(physician)) -> ReportOut:
    """Sign: freeze the report (automatic and reviewed findings, decisions, impression,
    signer and time) and store its SHA-256. A signed analysis never changes again."""
    with request.app.state.store.transaction() as session:
        review = store_reviews.get_review(session, analysis_id, lock=True)
        analysis = review.analysis
        signed_at = utcnow()
        content = report_content(
            analysis=analysis_ref(analysis),
            automatic=analysis.findings,
            decisions=decisions_of(review),
            impression=review.impression,
            signed_by=user.name,
            signed_at=signed_at,
        )
        text, sha256 = canonical(content)
        store_reviews.sign(session, analysis, text, sha256, user=user, signed_at=signed_at)
        session.refresh(analysis)
        out = signed_report(analysis, user.name)
    log.info("analysis %d signed by user %d", analysis_id, user.id)
    return out
