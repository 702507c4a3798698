"""``nenscope dosimetry``: PRRT (177Lu) dosimetry from serial SPECT/CT or a TAC table."""

from __future__ import annotations

import csv
import json
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from nenscope.atomic import write_text_atomic
from nenscope.cli import app
from nenscope.cli._common import console, err_console, print_json, to_json
from nenscope.errors import NenscopeError


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


def _read_previous(path: Path):
    from nenscope.dosimetry.radiobiology import CycleDose, previous_from_rows

    if not path.is_file():
        raise NenscopeError(f"previous-cycles file {path} not found (option --previous-cycles)")
    if path.suffix.lower() == ".json":  # an earlier dosimetry.json
        doc = json.loads(path.read_text())
        return [
            CycleDose(r["name"], float(r["dose_gy"]), r.get("bed_gy"), r.get("t_eff_h"))
            for r in doc.get("regions", [])
            if r.get("dose_gy") is not None
        ]
    with open(path, newline="") as fh:
        return previous_from_rows(list(csv.DictReader(fh)))


def _read_label_names(path: Path) -> dict[int, str]:
    """``{label: name}`` from CSV ``label,name`` or JSON (``{label: name}`` or a manifest with
    ``organ_labels``)."""
    if not path.is_file():
        raise NenscopeError(f"label-names file {path} not found (option --label-names)")
    try:
        if path.suffix.lower() == ".json":
            doc = json.loads(path.read_text())
            doc = doc.get("organ_labels", doc)
            return {int(k): str(v) for k, v in doc.items()}
        with open(path, newline="") as fh:
            return {int(r["label"]): r["name"].strip() for r in csv.DictReader(fh)}
    except (ValueError, KeyError, AttributeError, TypeError) as exc:
        raise NenscopeError(
            f"{path}: expected CSV label,name or JSON {{label: name}} ({exc})"
        ) from exc


def _rename(names: dict[int, str], label_names: dict[int, str] | None) -> dict[int, str]:
    if not label_names:
        return names
    return {k: label_names.get(k, v) for k, v in names.items()}


def _select(masks: dict, keep: list[str] | None) -> dict:
    if not keep:
        return masks
    missing = [k for k in keep if k not in masks]
    if missing:
        raise NenscopeError(f"--region {', '.join(missing)} not among the ROIs: {', '.join(masks)}")
    return {k: masks[k] for k in keep}


def _fmt(v, spec: str = ".3g") -> str:
    return "—" if v is None else format(v, spec)


@app.command("dosimetry")
def dosimetry(
    timepoint: Annotated[
        list[Path] | None,
        typer.Option(
            "--timepoint",
            help="Folder or zip of one quantitative 177Lu SPECT/CT time point (Units BQML); "
            "repeat for each time point.",
        ),
    ] = None,
    tac_csv: Annotated[
        Path | None,
        typer.Option(
            "--tac-csv",
            help="Table region,time_h,activity_mbq[,mass_g]: time in hours after "
            "administration, activity in MBq, organ/tumour mass in g.",
        ),
    ] = None,
    masks: Annotated[
        list[Path] | None,
        typer.Option(
            "--masks",
            help="Mask file or folder (NIfTI, DICOM-SEG, RTSTRUCT); once (drawn on the first "
            "time point) or once per time point. Each ROI becomes a region under its name.",
        ),
    ] = None,
    auto_masks: Annotated[
        bool,
        typer.Option(
            "--auto-masks",
            help="Regions from the analysis layer instead of --masks: liver, each lesion (tumour, "
            "sphere model), and kidney_left, kidney_right and spleen (when found) delineated on "
            "the first time point's SUV (body weight; needs the patient weight). Give "
            "--psf-fwhm-mm too: kidney activities need the partial-volume correction.",
        ),
    ] = False,
    label_names: Annotated[
        Path | None,
        typer.Option(
            "--label-names",
            help="Names of the labels of a NIfTI mask: CSV label,name or JSON {label: name} "
            "(a simulator truth manifest.json works: its organ_labels).",
        ),
    ] = None,
    regions: Annotated[
        list[str] | None,
        typer.Option(
            "--region", help="Keep only this region (ROI name); repeat for several. Default: all."
        ),
    ] = None,
    injected_gbq: Annotated[
        float | None,
        typer.Option(
            "--injected-gbq", help="Administered activity in GBq (default: the DICOM header's)."
        ),
    ] = None,
    injection_time: Annotated[
        datetime | None,
        typer.Option(
            "--injection-time",
            help="Administration date and time (ISO, e.g. 2024-05-02T09:30) when the header lacks it.",
        ),
    ] = None,
    sex: Annotated[
        str | None,
        typer.Option("--sex", help="F or M: phantom for the S-values (default: header, else M)."),
    ] = None,
    method: Annotated[
        Method,
        typer.Option(
            "--method",
            help="organ (S-values), voxel (kernel convolution), local (local deposition) or "
            "single-time-point (Hänscheid).",
        ),
    ] = Method.organ,
    kinetics: Annotated[
        Kinetics,
        typer.Option("--kinetics", help="Time-activity model: auto (AIC), a model, or trapezoid."),
    ] = Kinetics.auto,
    stp_time_h: Annotated[
        float | None,
        typer.Option(
            "--stp-time-h",
            help="Single-time-point method: the time point to use, in hours (default: nearest "
            "to 72-96 h).",
        ),
    ] = None,
    previous_cycles: Annotated[
        Path | None,
        typer.Option(
            "--previous-cycles",
            help="Earlier cycles: CSV region,dose_gy[,bed_gy][,t_eff_h] (Gy, Gy, h) or an earlier "
            "dosimetry.json.",
        ),
    ] = None,
    risk_factors: Annotated[
        bool,
        typer.Option(
            "--risk-factors", help="Kidney risk factors present: BED limit 28 Gy instead of 40 Gy."
        ),
    ] = False,
    register: Annotated[
        bool | None,
        typer.Option(
            "--register/--no-register",
            help="Rigid registration of later time points to the first (default: on when masks "
            "are given once or for voxel/local).",
        ),
    ] = None,
    affine: Annotated[
        bool,
        typer.Option(
            "--affine", help="Register with an affine (12-parameter) instead of a rigid transform."
        ),
    ] = False,
    psf_fwhm_mm: Annotated[
        float | None,
        typer.Option(
            "--psf-fwhm-mm",
            help="SPECT resolution (FWHM, mm) for partial-volume correction of the regional "
            "activities by the geometric transfer matrix; off when not given.",
        ),
    ] = None,
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            help="Output folder: dosimetry.json, report.html; voxel/local also dose_gy.nii.gz and "
            "dose_gy_rtdose.dcm (DICOM RT Dose), in Gy.",
        ),
    ] = Path("dosimetry_out"),
    json_: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Absorbed dose (Gy), Gy/GBq and BED (Gy) per region after a 177Lu PRRT cycle."""
    from nenscope.dosimetry import pipeline
    from nenscope.dosimetry.report import write_report

    if bool(timepoint) == bool(tac_csv):
        raise NenscopeError("give either --timepoint DIR (one per time point) or --tac-csv FILE")
    if sex is not None and sex.strip().upper()[:1] not in ("M", "F"):
        raise typer.BadParameter("F or M", param_hint="--sex")
    if auto_masks and masks:
        raise NenscopeError("--auto-masks and --masks are mutually exclusive: give one")
    if auto_masks and tac_csv:
        raise NenscopeError("--auto-masks needs images (--timepoint), not --tac-csv")
    previous = _read_previous(previous_cycles) if previous_cycles else []
    ref_volume = study_uid = None
    if tac_csv:
        if psf_fwhm_mm is not None:
            raise NenscopeError("--psf-fwhm-mm applies to images (--timepoint), not to --tac-csv")
        if method in (Method.voxel, Method.local):
            raise NenscopeError("--method voxel/local needs images (--timepoint), not --tac-csv")
        tacs = pipeline.read_tac_csv(tac_csv)
        result = pipeline.dosimetry_from_tacs(
            tacs,
            sex=(sex or "M").upper()[:1],
            injected_gbq=injected_gbq,
            method=method.value,
            kinetics_model=kinetics.value,
            stp_time_h=stp_time_h,
            previous=previous,
            risk_factors=risk_factors,
        )
    else:
        result, ref_volume, study_uid = _from_images(
            timepoint or [],
            masks or [],
            injected_gbq=injected_gbq,
            injection_time=injection_time,
            sex=sex,
            method=method.value,
            kinetics=kinetics.value,
            stp_time_h=stp_time_h,
            previous=previous,
            risk_factors=risk_factors,
            register=register,
            affine=affine,
            psf_fwhm_mm=psf_fwhm_mm,
            label_names=_read_label_names(label_names) if label_names else None,
            keep=regions,
            auto_masks=auto_masks,
        )
    out.mkdir(parents=True, exist_ok=True)
    doc = result.to_dict()
    write_text_atomic(out / "dosimetry.json", to_json(doc) + "\n")
    write_report(result, out / "report.html")
    if result.dose_map_gy is not None and ref_volume is not None:
        from nenscope.dosimetry.rtdose import write_rtdose
        from nenscope.imaging import save_nifti

        dose_vol = ref_volume.with_array(result.dose_map_gy.astype(np.float32))
        save_nifti(dose_vol, out / "dose_gy.nii.gz")
        write_rtdose(dose_vol, out / "dose_gy_rtdose.dcm", study_instance_uid=study_uid)
    if json_:
        print_json(doc)
        return
    table = Table(title=f"177Lu dosimetry ({result.method}, {result.sex})")
    cols = ["region", "mass g", "kinetics", "T_eff h", "TIA MBq·h", "dose Gy", "Gy/GBq", "BED Gy"]
    if previous:
        cols += ["total Gy", "total BED Gy"]
    for col in cols:
        table.add_column(col, overflow="fold")
    for r in doc["regions"]:
        row = [
            r["name"],
            _fmt(r["mass_g"], ".4g"),
            r["fit_model"],
            _fmt(r["t_eff_h"], ".3g"),
            _fmt(r["tia_mbq_h"], ".0f"),
            _fmt(r["dose_gy"]),
            _fmt(r["dose_gy_per_gbq"]),
            _fmt(r["bed_gy"]),
        ]
        if previous:
            row += [_fmt(r["cumulative_dose_gy"]), _fmt(r["cumulative_bed_gy"])]
        table.add_row(*row)
    console.print(table)
    for w in result.warnings:
        console.print(f"[yellow]warning:[/yellow] {w}")
    console.print(f"written: {out / 'dosimetry.json'}, {out / 'report.html'}")


def _from_images(
    timepoint_dirs: list[Path],
    mask_paths: list[Path],
    *,
    injected_gbq,
    injection_time,
    sex,
    method,
    kinetics,
    stp_time_h,
    previous,
    risk_factors,
    register,
    affine,
    psf_fwhm_mm,
    label_names=None,
    keep=None,
    auto_masks=False,
):
    from nenscope.dosimetry.timepoints import (
        dosimetry_from_timepoints,
        masks_from_labels,
        timepoint_from_study,
    )
    from nenscope.imaging import load_study, read_mask

    if not mask_paths and not auto_masks:
        raise NenscopeError(
            "image-based dosimetry needs region masks (option --masks or --auto-masks)"
        )
    if mask_paths and len(mask_paths) not in (1, len(timepoint_dirs)):
        raise NenscopeError(
            f"--masks given {len(mask_paths)} times for {len(timepoint_dirs)} time points: "
            "give it once or once per time point"
        )
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    )
    with progress:
        task = progress.add_task("loading time points", total=len(timepoint_dirs) + 2)
        studies, tps = [], []
        for d in timepoint_dirs:
            st = load_study(d)
            studies.append(st)
            tps.append(timepoint_from_study(st, label=str(d), injection_datetime=injection_time))
            progress.advance(task)
        progress.update(task, description="reading masks")
        auto_warnings: list[str] = []
        if auto_masks:
            from nenscope.dosimetry.automasks import masks_from_analysis

            first = min(range(len(tps)), key=lambda i: tps[i].time_h)
            progress.update(task, description="analysing the first time point")
            try:
                suv = studies[first].suv("bw")
            except NenscopeError as exc:
                raise NenscopeError(
                    f"--auto-masks needs the SUV of the first time point: {exc}"
                ) from exc
            found = masks_from_analysis(
                suv, studies[first].ct, agent_class="sstr", psf_fwhm_mm=psf_fwhm_mm
            )
            masks = _select(found.masks, keep)
            auto_warnings = found.warnings
        elif len(mask_paths) == 1:
            first = min(range(len(tps)), key=lambda i: tps[i].time_h)
            labels, names = read_mask(mask_paths[0], tps[first].activity)
            masks = _select(
                masks_from_labels(np.asarray(labels.array), _rename(names, label_names)), keep
            )
        else:
            masks = []
            for p, tp in zip(mask_paths, tps, strict=True):
                labels, names = read_mask(p, tp.activity)
                masks.append(
                    _select(
                        masks_from_labels(np.asarray(labels.array), _rename(names, label_names)),
                        keep,
                    )
                )
        progress.advance(task)
        st0 = studies[0]
        if injected_gbq is None and st0.injected_activity_bq:
            injected_gbq = st0.injected_activity_bq / 1e9
        if sex is None:
            sex = st0.patient.sex or "M"
        progress.update(task, description=f"{method} dosimetry")
        run = _auto_masks_with_pvc if (auto_masks and psf_fwhm_mm) else dosimetry_from_timepoints
        result = run(
            tps,
            masks,
            method=method,
            register=register,
            affine=affine,
            sex=sex.upper()[:1],
            injected_gbq=injected_gbq,
            kinetics_model=kinetics,
            stp_time_h=stp_time_h,
            previous=previous,
            risk_factors=risk_factors,
            psf_fwhm_mm=psf_fwhm_mm,
        )
        progress.advance(task)
    result.warnings[:0] = auto_warnings
    first = min(range(len(tps)), key=lambda i: tps[i].time_h)
    return result, tps[first].activity, studies[first].study_instance_uid


def _auto_masks_with_pvc(tps, masks, *, method, register, affine, psf_fwhm_mm, **kwargs):
    """--auto-masks with --psf-fwhm-mm: organ activities from a GTM over the organ regions.

    The pipeline's own GTM would give every small lesion of the analysis its own region (a
    few voxels: noisy, even negative activities); ``automasks.pvc_tacs`` groups them.
    """
    from nenscope.dosimetry.automasks import pvc_tacs
    from nenscope.dosimetry.pipeline import dosimetry_from_images
    from nenscope.dosimetry.timepoints import on_reference_grid, spacing_mm

    tps = sorted(tps, key=lambda tp: tp.time_h)
    arrays = on_reference_grid(tps, register=True if register is None else register, affine=affine)
    times = [tp.time_h for tp in tps]
    spacing = spacing_mm(tps[0].activity)
    tacs = pvc_tacs(arrays, times, spacing, masks, psf_fwhm_mm)
    return dosimetry_from_images(arrays, times, spacing, masks, method=method, tacs=tacs, **kwargs)
