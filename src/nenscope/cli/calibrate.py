"""``nenscope calibrate``: a scanner profile from a NEMA IEC body phantom study."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from nenscope.cli import app
from nenscope.cli._common import console, print_json


@app.command("calibrate")
def calibrate(
    study: Annotated[
        Path, typer.Argument(help="Folder or zip with the NEMA IEC body phantom PET study.")
    ],
    out: Annotated[
        Path, typer.Option("--out", help="Scanner profile to write (JSON), for analyze --scanner.")
    ] = Path("scanner.json"),
    sphere_ratio: Annotated[
        float,
        typer.Option(
            "--sphere-ratio",
            help="True sphere-to-background activity ratio of the filling (EARL: 10).",
        ),
    ] = 10.0,
    name: Annotated[
        str | None,
        typer.Option("--name", help="What the profile describes [default: the study's folder]."),
    ] = None,
    json_: Annotated[
        bool, typer.Option("--json", help="Print the profile as JSON instead of the table.")
    ] = False,
) -> None:
    """Measure recovery coefficients, the effective resolution (Gaussian FWHM) and EARL1/2
    compliance on a NEMA IEC phantom study; write the scanner profile that
    ``nenscope analyze --scanner`` uses for the partial-volume-corrected uptake."""
    from nenscope.analysis.calibration import calibrate_nema
    from nenscope.imaging import load_study

    loaded = load_study(study)
    result = calibrate_nema(loaded, sphere_ratio=sphere_ratio)
    profile = result.profile(
        name or study.name.removesuffix(".zip"),
        source={"study_instance_uid": loaded.study_instance_uid, "path": str(study)},
    )
    profile.write(out)
    if json_:
        print_json(profile.to_dict())
        return
    table = Table(title=f"NEMA IEC recovery ({result.radionuclide or 'radionuclide unknown'})")
    for col in ("sphere (mm)", "RCmax", "RCmean (A50)"):
        table.add_column(col, justify="right")
    for s in result.spheres:
        table.add_row(f"{s.diameter_mm:.0f}", f"{s.rc_max:.3f}", f"{s.rc_mean_a50:.3f}")
    console.print(table)
    console.print(
        f"effective resolution {result.effective_fwhm_mm:.2f} mm FWHM; scanner blur without "
        f"positron range {profile.system_fwhm_mm:.2f} mm"
    )
    for std, verdict in result.earl.items():
        state = "[green]compliant[/green]" if verdict["compliant"] else "[red]not compliant[/red]"
        console.print(f"{std.upper()}: {state} {'; '.join(verdict['failures'])}")
    console.print(f"profile written to {out}")
