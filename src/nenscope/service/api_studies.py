"""Routes: health, the current user, studies (upload, list) and protocol advice."""

from __future__ import annotations

import secrets

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from nenscope import __version__
from nenscope.knowledge import advise
from nenscope.service.auth import current_user
from nenscope.service.ingest import read_study, store_study
from nenscope.service.logs import log
from nenscope.service.responses import errors
from nenscope.service.schemas import HealthOut, PathId, ProtocolIn, ProtocolOut, StudyOut, UserOut
from nenscope.service.upload import UploadLimits, discard, receive, unpack
from nenscope.service.views import study_out
from nenscope.store import studies as store_studies
from nenscope.store.models import User

__all__ = ["router"]

router = APIRouter()

_UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["files"],
                    "properties": {
                        "files": {
                            "type": "array",
                            "items": {"type": "string", "format": "binary"},
                            "description": "DICOM files of one study, or zips of them",
                        }
                    },
                }
            }
        },
    }
}


@router.get("/health", tags=["service"])
def health() -> HealthOut:
    """Liveness (the only route without a token)."""
    return HealthOut(status="ok", version=__version__)


@router.get("/api/me", tags=["service"], responses=errors())
def me(user: User = Depends(current_user)) -> UserOut:
    """The user of the token."""
    return UserOut.model_validate(user)


@router.post(
    "/api/studies",
    tags=["studies"],
    status_code=201,
    responses=errors(400, 409, 413, 415),
    openapi_extra=_UPLOAD_BODY,
)
async def upload_study(request: Request, user: User = Depends(current_user)) -> StudyOut:
    """Upload one study: DICOM files and/or zips in the multipart field ``files``.

    Refused: bodies over the size limit, zips with absolute or ``..`` paths, symbolic links
    or encryption, more files or bytes than allowed, uploads without a PET/SPECT series or
    with several studies, and a study stored already (409).
    """
    settings = request.app.state.settings
    store = request.app.state.store
    limits = UploadLimits(
        settings.max_upload_bytes, settings.max_unpacked_bytes, settings.max_files
    )
    work = settings.data_dir / "incoming" / secrets.token_hex(16)
    try:
        received = await receive(request, work / "raw", limits)
        n_files, size = await run_in_threadpool(unpack, received, work / "dicom", limits)
        record = await run_in_threadpool(read_study, work / "dicom", n_files, size)
        study_id = await run_in_threadpool(
            store_study, store, settings.data_dir, work / "dicom", record, user
        )
    finally:
        await run_in_threadpool(discard, work)
    log.info("study %d stored: %d files, %.1f MiB", study_id, n_files, size / 2**20)
    return await run_in_threadpool(_study, request, study_id)


def _study(request: Request, study_id: int) -> StudyOut:
    with request.app.state.store.transaction() as session:
        return study_out(store_studies.get_study(session, study_id))


@router.get("/api/studies", tags=["studies"], responses=errors())
def list_studies(request: Request, _user: User = Depends(current_user)) -> list[StudyOut]:
    """Every study, newest first, with its series and analysis versions."""
    with request.app.state.store.transaction() as session:
        return [study_out(s) for s in store_studies.list_studies(session)]


@router.get("/api/studies/{study_id}", tags=["studies"], responses=errors(404))
def get_study(study_id: PathId, request: Request, _user: User = Depends(current_user)) -> StudyOut:
    """One study with its series and analysis versions."""
    return _study(request, study_id)


@router.post(
    "/api/protocol", tags=["knowledge"], responses=errors(400), response_model_exclude_unset=True
)
def protocol(body: ProtocolIn, _user: User = Depends(current_user)) -> ProtocolOut:
    """Protocol advice for a scenario and a patient (``nenscope protocol``)."""
    advice = advise(body.scenario, **body.model_dump(exclude={"scenario"}))
    return ProtocolOut.model_validate(advice.to_dict())
