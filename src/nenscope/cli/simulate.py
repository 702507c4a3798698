"""``nenscope simulate``: a virtual NET patient (or NEMA IEC phantom) scanned by a simulated
PET or SPECT camera, written as DICOM with its ground truth."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

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


_TracerOption = Annotated[
    str,
    typer.Option(
        "--tracer",
        help="Agent from the catalogue, e.g. 68Ga-DOTATATE, 18F-FDG, "
        "68Ga-exendin-4, 177Lu-DOTATATE (see `nenscope tracer`).",
    ),
]
_OutOption = Annotated[
    Path, typer.Option("--out", help="Output folder (pet/, ct/, truth/ are created in it).")
]
_SeedOption = Annotated[
    int, typer.Option("--seed", min=0, help="Random seed; the same seed gives the same study.")
]
_LesionsOption = Annotated[
    int,
    typer.Option("--lesions", min=0, max=40, help="Number of lesions (count; patient phantom)."),
]
_PhantomOption = Annotated[
    str, typer.Option("--phantom", help="patient (virtual NET patient) or nema-iec.")
]
_ScannerOption = Annotated[
    str | None,
    typer.Option(
        "--scanner",
        help="pet or spect (default: PET for positron emitters, SPECT for 111In/123I/177Lu).",
    ),
]
_MinutesPerBedOption = Annotated[
    float,
    typer.Option(
        "--minutes-per-bed",
        min=0.05,
        max=60.0,
        help="PET acquisition time per bed position, in minutes.",
    ),
]
_InjectedMbqOption = Annotated[
    float | None,
    typer.Option(
        "--injected-mbq",
        min=0.1,
        max=20000.0,
        help="Injected activity in MBq (default: the catalogue's rule, "
        "e.g. 2 MBq/kg for 68Ga-DOTATATE, 7400 MBq for 177Lu).",
    ),
]
_TimepointsHOption = Annotated[
    str | None,
    typer.Option(
        "--timepoints-h",
        help="Scan times after injection in hours, comma-separated "
        "(default: the agent's uptake time; 177Lu: 4,24,96,168).",
    ),
]
_TumourTypeOption = Annotated[
    str,
    typer.Option(
        "--tumour-type",
        help="G1, G2, G3 or insulinoma (sets SSTR, FDG, GLP-1R expression of the lesions).",
    ),
]
_SexOption = Annotated[str, typer.Option("--sex", help="M or F.")]
_WeightKgOption = Annotated[
    float | None,
    typer.Option(
        "--weight-kg",
        min=25.0,
        max=250.0,
        help="Patient weight in kg (default ICRP 89 reference: 73 M, 60 F).",
    ),
]
_HeightCmOption = Annotated[
    float | None,
    typer.Option(
        "--height-cm", min=100.0, max=230.0, help="Patient height in cm (default 176 M, 163 F)."
    ),
]
_VoxelMmOption = Annotated[
    float | None,
    typer.Option(
        "--voxel-mm",
        min=1.0,
        max=12.0,
        help="Isotropic voxel size in mm (default 4.0 PET, 4.8 SPECT).",
    ),
]
_PetModelOption = Annotated[
    str, typer.Option("--pet-model", help="PET scanner model: earl (EARL1-like) or digital.")
]
_IterationsOption = Annotated[
    int | None, typer.Option("--iterations", min=1, max=50, help="OSEM iterations (count).")
]
_SubsetsOption = Annotated[
    int | None,
    typer.Option(
        "--subsets",
        min=1,
        max=60,
        help="OSEM subsets (count; must divide 120 PET angles or 64 SPECT views).",
    ),
]
_PsfOption = Annotated[
    bool | None, typer.Option("--psf/--no-psf", help="Model the PET PSF in the reconstruction.")
]
_JsonOutOption = Annotated[bool, typer.Option("--json", help="Print the manifest summary as JSON.")]


@app.command("simulate")
def simulate(
    tracer: _TracerOption,
    out: _OutOption,
    seed: _SeedOption = 0,
    lesions: _LesionsOption = 5,
    phantom: _PhantomOption = "patient",
    scanner: _ScannerOption = None,
    minutes_per_bed: _MinutesPerBedOption = 2.5,
    injected_mbq: _InjectedMbqOption = None,
    timepoints_h: _TimepointsHOption = None,
    tumour_type: _TumourTypeOption = "G2",
    sex: _SexOption = "M",
    weight_kg: _WeightKgOption = None,
    height_cm: _HeightCmOption = None,
    voxel_mm: _VoxelMmOption = None,
    pet_model: _PetModelOption = "earl",
    iterations: _IterationsOption = None,
    subsets: _SubsetsOption = None,
    psf: _PsfOption = None,
    json_out: _JsonOutOption = False,
) -> None:
    """Simulate a PET/SPECT study of a virtual NET patient with a known truth.

    Writes OUT/pet (PT, or NM for SPECT; one folder per time point when several), OUT/ct,
    OUT/truth/organs.nii.gz, OUT/truth/lesions.nii.gz and OUT/truth/manifest.json, as one set
    (OUT appears when complete; an earlier set is replaced as a whole).
    """
    from nenscope.atomic import check_output_folder, result_folder
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

    check_output_folder(out)
    try:
        with progress, result_folder(out) as tmp:
            sim = simulate_study(config, progress=report)
            paths = {
                k: out / v.relative_to(tmp)
                for k, v in write_study(sim, tmp, progress=report).items()
            }
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
