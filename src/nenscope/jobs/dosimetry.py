"""The dosimetry job: one 177Lu PRRT cycle from serial SPECT/CT (or a TAC table) to its outputs.

:func:`run_dosimetry` is ``nenscope dosimetry`` without the command line: it reads the earlier
cycles and the label names, loads the time points, makes the region masks (files drawn on
the first or on every time point, or ``auto_masks`` from the analysis layer, with the
partial-volume route when a PSF is given), runs :mod:`nenscope.dosimetry` and writes, each
atomically, in ``out_dir``:

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

from nenscope.atomic import write_text_atomic
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
    partial-volume correction of regional activities (None: off).
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
    options: DosimetryOptions | None = None,
    progress: Progress | None = None,
) -> DosimetryRun:
    """Dosimetry of one cycle from image time points or a TAC table; write all outputs.

    Parameters
    ----------
    out_dir : output folder (created).
    timepoints : folders or zips, one quantitative SPECT/CT (Bq/ml) per time point.
    tac_csv : table ``region,time_h,activity_mbq[,mass_g]`` instead of images.
    masks : mask files (NIfTI, DICOM-SEG, RTSTRUCT): one (on the first time point) or one per
        time point; each ROI becomes a region under its name.
    auto_masks : regions from the analysis layer on the first time point's SUV instead.
    label_names : names of a NIfTI mask's labels (CSV ``label,name`` or JSON).
    regions : keep only these ROI names (None: all).
    previous_cycles : earlier cycles (CSV or an earlier ``dosimetry.json``).
    options : :class:`DosimetryOptions`.
    progress : called with a short stage name before each stage.
    """
    from nenscope.dosimetry import dosimetry_from_tacs, read_tac_csv

    opts = options or DosimetryOptions()
    say = progress or (lambda _stage: None)
    if bool(timepoints) == bool(tac_csv):
        raise NenscopeError("give either --timepoint DIR (one per time point) or --tac-csv FILE")
    if auto_masks and masks:
        raise NenscopeError("--auto-masks and --masks are mutually exclusive: give one")
    if auto_masks and tac_csv:
        raise NenscopeError("--auto-masks needs images (--timepoint), not --tac-csv")
    previous = read_previous_cycles(previous_cycles) if previous_cycles else []
    reference = None
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
        result, reference = _from_images(
            list(timepoints),
            list(masks),
            opts,
            previous=previous,
            auto_masks=auto_masks,
            label_names=names,
            keep=regions,
            say=say,
        )
    say("write")
    document = result.to_dict()
    files = _write_outputs(Path(out_dir), result, document, reference)
    return DosimetryRun(result, document, files, previous)


@dataclass
class _Reference:
    """The first (earliest) time point: the grid of the dose map and the study it belongs to."""

    activity: hd.Volume
    study_instance_uid: str | None


def _write_outputs(
    out: Path, result: DosimetryResult, document: dict[str, Any], reference: _Reference | None
) -> dict[str, Path]:
    from nenscope.report import write_dosimetry_report

    out.mkdir(parents=True, exist_ok=True)
    files = {
        "dosimetry": write_text_atomic(out / "dosimetry.json", to_json(document) + "\n"),
        "report": write_dosimetry_report(result, out / "report.html"),
    }
    if result.dose_map_gy is not None and reference is not None:
        from nenscope.dosimetry.rtdose import write_rtdose
        from nenscope.imaging import save_nifti

        dose_vol = reference.activity.with_array(result.dose_map_gy.astype(np.float32))
        files["dose_nifti"] = save_nifti(dose_vol, out / "dose_gy.nii.gz")
        files["rtdose"] = write_rtdose(
            dose_vol,
            out / "dose_gy_rtdose.dcm",
            study_instance_uid=reference.study_instance_uid,
        )
    return files


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
) -> tuple[DosimetryResult, _Reference]:
    """Load the time points, make the masks, run the dosimetry; the result and its reference."""
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
        st = load_study(d)
        studies.append(st)
        tps.append(timepoint_from_study(st, label=str(d), injection_datetime=opts.injection_time))
    first = min(range(len(tps)), key=lambda i: tps[i].time_h)
    auto_warnings: list[str] = []
    if auto_masks:
        say("analysing the first time point")
        masks, auto_warnings = _auto_masks(studies[first], opts.psf_fwhm_mm, keep)
    else:
        say("reading masks")
        masks = _file_masks(mask_paths, tps, first, label_names, keep)
    st0 = studies[0]
    injected_gbq = opts.injected_gbq
    if injected_gbq is None and st0.injected_activity_bq:
        injected_gbq = st0.injected_activity_bq / 1e9
    sex = opts.sex if opts.sex is not None else (st0.patient.sex or "M")
    say(f"{opts.method} dosimetry")
    run = _auto_masks_with_pvc if (auto_masks and opts.psf_fwhm_mm) else dosimetry_from_timepoints
    result = run(
        tps,
        masks,
        method=opts.method,
        register=opts.register,
        affine=opts.affine,
        sex=sex.upper()[:1],
        injected_gbq=injected_gbq,
        kinetics_model=opts.kinetics,
        stp_time_h=opts.stp_time_h,
        previous=previous,
        risk_factors=opts.risk_factors,
        psf_fwhm_mm=opts.psf_fwhm_mm,
    )
    result.warnings[:0] = auto_warnings
    return result, _Reference(tps[first].activity, studies[first].study_instance_uid)


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


def _auto_masks(
    study, psf_fwhm_mm: float | None, keep: Sequence[str] | None
) -> tuple[Masks, list[str]]:
    """Regions of the analysis layer on the study's SUV (body weight), and their warnings."""
    from nenscope.dosimetry.automasks import masks_from_analysis

    try:
        suv = study.suv("bw")
    except NenscopeError as exc:
        raise NenscopeError(f"--auto-masks needs the SUV of the first time point: {exc}") from exc
    found = masks_from_analysis(suv, study.ct, agent_class="sstr", psf_fwhm_mm=psf_fwhm_mm)
    return _select(found.masks, keep), found.warnings


def _auto_masks_with_pvc(
    tps: list[TimePoint],
    masks: Masks,
    *,
    method: str,
    register: bool | None,
    affine: bool,
    psf_fwhm_mm: float,
    **kwargs: Any,
) -> DosimetryResult:
    """Automatic masks with a PSF: organ activities from a GTM over the organ regions.

    The pipeline's own GTM would give every small lesion of the analysis its own region (a
    few voxels: noisy, even negative activities); ``automasks.pvc_tacs`` groups them.
    """
    from nenscope.dosimetry import dosimetry_from_images
    from nenscope.dosimetry.automasks import pvc_tacs
    from nenscope.dosimetry.timepoints import on_reference_grid, spacing_mm

    tps = sorted(tps, key=lambda tp: tp.time_h)
    arrays = on_reference_grid(tps, register=True if register is None else register, affine=affine)
    times = [tp.time_h for tp in tps]
    spacing = spacing_mm(tps[0].activity)
    tacs = pvc_tacs(arrays, times, spacing, masks, psf_fwhm_mm)
    return dosimetry_from_images(arrays, times, spacing, masks, method=method, tacs=tacs, **kwargs)
