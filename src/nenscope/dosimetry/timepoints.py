"""Serial quantitative SPECT time points: activity at acquisition, times, registration, masks.

A :class:`TimePoint` is an activity-concentration volume (Bq/ml, ``highdicom.Volume``) with
its time after administration. :func:`timepoint_from_study` makes one from a
``nenscope.imaging.Study``: images decay-corrected to the administration (DecayCorrection
ADMIN) or to the scan start (START) are brought back to the activity present at acquisition,
because the time-activity curve must contain the physical decay (MIRD Pamphlet 21).

:func:`register_rigid` aligns a later time point to the first with SimpleITK (Euler 3-D,
Mattes mutual information, multi-resolution), on the CTs when both time points have one, else
on the emission images; masks drawn on the first time point then apply to all.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

import highdicom as hd
import numpy as np
import SimpleITK as sitk
from pydicom.dataset import Dataset

from nenscope.errors import MissingDataError, NenscopeError
from nenscope.imaging.identity import PatientIdentity, check_same_patient
from nenscope.imaging.registration import register, resample_with
from nenscope.knowledge.radionuclides import half_life_s


@dataclass
class TimePoint:
    """One quantitative time point.

    activity: activity concentration at acquisition (Bq/ml) in PATIENT coordinates;
    time_h: hours from administration to acquisition; ct: its CT (for registration) or None;
    label: where it came from (folder name); identity: its patient and study (checked across
    time points); header: one header of its series (for the RT Dose's patient and study).
    """

    activity: hd.Volume
    time_h: float
    ct: hd.Volume | None = None
    label: str = ""
    identity: PatientIdentity | None = None
    header: Dataset | None = field(default=None, repr=False)


def _hours(a: datetime, b: datetime) -> float:
    return (a - b).total_seconds() / 3600.0


def timepoint_from_study(
    study, *, label: str = "", injection_datetime: datetime | None = None
) -> TimePoint:
    """Turn a loaded ``nenscope.imaging.Study`` (NM/PT, Units BQML) into a :class:`TimePoint`.

    Decay correction is undone: ADMIN values are multiplied by e^(−λ·(t_acq − t_inj)), START
    values by e^(−λ·(t_acq − t_start)) (t_acq: earliest acquisition date/time), NONE left as
    they are.
    """
    units = (study.units or "").upper()
    if units != "BQML":
        raise NenscopeError(
            f"{label or 'time point'}: units {study.units!r}; dosimetry needs quantitative "
            "SPECT/PET in Bq/ml (Units (0054,1001) BQML)"
        )
    inj = injection_datetime or study.injection_datetime
    if inj is None:
        raise MissingDataError(
            f"administration date/time of {label or 'a time point'}",
            tag="RadiopharmaceuticalStartDateTime (0018,1078)",
            option="--injection-time",
        )
    acq = study.acquisition_datetime or study.scan_start_datetime
    if acq is None:
        raise MissingDataError(
            f"acquisition date/time of {label or 'a time point'}",
            tag="AcquisitionDateTime (0008,002A)",
        )
    hl_s = study.half_life_s
    if not hl_s:
        hl_s = half_life_s(study.radionuclide or "Lu-177")
    lam_per_h = math.log(2.0) / (hl_s / 3600.0)
    corr = (study.decay_correction or "NONE").upper()
    own = getattr(study, "decay_to_acquisition_factor", None)
    if own is not None and study.injection_datetime is not None and study.half_life_s:
        factor = float(own())  # the imaging layer's rule (PS3.3 C.8.9.1.1.11), same as below
    elif corr == "ADMIN":
        factor = math.exp(-lam_per_h * _hours(acq, inj))
    elif corr == "START":
        start = study.scan_start_datetime or acq
        factor = math.exp(-lam_per_h * _hours(acq, start))
    elif corr == "NONE":
        factor = 1.0
    else:
        raise NenscopeError(f"{label}: unknown DecayCorrection {study.decay_correction!r}")
    arr = np.asarray(study.emission.array, dtype=np.float32) * np.float32(factor)
    t_h = _hours(acq, inj)  # the acquisition start, as in MIRD Pamphlet 23 practice
    if t_h <= 0:
        raise NenscopeError(f"{label}: acquisition is not after the administration ({t_h:.2f} h)")
    _check_activity(arr, label)
    identity = getattr(study, "identity", None)
    if identity is not None:
        identity = replace(identity, label=label or f"time point at {t_h:.1f} h")
    return TimePoint(
        study.emission.with_array(arr),
        t_h,
        study.ct,
        label,
        identity=identity,
        header=getattr(study, "source_header", None),
    )


def _check_activity(arr: np.ndarray, label: str) -> None:
    """Activity concentrations must be finite; negative values beyond reconstruction noise
    (more than 5 % of the maximum) mean a wrong rescale, not activity."""
    if not np.all(np.isfinite(arr)):
        raise NenscopeError(
            f"{label or 'time point'}: the activity image holds NaN or infinite values"
        )
    top = float(arr.max()) if arr.size else 0.0
    if top <= 0:
        raise NenscopeError(f"{label or 'time point'}: the activity image holds no positive value")
    if float(arr.min()) < -0.05 * top:
        raise NenscopeError(
            f"{label or 'time point'}: activity down to {float(arr.min()):.3g} Bq/ml "
            f"(maximum {top:.3g}): negative beyond reconstruction noise; check the rescale"
        )


def register_rigid(
    moving: TimePoint, fixed: TimePoint, *, use_ct: bool = True, seed: int = 0, affine: bool = False
) -> tuple[hd.Volume, sitk.Transform]:
    """Rigidly register ``moving`` to ``fixed``; return its activity on the fixed grid.

    :func:`nenscope.imaging.registration.register` (Mattes mutual information, fixed seed,
    multi-resolution), on the CTs when both time points have one. With ``affine`` a
    12-parameter affine transform replaces the rigid one (breathing, posture).
    """
    if use_ct and moving.ct is not None and fixed.ct is not None:
        f_vol, m_vol = fixed.ct, moving.ct
    else:
        f_vol, m_vol = fixed.activity, moving.activity
    tx, _ = register(
        f_vol, m_vol, affine=affine, seed=seed, what=f"time point {moving.label} (to {fixed.label})"
    )
    moved = resample_with(moving.activity.astype(np.float32), fixed.activity, tx, order=1)
    return moved.with_array(np.ascontiguousarray(moved.array)), tx  # C order, as elsewhere


def on_reference_grid(
    timepoints: Sequence[TimePoint], *, register: bool, affine: bool = False
) -> list[np.ndarray]:
    """Activity arrays of all time points on the grid of the first (registered or resampled)."""
    from nenscope.imaging import resample_to

    ref = timepoints[0]
    out = [np.asarray(ref.activity.array, dtype=np.float32)]
    for tp in timepoints[1:]:
        same = tp.activity.spatial_shape == ref.activity.spatial_shape and np.allclose(
            tp.activity.affine, ref.activity.affine, atol=1e-3
        )
        if register:
            vol, _ = register_rigid(tp, ref, affine=affine)
        elif same:
            vol = tp.activity
        else:
            vol = resample_to(tp.activity, ref.activity, order=1)
        out.append(np.asarray(vol.array, dtype=np.float32))
    return out


def spacing_mm(vol: hd.Volume) -> tuple[float, float, float]:
    """Voxel size along the array axes (mm): ``vol.spacing`` (kept for ``cli/dosimetry.py``)."""
    return vol.spacing


def masks_from_labels(labels: np.ndarray, names: dict[int, str]) -> dict[str, np.ndarray]:
    """Boolean masks per ROI name from a label array and ``{label: name}``."""
    out: dict[str, np.ndarray] = {}
    arr = np.asarray(labels)
    for value, name in sorted(names.items()):
        m = arr == value
        if m.any():
            out[name] = out[name] | m if name in out else m
    return out


def dosimetry_from_timepoints(
    timepoints: Sequence[TimePoint],
    masks: dict[str, np.ndarray] | Sequence[dict[str, np.ndarray]],
    *,
    method: str = "voxel",
    register: bool | None = None,
    affine: bool = False,
    density_g_per_ml: float = 1.0,
    allow_mismatch: bool = False,
    **kwargs,
):
    """Dosimetry from serial time points and region masks.

    Args:
        timepoints: quantitative time points (any order; sorted by time here).
        masks: ``{name: bool array}`` on the first (earliest) time point's grid, or one such
            dict per time point (same order as ``timepoints``), e.g. from
            ``nenscope.imaging.read_mask`` + :func:`masks_from_labels`.
        method: ``organ``, ``voxel``, ``local`` or ``single-time-point``.
        register: rigidly register later time points to the first (default: when masks are
            given on one time point only, or for the voxel methods).
        affine: register with an affine instead of a rigid transform.
        allow_mismatch: accept time points of different patients (research data), with a
            warning in the result; otherwise such a mix is refused.
        **kwargs: passed to :func:`nenscope.dosimetry.pipeline.dosimetry_from_images`.
    """
    from nenscope.dosimetry.pipeline import RegionTAC, dosimetry_from_images

    if not timepoints:
        raise NenscopeError("no time points (option --timepoint)")
    identity_notes = check_same_patient(timepoints, allow_mismatch=allow_mismatch)
    per_tp = not isinstance(masks, dict)
    order = sorted(range(len(timepoints)), key=lambda i: timepoints[i].time_h)
    tps = [timepoints[i] for i in order]
    if per_tp:
        masks_list = list(masks)  # type: ignore[arg-type]
        if len(masks_list) != len(timepoints):
            raise NenscopeError(
                f"--masks given {len(masks_list)} times for {len(timepoints)} time points: "
                "give it once (masks on the first time point) or once per time point"
            )
        masks_list = [masks_list[i] for i in order]
        ref_masks = masks_list[0]
    else:
        ref_masks = masks  # type: ignore[assignment]
    if register is None:
        register = (not per_tp) or method in ("voxel", "local")
    times = [tp.time_h for tp in tps]
    needs_ref_grid = (not per_tp) or method in ("voxel", "local")
    arrays = on_reference_grid(tps, register=register, affine=affine) if needs_ref_grid else None
    tacs = None
    if per_tp:
        names = list(ref_masks)
        tacs = []
        for name in names:
            act = []
            for tp, mk in zip(tps, masks_list, strict=True):
                if name not in mk:
                    raise NenscopeError(f"region {name!r} is missing from the masks of {tp.label}")
                vox_ml = float(np.prod(tp.activity.spacing)) / 1000.0
                a = np.asarray(tp.activity.array)
                act.append(
                    float(a[np.asarray(mk[name], bool)].sum(dtype=np.float64)) * vox_ml * 1e-6
                )
            m0 = np.asarray(ref_masks[name], bool)
            mass = float(m0.sum() * np.prod(tps[0].activity.spacing) / 1000.0 * density_g_per_ml)
            tacs.append(RegionTAC(name, times, act, mass))
        if arrays is None:  # organ / single time point: no common grid needed
            arrays = [np.asarray(tps[0].activity.array, dtype=np.float32)] * len(tps)
    result = dosimetry_from_images(
        arrays,
        times,
        tps[0].activity.spacing,
        ref_masks,
        method=method,
        density_g_per_ml=density_g_per_ml,
        tacs=tacs,
        **kwargs,
    )
    result.warnings[:0] = identity_notes
    return result
