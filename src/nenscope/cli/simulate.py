"""``nenscope simulate``: a virtual NET patient (or NEMA IEC phantom) scanned by a simulated
PET or SPECT camera, written as DICOM with its ground truth."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from nenscope.cli import app
from nenscope.cli._common import console, err_console, print_json
from nenscope.errors import NenscopeError


def _timepoints(text: str | None) -> tuple[float, ...] | None:
    if text is None:
        return None
    try:
        values = tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError as exc:
        raise typer.BadParameter(
            f"time points must be numbers in hours separated by commas, not {text!r}"
        ) from exc
    if not values:
        raise typer.BadParameter("give at least one time point")
    return values


@app.command("simulate")
def simulate(
    tracer: str = typer.Option(
        ...,
        "--tracer",
        help="Agent from the catalogue, e.g. 68Ga-DOTATATE, 18F-FDG, "
        "68Ga-exendin-4, 177Lu-DOTATATE (see `nenscope tracer`).",
    ),
    out: Path = typer.Option(
        ..., "--out", help="Output folder (pet/, ct/, truth/ are created in it)."
    ),
    seed: int = typer.Option(
        0, "--seed", min=0, help="Random seed; the same seed gives the same study."
    ),
    lesions: int = typer.Option(
        5, "--lesions", min=0, max=40, help="Number of lesions (count; patient phantom)."
    ),
    phantom: str = typer.Option(
        "patient", "--phantom", help="patient (virtual NET patient) or nema-iec."
    ),
    scanner: str | None = typer.Option(
        None,
        "--scanner",
        help="pet or spect (default: PET for positron emitters, SPECT for 111In/123I/177Lu).",
    ),
    minutes_per_bed: float = typer.Option(
        2.5,
        "--minutes-per-bed",
        min=0.05,
        max=60.0,
        help="PET acquisition time per bed position, in minutes.",
    ),
    injected_mbq: float | None = typer.Option(
        None,
        "--injected-mbq",
        min=0.1,
        max=20000.0,
        help="Injected activity in MBq (default: the catalogue's rule, "
        "e.g. 2 MBq/kg for 68Ga-DOTATATE, 7400 MBq for 177Lu).",
    ),
    timepoints_h: str | None = typer.Option(
        None,
        "--timepoints-h",
        help="Scan times after injection in hours, comma-separated "
        "(default: the agent's uptake time; 177Lu: 4,24,96,168).",
    ),
    tumour_type: str = typer.Option(
        "G2",
        "--tumour-type",
        help="G1, G2, G3 or insulinoma (sets SSTR, FDG, GLP-1R expression of the lesions).",
    ),
    sex: str = typer.Option("M", "--sex", help="M or F."),
    weight_kg: float | None = typer.Option(
        None,
        "--weight-kg",
        min=25.0,
        max=250.0,
        help="Patient weight in kg (default ICRP 89 reference: 73 M, 60 F).",
    ),
    height_cm: float | None = typer.Option(
        None,
        "--height-cm",
        min=100.0,
        max=230.0,
        help="Patient height in cm (default 176 M, 163 F).",
    ),
    voxel_mm: float | None = typer.Option(
        None,
        "--voxel-mm",
        min=1.0,
        max=12.0,
        help="Isotropic voxel size in mm (default 4.0 PET, 4.8 SPECT).",
    ),
    pet_model: str = typer.Option(
        "earl", "--pet-model", help="PET scanner model: earl (EARL1-like) or digital."
    ),
    iterations: int | None = typer.Option(
        None, "--iterations", min=1, max=50, help="OSEM iterations (count)."
    ),
    subsets: int | None = typer.Option(
        None,
        "--subsets",
        min=1,
        max=60,
        help="OSEM subsets (count; must divide 120 PET angles or 64 SPECT views).",
    ),
    psf: bool | None = typer.Option(
        None, "--psf/--no-psf", help="Model the PET PSF in the reconstruction."
    ),
    json_out: bool = typer.Option(False, "--json", help="Print the manifest summary as JSON."),
) -> None:
    """Simulate a PET/SPECT study of a virtual NET patient with a known truth.

    Writes OUT/pet (PT, or NM for SPECT; one folder per time point when several), OUT/ct,
    OUT/truth/organs.nii.gz, OUT/truth/lesions.nii.gz and OUT/truth/manifest.json.
    """
    from nenscope.simulation.output import write_study
    from nenscope.simulation.study import SimulationConfig, simulate_study

    config = SimulationConfig(
        tracer=tracer,
        phantom=phantom,
        scanner=scanner,
        pet_model=pet_model,
        seed=seed,
        n_lesions=lesions,
        tumour_type=tumour_type,
        sex=sex,
        weight_kg=weight_kg,
        height_cm=height_cm,
        voxel_mm=voxel_mm,
        minutes_per_bed=minutes_per_bed,
        injected_mbq=injected_mbq,
        timepoints_h=_timepoints(timepoints_h),
        iterations=iterations,
        subsets=subsets,
        psf=psf,
    )
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=err_console,
        transient=json_out,
    )
    tasks: dict[str, int] = {}

    def report(stage: str, done: int, total: int) -> None:
        if stage not in tasks:
            tasks[stage] = progress.add_task(stage, total=total)
        progress.update(tasks[stage], completed=done, total=total)

    try:
        with progress:
            sim = simulate_study(config, progress=report)
            paths = write_study(sim, out, progress=report)
    except ValueError as exc:  # e.g. subsets that do not divide the angles
        raise NenscopeError(str(exc)) from exc
    summary = {
        "out": str(out),
        "agent": sim.agent,
        "radionuclide": sim.radionuclide,
        "modality": sim.modality,
        "injected_mbq": sim.injected_mbq,
        "timepoints_h": [f.time_h for f in sim.frames],
        "patient": sim.truth["patient"],
        "lesions": sim.truth["lesions"],
        "files": {k: str(v) for k, v in paths.items()},
    }
    if json_out:
        print_json(summary)
        return
    console.print(
        f"{sim.agent} ({sim.radionuclide}) {sim.modality}, {sim.injected_mbq:.0f} MBq, "
        f"time points {', '.join(f'{t:g} h' for t in summary['timepoints_h'])} -> {out}",
        highlight=False,
    )
    if sim.lesions:
        table = Table(title="lesions (truth)")
        for col in (
            "id",
            "site",
            "centre LPS (mm)",
            "diameter (mm)",
            "true SUVmean",
            "Krenning",
            "SSTR",
            "FDG",
            "GLP-1R",
        ):
            table.add_column(col)
        for les in sim.truth["lesions"]:
            suv = les.get("true_suv_mean")
            table.add_row(
                str(les["id"]),
                les["site"],
                ", ".join(f"{c:.0f}" for c in les["center_mm"]),
                f"{les['diameter_mm']:.1f}",
                "—" if suv is None else f"{suv:.1f}",
                str(les["krenning_true"]),
                les["sstr_expression"],
                les["fdg_avidity"],
                les["glp1r_expression"],
            )
        console.print(table)
    console.print(f"truth: {paths['manifest']}", highlight=False)
