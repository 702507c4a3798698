"""``nenscope pacs``: find, pull and push studies on a DICOMweb PACS (docs/pacs.md)."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from nenscope.cli import app
from nenscope.cli._common import console, err_console, print_json

pacs_app = typer.Typer(
    help="Find, pull and push studies on a DICOMweb PACS (Orthanc, dcm4chee, a cloud PACS...).",
    no_args_is_help=True,
)
app.add_typer(pacs_app, name="pacs")

Url = Annotated[
    str,
    typer.Option(
        "--url", envvar="NENSCOPE_PACS_URL", help="DICOMweb root, e.g. http://host:8042/dicom-web."
    ),
]
User = Annotated[
    str | None,
    typer.Option("--user", envvar="NENSCOPE_PACS_USER", help="User for HTTP Basic authentication."),
]
Password = Annotated[
    str | None,
    typer.Option("--password", envvar="NENSCOPE_PACS_PASSWORD", help="Its password."),
]
Token = Annotated[
    str | None,
    typer.Option("--token", envvar="NENSCOPE_PACS_TOKEN", help="Bearer token (OAuth/OIDC)."),
]


def connect(url: str, user: str | None, password: str | None, token: str | None):
    """The :class:`nenscope.pacs.Pacs` for the common options."""
    from nenscope.pacs import Pacs, PacsAuth

    return Pacs(url, PacsAuth(user=user, password=password, token=token))


@pacs_app.command("find")
def find(
    url: Url,
    patient_id: Annotated[
        str | None, typer.Option("--patient-id", help="PatientID (wildcards * and ? allowed).")
    ] = None,
    modality: Annotated[
        str | None, typer.Option("--modality", help="A modality in the study, e.g. PT or NM.")
    ] = None,
    date_range: Annotated[
        str | None,
        typer.Option(
            "--date-range",
            help="Study date: YYYYMMDD, YYYYMMDD-YYYYMMDD or YYYY-MM-DD..YYYY-MM-DD.",
        ),
    ] = None,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="At most this many.")] = None,
    user: User = None,
    password: Password = None,
    token: Token = None,
    json_: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List the studies on the PACS that match the filters (QIDO-RS)."""
    studies = connect(url, user, password, token).find_studies(
        patient_id=patient_id, modality=modality, date_range=date_range, limit=limit
    )
    if json_:
        print_json([asdict(s) for s in studies])
        return
    table = Table(title=f"{len(studies)} stud{'y' if len(studies) == 1 else 'ies'} on {url}")
    for col in ("date", "patient", "name", "modalities", "series", "images", "description", "UID"):
        table.add_column(col, overflow="fold")
    for s in studies:
        table.add_row(
            s.study_date or "—",
            s.patient_id or "—",
            s.patient_name or "—",
            ",".join(s.modalities) or "—",
            str(s.n_series if s.n_series is not None else "—"),
            str(s.n_instances if s.n_instances is not None else "—"),
            s.description or "—",
            s.study_instance_uid,
        )
    console.print(table)


@pacs_app.command("pull")
def pull(
    url: Url,
    study: Annotated[str, typer.Option("--study", help="StudyInstanceUID to download.")],
    out: Annotated[Path, typer.Option("--out", help="Folder to write the DICOM files into.")],
    modality: Annotated[
        list[str] | None,
        typer.Option("--modality", help="Only series of this modality (repeatable, e.g. PT, CT)."),
    ] = None,
    user: User = None,
    password: Password = None,
    token: Token = None,
) -> None:
    """Download a study (WADO-RS) into OUT/<SeriesInstanceUID>/<SOPInstanceUID>.dcm."""
    pacs = connect(url, user, password, token)
    with err_console.status(f"pulling {study}…"):
        result = pacs.pull_study(study, out, modalities=modality)
    for s in result.series:
        console.print(f"{s.modality or '?':4} #{s.series_number}: {s.description or ''}")
    console.print(f"{result.n_instances} instance(s) in {len(result.series)} series -> {out}")


@pacs_app.command("push")
def push(
    url: Url,
    paths: Annotated[
        list[Path], typer.Argument(help="DICOM files or folders (searched recursively).")
    ],
    user: User = None,
    password: Password = None,
    token: Token = None,
) -> None:
    """Store DICOM files on the PACS (STOW-RS), e.g. a DICOM-SEG and SR from `analyze`."""
    pacs = connect(url, user, password, token)
    with err_console.status("pushing…"):
        stored = pacs.push(paths)
    console.print(f"the PACS stored {len(stored)} instance(s)")
