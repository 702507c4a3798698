"""The dosimetry job: one 177Lu PRRT cycle from serial SPECT/CT (or a TAC table) to its outputs.

:func:`run_dosimetry` is ``nenscope dosimetry`` without the command line: it reads the earlier
cycles and the label names, loads the time points, makes the region masks (files drawn on
the first or on every time point, or ``auto_masks`` from the analysis layer, with the
partial-volume route when a PSF is given), runs :mod:`nenscope.dosimetry` and writes, each
as one result set in ``out_dir`` (a temporary folder beside it, renamed into place when every
file is complete: :func:`nenscope.atomic.result_folder`; an earlier set is replaced as a whole,
or kept with ``keep``, and a run that fails leaves none):

- ``dosimetry.json``       the :class:`~nenscope.dosimetry.DosimetryResult` document
- ``report.html``          self-contained report (TAC plots, dose table, DVHs)
- ``dose_gy.nii.gz``       voxel dose map (Gy), voxel/local methods only
- ``dose_gy_rtdose.dcm``   the same as DICOM RT Dose, referencing the first time point's study
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import highdicom as hd
import numpy as np

from nenscope.atomic import check_output_folder, result_folder, write_text_atomic
from nenscope.dosimetry import DosimetryResult, TimePoint
from nenscope.dosimetry.radiobiology import CycleDose
from nenscope.errors import NenscopeError
from nenscope.jobs._json import to_json

Progress = Callable[[str], None]
Masks = dict[str, np.ndarray]


@dataclass(frozen=True)
class DosimetryOptions:
    """How to compute: the settings of one dosimetry run (``nenscope dosimetry`` options).

    method: ``organ`` (S-values), ``voxel`` (kernel convolution), ``local`` (local deposition)
    or ``single-time-point`` (Hänscheid); kinetics: ``auto`` (AIC), a model name of
    :data:`nenscope.dosimetry.MODELS` or ``trapezoid``; sex: ``F``/``M`` for the phantom
    S-values (None: the DICOM header, else M); injected_gbq: administered activity in GBq
    (None: the header's); injection_time: administration date and time when the header lacks
    it; stp_time_h: the single time point to use, in h (None: nearest to 72-96 h);
    risk_factors: kidney BED limit 28 Gy instead of 40 Gy; register: register later time
    points to the first (None: when masks are given once, or for voxel/local); affine: affine
    instead of rigid registration; psf_fwhm_mm: SPECT resolution (FWHM, mm) for the
    partial-volume correction of regional activities (None: off); calibration_uncertainty:
    relative SD of the SPECT calibration factor (None: ``dosimetry/data/uncertainty.toml``);
    planned_cycles: cycles of the whole regimen (None: the catalogue's, 4); planned_gbq:
    activity of each remaining cycle (None: the catalogue's 7.4 GBq); weight_kg: patient
    weight for the red-marrow mass (None: the DICOM header's); allow_mismatch: accept time
    points of different patients (research data), with a warning.
    """

    method: str = "organ"
    kinetics: str = "auto"
    sex: str | None = None
    injected_gbq: float | None = None
    injection_time: datetime | None = None
    stp_time_h: float | None = None
    risk_factors: bool = False
    register: bool | None = None
    affine: bool = False
    psf_fwhm_mm: float | None = None
    calibration_uncertainty: float | None = None
    planned_cycles: int | None = None
    planned_gbq: float | None = None
    weight_kg: float | None = None
    allow_mismatch: bool = False


@dataclass
class DosimetryRun:
    """What :func:`run_dosimetry` produced.

    result: the dosimetry record; document: its ``dosimetry.json`` dictionary; files: output
    name → path; previous: the earlier cycles that entered the cumulative dose and BED.
    """

    result: DosimetryResult
    document: dict[str, Any]
    files: dict[str, Path] = field(default_factory=dict)
    previous: list[CycleDose] = field(default_factory=list)


def read_previous_cycles(path: Path) -> list[CycleDose]:
    """Earlier cycles from a CSV ``region,dose_gy[,bed_gy][,t_eff_h]`` (Gy, Gy, h) or from an
    earlier ``dosimetry.json`` (its regions with a dose)."""
    from nenscope.dosimetry.radiobiology import previous_from_rows

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


def read_label_names(path: Path) -> dict[int, str]:
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


def run_dosimetry(
    out_dir: str | os.PathLike,
    *,
    timepoints: Sequence[Path] = (),
    tac_csv: Path | None = None,
    masks: Sequence[Path] = (),
    auto_masks: bool = False,
    label_names: Path | None = None,
    regions: Sequence[str] | None = None,
    previous_cycles: Path | None = None,
    blood_csv: Path | None = None,
    plan: Path | None = None,
    options: DosimetryOptions | None = None,
    progress: Progress | None = None,
    keep: bool = False,
) -> DosimetryRun:
    """Dosimetry of one cycle from image time points or a TAC table; write all outputs.

    Parameters
    ----------
    out_dir : output folder (created).
    timepoints : folders or zips, one quantitative SPECT/CT (Bq/ml) per time point.
    tac_csv : table ``region,time_h,activity_mbq[,mass_g]`` instead of images.
    masks : mask files (NIfTI, DICOM-SEG, RTSTRUCT): one (on the first time point) or one per
        time point; each ROI becomes a region under its name. With ``auto_masks`` one file
        adds its regions (e.g. an L2-L4 red-marrow VOI) to the automatic ones, taking their
        voxels.
    auto_masks : automatic regions (:func:`nenscope.dosimetry.automasks.masks_from_timepoints`).
    label_names : names of a NIfTI mask's labels (CSV ``label,name`` or JSON).
    regions : keep only these ROI names (None: all).
    previous_cycles : earlier cycles (CSV or an earlier ``dosimetry.json``).
    blood_csv : blood samples ``time_h,activity_kbq_per_ml`` for the blood-based red marrow.
    plan : the ``plan.json`` of ``nenscope plan``: measured doses are compared with it.
    options : :class:`DosimetryOptions`.
    progress : called with a short stage name before each stage.
    keep : refuse to replace an earlier result set in ``out_dir`` (``--keep``).
    """
    from nenscope.dosimetry import dosimetry_from_tacs, read_tac_csv

    opts = options or DosimetryOptions()
    say = progress or (lambda _stage: None)
    if bool(timepoints) == bool(tac_csv):
        raise NenscopeError("give either --timepoint DIR (one per time point) or --tac-csv FILE")
    if auto_masks and len(masks) > 1:
        raise NenscopeError(
            "with --auto-masks, --masks adds regions drawn on the first time point: give it once"
        )
    if auto_masks and tac_csv:
        raise NenscopeError("--auto-masks needs images (--timepoint), not --tac-csv")
    out = check_output_folder(out_dir, keep=keep)  # before the work, not after
    previous = read_previous_cycles(previous_cycles) if previous_cycles else []
    reference = None
    geometry: _Geometry | None = None
    if tac_csv:
        if opts.psf_fwhm_mm is not None:
            raise NenscopeError("--psf-fwhm-mm applies to images (--timepoint), not to --tac-csv")
        if opts.method in ("voxel", "local"):
            raise NenscopeError("--method voxel/local needs images (--timepoint), not --tac-csv")
        say(f"{opts.method} dosimetry")
        result = dosimetry_from_tacs(
            read_tac_csv(tac_csv),
            sex=(opts.sex or "M").upper()[:1],
            injected_gbq=opts.injected_gbq,
            method=opts.method,
            kinetics_model=opts.kinetics,
            stp_time_h=opts.stp_time_h,
            previous=previous,
            risk_factors=opts.risk_factors,
        )
    else:
        names = read_label_names(label_names) if label_names else None
        result, reference, geometry = _from_images(
            list(timepoints),
            list(masks),
            opts,
            previous=previous,
            auto_masks=auto_masks,
            label_names=names,
            keep=regions,
            say=say,
        )
    say("assessment")
    _assess(result, opts, previous, geometry, blood_csv, plan)
    say("write")
    with result_folder(out, keep=keep) as tmp:
        document, files = _write_outputs(tmp, result, reference)
    files = {k: out / p.relative_to(tmp) for k, p in files.items()}
    return DosimetryRun(result, document, files, previous)


@dataclass
class _Geometry:
    """The regions on the reference grid (for the volume uncertainty) and the header weight."""

    masks: Masks
    spacing_mm: tuple[float, float, float]
    weight_kg: float | None


def _n_previous(previous: list[CycleDose]) -> int:
    """Earlier cycles: the most rows any region has in the previous-cycles table."""
    counts: dict[str, int] = {}
    for c in previous:
        counts[c.region] = counts.get(c.region, 0) + 1
    return max(counts.values(), default=0)


def _assess(
    result: DosimetryResult,
    opts: DosimetryOptions,
    previous: list[CycleDose],
    geometry: _Geometry | None,
    blood_csv: Path | None,
    plan: Path | None,
) -> None:
    """Red marrow, uncertainty per region, the regimen projected, the plan compared."""
    from nenscope.dosimetry import assessment
    from nenscope.dosimetry.marrow import read_blood_csv
    from nenscope.knowledge.tracers import get_agent

    weight = opts.weight_kg or (geometry.weight_kg if geometry else None)
    result.warnings += assessment.mass_warnings(result, weight_kg=weight)
    blood = read_blood_csv(blood_csv) if blood_csv else None
    assessment.marrow_dose(result, blood=blood, weight_kg=weight, previous=previous)
    assessment.attach_uncertainty(
        result,
        masks=geometry.masks if geometry else None,
        spacing_mm=geometry.spacing_mm if geometry else None,
        psf_fwhm_mm=opts.psf_fwhm_mm,
        calibration_rel=opts.calibration_uncertainty,
    )
    agent = get_agent("177Lu-DOTATATE")
    n_total = opts.planned_cycles or agent.cycles or 4
    gbq = opts.planned_gbq or agent.activity.mbq / 1000.0
    remaining = [gbq] * max(n_total - 1 - _n_previous(previous), 0)
    result.projection = assessment.project_regimen(
        result, remaining_gbq=remaining, risk_factors=opts.risk_factors
    )
    result.warnings += assessment.projection_warnings(result.projection)
    if plan is not None:
        if not plan.is_file():
            raise NenscopeError(f"plan file {plan} not found (option --plan)")
        result.plan_comparison = assessment.compare_with_plan(result, json.loads(plan.read_text()))


@dataclass
class _Reference:
    """The first (earliest) time point: the grid of the dose map, the study it belongs to and
    one header of its series (the RT Dose copies its patient and study)."""

    activity: hd.Volume
    study_instance_uid: str | None
    header: Any = None
    patient_id: str | None = None


def _write_outputs(
    out: Path, result: DosimetryResult, reference: _Reference | None
) -> tuple[dict[str, Any], dict[str, Path]]:
    """Every output into ``out`` (the temporary result folder); the document and the files."""
    from nenscope.report import write_dosimetry_report

    files: dict[str, Path] = {}
    if result.dose_map_gy is not None and reference is not None:
        from nenscope.dosimetry.rtdose import write_rtdose
        from nenscope.imaging import save_nifti

        dose_vol = reference.activity.with_array(result.dose_map_gy.astype(np.float32))
        files["dose_nifti"] = save_nifti(dose_vol, out / "dose_gy.nii.gz")
        notes: list[str] = []
        files["rtdose"] = write_rtdose(
            dose_vol,
            out / "dose_gy_rtdose.dcm",
            source=reference.header,
            study_instance_uid=reference.study_instance_uid,
            notes=notes,
        )
        result.warnings += [f"RT Dose: {n}" for n in notes]
    document = result.to_dict()
    files["dosimetry"] = write_text_atomic(out / "dosimetry.json", to_json(document) + "\n")
    files["report"] = write_dosimetry_report(
        result,
        out / "report.html",
        patient_id=reference.patient_id if reference is not None else None,
        study_instance_uid=reference.study_instance_uid if reference is not None else None,
    )
    return document, files


def _from_images(
    timepoint_dirs: list[Path],
    mask_paths: list[Path],
    opts: DosimetryOptions,
    *,
    previous: list[CycleDose],
    auto_masks: bool,
    label_names: dict[int, str] | None,
    keep: Sequence[str] | None,
    say: Progress,
) -> tuple[DosimetryResult, _Reference, _Geometry]:
    """Load the time points, make the masks, run the dosimetry; the result, its reference and
    the regions' geometry."""
    from nenscope.dosimetry import dosimetry_from_timepoints, timepoint_from_study
    from nenscope.imaging import load_study

    if not mask_paths and not auto_masks:
        raise NenscopeError(
            "image-based dosimetry needs region masks (option --masks or --auto-masks)"
        )
    if mask_paths and len(mask_paths) not in (1, len(timepoint_dirs)):
        raise NenscopeError(
            f"--masks given {len(mask_paths)} times for {len(timepoint_dirs)} time points: "
            "give it once or once per time point"
        )
    studies, tps = [], []
    for i, d in enumerate(timepoint_dirs, start=1):
        say(f"loading time point {i}/{len(timepoint_dirs)}")
        st = load_study(d, allow_mismatch=opts.allow_mismatch)
        studies.append(st)
        tps.append(timepoint_from_study(st, label=str(d), injection_datetime=opts.injection_time))
    first = min(range(len(tps)), key=lambda i: tps[i].time_h)
    st0 = studies[0]
    injected_gbq = opts.injected_gbq
    if injected_gbq is None and st0.injected_activity_bq:
        injected_gbq = st0.injected_activity_bq / 1e9
    sex = (opts.sex if opts.sex is not None else (st0.patient.sex or "M")).upper()[:1]
    kwargs = dict(
        method=opts.method,
        sex=sex,
        injected_gbq=injected_gbq,
        kinetics_model=opts.kinetics,
        stp_time_h=opts.stp_time_h,
        previous=previous,
        risk_factors=opts.risk_factors,
    )
    auto_warnings: list[str] = []
    if auto_masks:
        say("automatic regions")
        weight = opts.weight_kg or st0.patient.weight_kg
        extra = _file_masks(mask_paths, tps, first, label_names, None) if mask_paths else {}
        result, masks, auto_warnings = _auto_dosimetry(
            tps, studies[first].ct, opts, weight, keep, kwargs, extra
        )
    else:
        say("reading masks")
        masks = _file_masks(mask_paths, tps, first, label_names, keep)
        say(f"{opts.method} dosimetry")
        result = dosimetry_from_timepoints(
            tps,
            masks,
            register=opts.register,
            affine=opts.affine,
            allow_mismatch=opts.allow_mismatch,
            psf_fwhm_mm=opts.psf_fwhm_mm,
            **kwargs,
        )
    header_notes = [
        f"{tp.label}: {w}" for st, tp in zip(studies, tps, strict=True) for w in st.warnings
    ]
    result.warnings[:0] = header_notes + auto_warnings  # the header warnings every command shows
    from nenscope.dosimetry.timepoints import spacing_mm

    geometry = _Geometry(
        masks if isinstance(masks, dict) else masks[first],
        spacing_mm(tps[first].activity),
        st0.patient.weight_kg,
    )
    identity = studies[first].identity
    reference = _Reference(
        tps[first].activity,
        studies[first].study_instance_uid,
        tps[first].header,
        identity.patient_id if identity is not None else None,
    )
    return result, reference, geometry


def _select(masks: Masks, keep: Sequence[str] | None) -> Masks:
    """Only the regions named in ``keep`` (all without it)."""
    if not keep:
        return masks
    missing = [k for k in keep if k not in masks]
    if missing:
        raise NenscopeError(f"--region {', '.join(missing)} not among the ROIs: {', '.join(masks)}")
    return {k: masks[k] for k in keep}


def _file_masks(
    mask_paths: list[Path],
    tps: list[TimePoint],
    first: int,
    label_names: dict[int, str] | None,
    keep: Sequence[str] | None,
) -> Masks | list[Masks]:
    """Masks from files: one file on the first time point, or one per time point (in order)."""
    from nenscope.dosimetry.timepoints import masks_from_labels
    from nenscope.imaging import read_mask

    def one(path: Path, tp: TimePoint) -> Masks:
        labels, names = read_mask(path, tp.activity)
        if label_names:
            names = {k: label_names.get(k, v) for k, v in names.items()}
        return _select(masks_from_labels(np.asarray(labels.array), names), keep)

    if len(mask_paths) == 1:
        return one(mask_paths[0], tps[first])
    return [one(p, tp) for p, tp in zip(mask_paths, tps, strict=True)]


def _auto_dosimetry(
    tps: list[TimePoint],
    ct: hd.Volume | None,
    opts: DosimetryOptions,
    weight_kg: float | None,
    keep: Sequence[str] | None,
    kwargs: dict[str, Any],
    extra: Masks,
) -> tuple[DosimetryResult, Masks, list[str]]:
    """Automatic regions on the registered time points, then the dosimetry with them.

    The regions are delineated once on the reference grid (:func:`nenscope.dosimetry.
    automasks.masks_from_timepoints`); ``extra`` regions from a mask file take their voxels;
    with a PSF the organ activities come from a GTM over
    the organ regions with all lesions as one region (``automasks.pvc_tacs``: a few-voxel
    lesion as its own GTM region makes the solution noisy).
    """
    from nenscope.dosimetry import dosimetry_from_images
    from nenscope.dosimetry._data import lambda_phys_per_h
    from nenscope.dosimetry.automasks import masks_from_timepoints, pvc_tacs
    from nenscope.dosimetry.timepoints import on_reference_grid, spacing_mm
    from nenscope.imaging.identity import check_same_patient

    gbq = kwargs["injected_gbq"]
    if not weight_kg or not gbq:
        raise NenscopeError(
            "--auto-masks needs the SUV: the patient weight (header or --weight-kg) and the "
            "administered activity (header or --injected-gbq)"
        )
    identity_notes = check_same_patient(tps, allow_mismatch=opts.allow_mismatch)
    tps = sorted(tps, key=lambda tp: tp.time_h)
    register = True if opts.register is None else opts.register
    arrays = on_reference_grid(tps, register=register, affine=opts.affine)
    times = [tp.time_h for tp in tps]
    lam = lambda_phys_per_h()
    factors = [weight_kg * 1000.0 / (gbq * 1e9 * np.exp(-lam * t)) for t in times]
    auto = masks_from_timepoints(
        arrays,
        times,
        factors,
        tps[0].activity.affine,
        ct,
        psf_fwhm_mm=opts.psf_fwhm_mm,
    )
    masks = {n: m & ~np.logical_or.reduce(list(extra.values())) for n, m in auto.masks.items()}
    masks = _select({**{n: m for n, m in masks.items() if m.any()}, **extra}, keep)
    spacing = spacing_mm(tps[0].activity)
    tacs = pvc_tacs(arrays, times, spacing, masks, opts.psf_fwhm_mm) if opts.psf_fwhm_mm else None
    result = dosimetry_from_images(arrays, times, spacing, masks, tacs=tacs, **kwargs)
    when = ", ".join(f"{t:g} h" for t in auto.delineation_times_h)
    result.notes.append(f"automatic regions delineated on the mean SUV of {when}")
    return result, masks, [*identity_notes, *auto.warnings]
