"""``nenscope compare``: the current study against the same patient's prior study."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from nenscope.cli import app
from nenscope.cli._common import console, err_console, print_json


def _num(value, spec: str) -> str:
    return "—" if value is None else format(value, spec)


def _ids(value) -> str:
    if value is None:
        return "—"
    return ", ".join(map(str, value)) if isinstance(value, list) else str(value)


def print_comparison(data: dict, out_dir: Path) -> None:
    """Rich summary of a ``comparison.json`` dictionary."""
    patient = data["patient"]
    table = Table(
        title=f"{len(data['lesions'])} lesion entries — registration "
        f"{data['registration']['method']}"
    )
    for col in ("#", "status", "current", "prior", "site", "SUVmax", "ml then", "ml now", "Δ %"):
        table.add_column(col, justify="left" if col in ("status", "site") else "right")
    for n, e in enumerate(data["lesions"], start=1):
        table.add_row(
            str(n),
            e["status"] + ("" if e.get("confirmed", True) else " (not counted)"),
            _ids(e["current_id"]),
            _ids(e["prior_id"]),
            e.get("site") or "—",
            f"{_num(e['suv_max_prior'], '.1f')} → {_num(e['suv_max_current'], '.1f')}",
            _num(e["volume_ml_prior"], ".2f"),
            _num(e["volume_ml_current"], ".2f"),
            _num(e["volume_change_pct"], "+.0f"),
        )
    console.print(table)
    console.print(
        f"tumour volume {_num(patient['tumour_volume_pvc_ml_prior'], '.1f')} → "
        f"{_num(patient['tumour_volume_pvc_ml_current'], '.1f')} ml "
        f"({_num(patient['tumour_volume_pvc_change_pct'], '+.0f')} %, partial-volume corrected; "
        f"SSTR-TV {_num(patient['sstr_tv_change_pct'], '+.0f')} %), "
        f"{patient['n_new']} new lesion(s)"
    )
    for r in patient["response_details"]:
        tag = "" if r["consensus"] else " [dim](research, no consensus)[/dim]"
        console.print(
            f"{r['name']}: [bold]{r['category'] or 'not assessable'}[/bold]{tag} — {r['reason']}"
        )
    console.print(f"report: {out_dir / 'report.html'}")


@app.command()
def compare(
    current: Annotated[
        Path, typer.Argument(help="Current study (DICOM folder or zip) or its analysis folder.")
    ],
    prior: Annotated[
        Path, typer.Argument(help="Prior study (DICOM folder or zip) or its analysis folder.")
    ],
    out: Annotated[Path, typer.Option("--out", help="Output folder.")],
    fdg: Annotated[
        Path | None,
        typer.Option("--fdg", help="FDG PET/CT with the current study (NETPET; PERCIST, EORTC)."),
    ] = None,
    prior_fdg: Annotated[
        Path | None,
        typer.Option("--prior-fdg", help="FDG PET/CT with the prior study (PERCIST, EORTC)."),
    ] = None,
    diagnostic_ct: Annotated[
        bool,
        typer.Option(
            "--diagnostic-ct", help="The CTs are diagnostic: measure long axes for RECIST 1.1."
        ),
    ] = False,
    rigid_only: Annotated[
        bool, typer.Option("--rigid-only", help="No B-spline step after the rigid registration.")
    ] = False,
    json_: Annotated[
        bool, typer.Option("--json", help="Print comparison.json instead of the table.")
    ] = False,
) -> None:
    """Compare a study with the same patient's prior study, lesion by lesion.

    Writes OUT/comparison.json, OUT/report.html and each study's own outputs in OUT/current
    and OUT/prior (OUT/current_fdg and OUT/prior_fdg with --fdg and --prior-fdg).
    """
    from nenscope.followup import CompareOptions, compare_studies

    options = CompareOptions(diagnostic_ct=diagnostic_ct, deformable=not rigid_only)
    with err_console.status("comparing…") as status:
        result = compare_studies(
            current,
            prior,
            out,
            fdg=fdg,
            prior_fdg=prior_fdg,
            options=options,
            progress=lambda stage: status.update(f"{stage}…"),
        )
    if json_:
        print_json(result.comparison)
        return
    print_comparison(result.comparison, out)
    for warning in result.warnings:
        err_console.print(f"[yellow]note:[/yellow] {warning}")
