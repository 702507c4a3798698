"""``nenscope dosimetry``: PRRT (177Lu) dosimetry from serial SPECT/CT or a TAC table."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from nenscope.cli import app
from nenscope.cli._common import (
    AllowMismatchOption,
    KeepOption,
    console,
    err_console,
    print_json,
)
from nenscope.report.format import fmt

if TYPE_CHECKING:
    from nenscope.jobs.dosimetry import DosimetryRun


class Method(StrEnum):
    organ = "organ"
    voxel = "voxel"
    local = "local"
    single_time_point = "single-time-point"


class Kinetics(StrEnum):
    auto = "auto"
    mono = "mono-exp"
    mono_uptake = "mono-exp-uptake"
    bi = "bi-exp"
    tri = "tri-exp"
    trapezoid = "trapezoid"


_TimepointOption = Annotated[
    list[Path] | None,
    typer.Option(
        "--timepoint",
        help="Folder or zip of one quantitative 177Lu SPECT/CT time point (Units BQML); "
        "repeat for each time point.",
    ),
]
_TacCsvOption = Annotated[
    Path | None,
    typer.Option(
        "--tac-csv",
        help="Table region,time_h,activity_mbq[,mass_g]: time in hours after "
        "administration, activity in MBq, organ/tumour mass in g.",
    ),
]
_MasksOption = Annotated[
    list[Path] | None,
    typer.Option(
        "--masks",
        help="Mask file or folder (NIfTI, DICOM-SEG, RTSTRUCT); once (drawn on the first "
        "time point) or once per time point. Each ROI becomes a region under its name. With "
        "--auto-masks, one file adds its regions (e.g. an L2-L4 red-marrow VOI).",
    ),
]
_AutoMasksOption = Annotated[
    bool,
    typer.Option(
        "--auto-masks",
        help="Regions from the analysis layer instead of --masks: liver, each lesion (tumour, "
        "sphere model), and kidney_left, kidney_right and spleen (when found) delineated on "
        "the first time point's SUV (body weight; needs the patient weight). Give "
        "--psf-fwhm-mm too: kidney activities need the partial-volume correction.",
    ),
]
_LabelNamesOption = Annotated[
    Path | None,
    typer.Option(
        "--label-names",
        help="Names of the labels of a NIfTI mask: CSV label,name or JSON {label: name} "
        "(a simulator truth manifest.json works: its organ_labels).",
    ),
]
_RegionsOption = Annotated[
    list[str] | None,
    typer.Option(
        "--region", help="Keep only this region (ROI name); repeat for several. Default: all."
    ),
]
_InjectedGbqOption = Annotated[
    float | None,
    typer.Option(
        "--injected-gbq", help="Administered activity in GBq (default: the DICOM header's)."
    ),
]
_InjectionTimeOption = Annotated[
    datetime | None,
    typer.Option(
        "--injection-time",
        help="Administration date and time (ISO, e.g. 2024-05-02T09:30) when the header lacks it.",
    ),
]
_SexOption = Annotated[
    str | None,
    typer.Option("--sex", help="F or M: phantom for the S-values (default: header, else M)."),
]
_MethodOption = Annotated[
    Method,
    typer.Option(
        "--method",
        help="organ (S-values), voxel (kernel convolution), local (local deposition) or "
        "single-time-point (Hänscheid).",
    ),
]
_KineticsOption = Annotated[
    Kinetics,
    typer.Option("--kinetics", help="Time-activity model: auto (AIC), a model, or trapezoid."),
]
_StpTimeHOption = Annotated[
    float | None,
    typer.Option(
        "--stp-time-h",
        help="Single-time-point method: the time point to use, in hours (default: nearest "
        "to 72-96 h).",
    ),
]
_PreviousCyclesOption = Annotated[
    Path | None,
    typer.Option(
        "--previous-cycles",
        help="Earlier cycles: CSV region,dose_gy[,bed_gy][,t_eff_h] (Gy, Gy, h) or an earlier "
        "dosimetry.json.",
    ),
]
_RiskFactorsOption = Annotated[
    bool,
    typer.Option(
        "--risk-factors", help="Kidney risk factors present: BED limit 28 Gy instead of 40 Gy."
    ),
]
_RegisterOption = Annotated[
    bool | None,
    typer.Option(
        "--register/--no-register",
        help="Rigid registration of later time points to the first (default: on when masks "
        "are given once or for voxel/local).",
    ),
]
_AffineOption = Annotated[
    bool,
    typer.Option(
        "--affine", help="Register with an affine (12-parameter) instead of a rigid transform."
    ),
]
_PsfFwhmMmOption = Annotated[
    float | None,
    typer.Option(
        "--psf-fwhm-mm",
        help="SPECT resolution (FWHM, mm) for partial-volume correction of the regional "
        "activities by the geometric transfer matrix; off when not given.",
    ),
]
_OutOption = Annotated[
    Path,
    typer.Option(
        "--out",
        help="Output folder: dosimetry.json, report.html; voxel/local also dose_gy.nii.gz and "
        "dose_gy_rtdose.dcm (DICOM RT Dose), in Gy.",
    ),
]
_JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
_BloodCsvOption = Annotated[
    Path | None,
    typer.Option(
        "--blood-csv",
        help="Blood samples time_h,activity_kbq_per_ml (activity at sampling) for the "
        "blood-based red-marrow dose (EANM 2022); otherwise a region named L2-L4 gives the "
        "image-based one.",
    ),
]
_PlanOption = Annotated[
    Path | None,
    typer.Option("--plan", help="plan.json of nenscope plan: measured beside predicted doses."),
]
_CalibrationOption = Annotated[
    float | None,
    typer.Option(
        "--calibration-uncertainty",
        help="Relative SD of the SPECT calibration factor (default 0.05) for the uncertainty.",
    ),
]
_PlannedCyclesOption = Annotated[
    int | None,
    typer.Option("--planned-cycles", help="Cycles of the whole regimen (default 4)."),
]
_PlannedGbqOption = Annotated[
    float | None,
    typer.Option("--planned-gbq", help="Activity of each remaining cycle, GBq (default 7.4)."),
]
_WeightOption = Annotated[
    float | None,
    typer.Option("--weight-kg", help="Patient weight for the red-marrow mass (default: header)."),
]


@app.command("dosimetry")
def dosimetry(
    timepoint: _TimepointOption = None,
    tac_csv: _TacCsvOption = None,
    masks: _MasksOption = None,
    auto_masks: _AutoMasksOption = False,
    label_names: _LabelNamesOption = None,
    regions: _RegionsOption = None,
    injected_gbq: _InjectedGbqOption = None,
    injection_time: _InjectionTimeOption = None,
    sex: _SexOption = None,
    method: _MethodOption = Method.organ,
    kinetics: _KineticsOption = Kinetics.auto,
    stp_time_h: _StpTimeHOption = None,
    previous_cycles: _PreviousCyclesOption = None,
    risk_factors: _RiskFactorsOption = False,
    register: _RegisterOption = None,
    affine: _AffineOption = False,
    psf_fwhm_mm: _PsfFwhmMmOption = None,
    blood_csv: _BloodCsvOption = None,
    plan: _PlanOption = None,
    calibration_uncertainty: _CalibrationOption = None,
    planned_cycles: _PlannedCyclesOption = None,
    planned_gbq: _PlannedGbqOption = None,
    weight_kg: _WeightOption = None,
    out: _OutOption = Path("dosimetry_out"),
    json_: _JsonOption = False,
    keep: KeepOption = False,
    allow_mismatch: AllowMismatchOption = False,
) -> None:
    """Absorbed dose (Gy), Gy/GBq and BED (Gy) per region after a 177Lu PRRT cycle."""
    from nenscope.jobs.dosimetry import DosimetryOptions, run_dosimetry

    if sex is not None and sex.strip().upper()[:1] not in ("M", "F"):
        raise typer.BadParameter("F or M", param_hint="--sex")
    options = DosimetryOptions(
        method=method.value,
        kinetics=kinetics.value,
        sex=sex,
        injected_gbq=injected_gbq,
        injection_time=injection_time,
        stp_time_h=stp_time_h,
        risk_factors=risk_factors,
        register=register,
        affine=affine,
        psf_fwhm_mm=psf_fwhm_mm,
        calibration_uncertainty=calibration_uncertainty,
        planned_cycles=planned_cycles,
        planned_gbq=planned_gbq,
        weight_kg=weight_kg,
        allow_mismatch=allow_mismatch,
    )
    with err_console.status("dosimetry…") as status:
        run = run_dosimetry(
            out,
            timepoints=timepoint or [],
            tac_csv=tac_csv,
            masks=masks or [],
            auto_masks=auto_masks,
            label_names=label_names,
            regions=regions,
            previous_cycles=previous_cycles,
            blood_csv=blood_csv,
            plan=plan,
            options=options,
            progress=lambda stage: status.update(f"{stage}…"),
            keep=keep,
        )
    if json_:
        print_json(run.document)
        return
    _print_table(run)


def _print_projection(doc: dict) -> None:
    """Kidneys and marrow over the regimen, the next-cycle activity, and the plan comparison."""
    proj = doc.get("projection") or {}
    n = len(proj.get("remaining_gbq", []))
    for row in proj.get("regions", []):
        console.print(
            f"{row['name']}: after {n} more cycle(s) {row['projected_dose_gy']:.3g} Gy, "
            f"BED {row['projected_bed_gy']:.3g} Gy"
        )
    nxt = proj.get("next_cycle")
    if nxt:
        console.print(
            f"next cycle: at most {nxt['max_activity_gbq']:.1f} GBq "
            f"({nxt['limiting_region']}, {nxt['limit']})"
        )
    for c in doc.get("plan_comparison") or []:
        ratio = c["measured_over_predicted"]
        console.print(
            f"{c['region']}: measured {c['measured_gy_per_gbq']:.3g} Gy/GBq, predicted "
            f"{c['predicted_gy_per_gbq']:.3g}" + ("" if ratio is None else f" (x{ratio:.2f})")
        )


def _print_table(run: DosimetryRun) -> None:
    """The regions as a Rich table, then the warnings and the files written."""
    result = run.result
    table = Table(title=f"177Lu dosimetry ({result.method}, {result.sex})")
    cols = ["region", "mass g", "kinetics", "T_eff h", "TIA MBq·h", "dose Gy", "± SD"]
    cols += ["Gy/GBq", "BED Gy"]
    if run.previous:
        cols += ["total Gy", "total BED Gy"]
    for col in cols:
        table.add_column(col, overflow="fold")
    for r in run.document["regions"]:
        row = [
            r["name"],
            fmt(r["mass_g"], ".4g"),
            r["fit_model"],
            fmt(r["t_eff_h"], ".3g"),
            fmt(r["tia_mbq_h"], ".0f"),
            fmt(r["dose_gy"], ".3g"),
            fmt(r["dose_std_gy"], ".2g"),
            fmt(r["dose_gy_per_gbq"], ".3g"),
            fmt(r["bed_gy"], ".3g"),
        ]
        if run.previous:
            row += [fmt(r["cumulative_dose_gy"], ".3g"), fmt(r["cumulative_bed_gy"], ".3g")]
        table.add_row(*row)
    console.print(table)
    _print_projection(run.document)
    for w in result.warnings:
        console.print(f"[yellow]warning:[/yellow] {w}")
    files = run.files
    console.print(f"written: {files['dosimetry']}, {files['report']}")
