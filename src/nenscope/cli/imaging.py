"""Imaging sub-commands: ``info`` (what is in a DICOM folder or zip, with QIBA SUV factors)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from nenscope.cli import app
from nenscope.cli._common import console, err_console, print_json
from nenscope.report.format import fmt


@app.command("info")
def info(
    path: Path = typer.Argument(
        ..., help="DICOM folder (searched recursively), .zip archive or single file."
    ),
    json_out: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    weight_kg: float | None = typer.Option(
        None,
        "--weight-kg",
        min=0.5,
        max=700.0,
        help="Patient weight in kg (replaces PatientWeight 0010,1030).",
    ),
    height_cm: float | None = typer.Option(
        None,
        "--height-cm",
        min=20.0,
        max=300.0,
        help="Patient height in cm (replaces PatientSize 0010,1020, stored in m).",
    ),
    injected_mbq: float | None = typer.Option(
        None,
        "--injected-mbq",
        min=0.001,
        help="Injected activity in MBq (replaces RadionuclideTotalDose 0018,1074, in Bq).",
    ),
    injection_time: str | None = typer.Option(
        None,
        "--injection-time",
        help="Injection time, HH:MM[:SS] on the series date or YYYY-MM-DDTHH:MM[:SS] "
        "(replaces RadiopharmaceuticalStartDateTime 0018,1078).",
    ),
) -> None:
    """List every series in PATH with its grid, units, tracer, times and QIBA SUV factors.

    Each factor multiplies the stored, rescaled pixel values (e.g. Bq/ml) to give that SUV: SUVbw, SUL (Janmahasatian), SUV-LBM (James) and SUV-IBW in g/ml; SUV-BSA with BSA in m² in place of weight in kg.

    A factor that cannot be computed is empty (null in JSON), with the reason, naming the DICOM tag and the option that supplies it, in the warnings. Files that are not usable DICOM are listed as skipped with the reason.
    """
    from nenscope.imaging.discovery import discover
    from nenscope.imaging.study import SuvOverrides
    from nenscope.imaging.summary import summarize

    overrides = SuvOverrides(
        weight_kg=weight_kg,
        height_cm=height_cm,
        injected_mbq=injected_mbq,
        injection_time=injection_time,
    )
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    ) as bar:
        task = bar.add_task("reading DICOM headers", total=None)
        disc = discover(
            path, progress=lambda done, total: bar.update(task, completed=done, total=total)
        )
    result = summarize(disc, overrides)
    if json_out:
        print_json(result)
        return
    table = Table(title=f"{path}: {len(result['series'])} series", show_lines=True)
    for col in (
        "modality",
        "description",
        "files",
        "shape",
        "spacing (mm)",
        "units",
        "tracer",
        "activity (MBq)",
        "SUVbw factor",
        "SUL factor",
    ):
        table.add_column(col)
    for s in result["series"]:
        act = s["injected_activity_bq"]
        table.add_row(
            s["modality"],
            fmt(s["description"]),
            str(s["n_instances"]),
            fmt(s["shape"], "d"),
            fmt(s["spacing_mm"], ".4g"),
            fmt(s["units"]),
            fmt(s["radiopharmaceutical"]),
            fmt(act / 1e6 if act else None, ".5g"),
            fmt(s["suv_bw_factor"], ".6g"),
            fmt(s["sul_factor"], ".6g"),
        )
    console.print(table)
    for s in result["series"]:
        for w in s["warnings"]:
            console.print(
                f"[yellow]warning[/] {s['modality']} {s['series_instance_uid']}: {w}",
                highlight=False,
            )
    if result["skipped_files"]:
        console.print(f"{len(result['skipped_files'])} file(s) skipped:")
        for f in result["skipped_files"]:
            console.print(f"  {f['path']}: {f['reason']}", highlight=False)


@app.command("convert")
def convert(
    path: Path = typer.Argument(
        ..., help="DICOM folder or .zip with a PET or reconstructed SPECT series (and CT)."
    ),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder for the NIfTI files."),
    suv: str = typer.Option(
        "bw",
        "--suv",
        help="Emission as SUV of this kind (bw, sul, lbm_james, bsa, ibw), "
        "or 'none' for the stored values in their units (e.g. Bq/ml).",
    ),
    series: str | None = typer.Option(
        None,
        "--series",
        help="SeriesInstanceUID of the emission series (when the folder holds several).",
    ),
    weight_kg: float | None = typer.Option(
        None, "--weight-kg", min=0.5, max=700.0, help="Patient weight in kg."
    ),
    height_cm: float | None = typer.Option(
        None, "--height-cm", min=20.0, max=300.0, help="Patient height in cm."
    ),
    injected_mbq: float | None = typer.Option(
        None, "--injected-mbq", min=0.001, help="Injected activity in MBq."
    ),
    injection_time: str | None = typer.Option(
        None, "--injection-time", help="Injection time, HH:MM[:SS] or YYYY-MM-DDTHH:MM[:SS]."
    ),
    json_out: bool = typer.Option(False, "--json", help="Print the files written as JSON."),
    keep: bool = typer.Option(
        False, "--keep", help="Keep an earlier OUT: refuse to run instead of replacing it."
    ),
    allow_mismatch: bool = typer.Option(
        False,
        "--allow-mismatch",
        help="Accept slices or a CT of another patient or study (research data), with a warning.",
    ),
) -> None:
    """Write a DICOM PET/SPECT study as NIfTI: emission.nii.gz (SUV or stored units) and ct.nii.gz.

    Volumes keep their own grids (NIfTI affine in RAS mm); resample with nenscope.imaging.resample_to if one grid is needed. OUT appears only when both files are complete; an earlier OUT is replaced as a whole (or kept with --keep).
    """
    from nenscope.atomic import check_output_folder, result_folder
    from nenscope.imaging import SUV_KINDS, load_study, save_nifti
    from nenscope.imaging.study import SuvOverrides

    kind = suv.lower()
    if kind not in (*SUV_KINDS, "none"):
        raise typer.BadParameter(f"--suv must be one of {', '.join(SUV_KINDS)}, none")
    overrides = SuvOverrides(
        weight_kg=weight_kg,
        height_cm=height_cm,
        injected_mbq=injected_mbq,
        injection_time=injection_time,
    )
    check_output_folder(out, keep=keep)
    study = load_study(path, overrides=overrides, series_uid=series, allow_mismatch=allow_mismatch)
    emission = study.emission if kind == "none" else study.suv(kind)
    with result_folder(out, keep=keep) as tmp:
        save_nifti(emission, tmp / "emission.nii.gz")
        if study.ct is not None:
            save_nifti(study.ct, tmp / "ct.nii.gz")
    written = {
        "emission": str(out / "emission.nii.gz"),
        "emission_units": study.units if kind == "none" else f"SUV{kind}",
    }
    if study.ct is not None:
        written["ct"] = str(out / "ct.nii.gz")
    written["warnings"] = study.warnings + (study.suv.warnings if kind != "none" else [])
    if json_out:
        print_json(written)
        return
    console.print(f"emission ({written['emission_units']}): {written['emission']}", highlight=False)
    if "ct" in written:
        console.print(f"CT (HU): {written['ct']}", highlight=False)
    for w in written["warnings"]:
        console.print(f"[yellow]warning[/] {w}", highlight=False)
