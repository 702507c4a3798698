"""``nenscope serve``: the web service (results store, analysis jobs, review, viewer)."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Annotated

import typer

from nenscope.cli import app
from nenscope.cli._common import console

DATA_DIR = Path("nenscope-data")


@app.command()
def serve(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="TCP port.")] = 8000,
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            help="Database URL, e.g. postgresql://user:pass@host/nenscope [default: SQLite in the data directory].",
        ),
    ] = None,
    data_dir: Annotated[
        Path, typer.Option("--data-dir", help="Folder for studies, outputs and the SQLite store.")
    ] = DATA_DIR,
    demo: Annotated[
        bool, typer.Option("--demo", help="Load and analyse the demo's virtual patient.")
    ] = False,
    workers: Annotated[
        int, typer.Option("--workers", min=1, max=32, help="Analyses run at the same time.")
    ] = 1,
    max_upload_mb: Annotated[
        float, typer.Option("--max-upload-mb", min=1.0, help="Largest upload, MiB.")
    ] = 2048.0,
    max_unpacked_mb: Annotated[
        float, typer.Option("--max-unpacked-mb", min=1.0, help="Largest unzipped study, MiB.")
    ] = 4096.0,
    log_level: Annotated[
        str, typer.Option("--log-level", help="debug, info, warning or error.")
    ] = "info",
) -> None:
    """Serve the API (OpenAPI at /docs) and the viewer at http://HOST:PORT/.

    Every /api request needs `Authorization: Bearer <token>`: the administrator's comes from
    NENSCOPE_TOKEN or is generated and printed at the first start; add users with
    `nenscope users add`.
    """
    import uvicorn

    from nenscope.service import Settings, create_app

    level = log_level.upper()
    # the service's own messages at --log-level; the libraries' (alembic, highdicom...) only
    # from warnings on, unless debugging
    logging.basicConfig(
        level=level if level == "DEBUG" else "WARNING",
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("nenscope").setLevel(level)
    settings = Settings(
        data_dir=data_dir,
        db_url=db,
        token=os.environ.get("NENSCOPE_TOKEN") or None,
        max_upload_mb=max_upload_mb,
        max_unpacked_mb=max_unpacked_mb,
        workers=workers,
        demo=demo,
    )
    application = create_app(settings)
    if application.state.bootstrap_token:
        console.print(
            f"administrator token (shown once, keep it): {application.state.bootstrap_token}",
            highlight=False,
        )
    console.print(
        f"nenscope at http://{host}:{port}/ — data in {settings.data_dir}, "
        f"store {application.state.store.backend}",
        highlight=False,
    )
    uvicorn.run(application, host=host, port=port, log_level=log_level.lower())
