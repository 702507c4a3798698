"""The FastAPI application: routes, error mapping, the job runner's life cycle, the viewer.

``create_app(settings)`` opens the store (migrated to the newest schema) and bootstraps the
administrator; the lifespan recovers interrupted jobs, queues the demo when asked and stops
the job threads at shutdown. Every ``/api`` route needs a bearer token; ``/health``, the
OpenAPI schema (``/openapi.json``, ``/docs``) and the viewer's static files (no patient data:
the viewer asks for a token and reads everything through the API) do not.
"""

from __future__ import annotations

import shutil
from contextlib import asynccontextmanager
from dataclasses import replace
from importlib import resources
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from nenscope import __version__
from nenscope.errors import NenscopeError
from nenscope.service import api_analyses, api_review, api_studies
from nenscope.service.demo import load_demo
from nenscope.service.logs import log, log_failure
from nenscope.service.runner import JobRunner
from nenscope.service.settings import Settings
from nenscope.service.upload import UploadError
from nenscope.store import ConflictError, NotFoundError, Store
from nenscope.store.errors import ForbiddenError
from nenscope.store.users import ensure_admin

__all__ = ["create_app"]

_STATUS = ((NotFoundError, 404), (ConflictError, 409), (ForbiddenError, 403))


def _status_of(exc: NenscopeError) -> int:
    if isinstance(exc, UploadError):
        return exc.status_code
    return next((code for cls, code in _STATUS if isinstance(exc, cls)), 400)


async def _nenscope_error(_request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=_status_of(exc))  # type: ignore[arg-type]


class _QuietErrors:
    """ASGI middleware: an unexpected error answers 500 and is logged by type and frames
    only (:func:`~nenscope.service.logs.log_failure`), never with its message."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            log_failure(f"{scope['method']} {scope['path']}", exc)
            if not started:
                await JSONResponse({"detail": "internal error"}, 500)(scope, receive, send)


def _static_dir() -> Path:
    return Path(str(resources.files("nenscope.service") / "static"))


def create_app(settings: Settings) -> FastAPI:
    """The service over ``settings.data_dir`` and the store at ``settings.database_url``.

    ``app.state.bootstrap_token`` holds the administrator token generated at the first start
    (to print once), else ``None``.
    """
    data_dir = settings.data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    settings = replace(settings, data_dir=data_dir)
    store = Store(settings.database_url)
    with store.transaction() as session:
        token = ensure_admin(session, settings.token)
    runner = JobRunner(store, data_dir, settings.workers)

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        shutil.rmtree(data_dir / "incoming", ignore_errors=True)  # uploads cut off by a stop
        (data_dir / "incoming").mkdir(parents=True, exist_ok=True)
        runner.recover()
        if settings.demo:
            runner.call(lambda: load_demo(store, data_dir, runner))
        log.info("nenscope service ready (store: %s)", store.backend)
        yield
        runner.shutdown()
        store.close()

    app = FastAPI(
        title="nenscope",
        version=__version__,
        description="Results store, analysis jobs, review and sign-off of NET molecular imaging.",
        lifespan=lifespan,
    )
    app.state.settings, app.state.store, app.state.runner = settings, store, runner
    app.state.bootstrap_token = token
    app.add_exception_handler(NenscopeError, _nenscope_error)
    app.add_middleware(_QuietErrors)
    for module in (api_studies, api_analyses, api_review):
        app.include_router(module.router)
    app.mount("/static", GZipMiddleware(StaticFiles(directory=_static_dir())), name="static")

    @app.get("/", include_in_schema=False)
    def viewer() -> FileResponse:
        return FileResponse(_static_dir() / "index.html")

    return app
