"""SUV factors from DICOM headers, following the QIBA vendor-neutral SUV pseudo-code.

Reference: QIBA FDG-PET/CT technical committee, "Vendor-neutral pseudo-code for SUV
calculation" (QIBA wiki, 2013, "Standardized Uptake Value (SUV)"), summarised:

* scan start = SeriesDate/SeriesTime, unless an AcquisitionDate/Time of the series is earlier
  (post-processed series whose series time is when it was re-created): then the GE private
  scan date/time (0009,100D) if present, else back-computed from the Frame Reference Time,
  else the earliest acquisition date/time (:mod:`nenscope.imaging.suvtime`);
* injection = RadiopharmaceuticalStartDateTime (0018,1078), else
  RadiopharmaceuticalStartTime (0018,1072) on the series date;
* Units BQML: SUVbw factor = W[g] / (A_inj · 2^(−Δt/T½)), Δt = scan start − injection;
  Units CNTS (Philips): factor = private SUV scale factor (7053,1000);
  Units GML/CM2ML: the stored SUV of SUV Type (0054,1006) converted to SUVbw
  (:mod:`nenscope.imaging.suvtype`).

Beyond the pseudo-code (which covers DecayCorrection START only):
DecayCorrection ADMIN means the values are decay-corrected to the injection time, so the
injected activity is used undecayed; NONE means each value is the activity during its own
acquisition, so PET slices are referred to the earliest acquisition one by one
(:func:`~nenscope.imaging.suvtime.slice_decay_factors`) and the activity is decayed to that
time. Other SUV kinds scale SUVbw by (body-size measure / weight): SUL (Janmahasatian LBM),
SUV-LBM (James), SUV-BSA (Du Bois, BSA in m² in place of weight in kg, the convention of MIRP
and most software; ×10 gives the cm²/ml form), SUV-IBW (Sugawara).
"""

from __future__ import annotations

import math
import re
import struct
from dataclasses import dataclass, field
from datetime import datetime

from pydicom.dataset import Dataset
from pydicom.multival import MultiValue

from nenscope.errors import MissingDataError, NenscopeError
from nenscope.imaging._dicom import get, get_str, parse_dt
from nenscope.imaging.bodysize import (
    bsa_dubois_m2,
    ibw_sugawara_kg,
    lbm_james_kg,
    lbm_janmahasatian_kg,
)
from nenscope.imaging.headercheck import header_notes, number
from nenscope.imaging.radiopharmaceutical import (
    agent_from_item,
    nuclide_from_item,
    radiopharmaceutical_item,
)
from nenscope.imaging.study import Patient, SuvFactors, SuvOverrides
from nenscope.imaging.suvtime import (
    decayed_activity,
    injection_time,
    scan_start,
    slice_decay_factors,
)
from nenscope.imaging.suvtype import stored_suv_bw_factor
from nenscope.knowledge.radionuclides import half_life_s

#: Header and catalogue half-lives that differ by more than this (relative) raise a warning.
HALF_LIFE_RTOL = 0.01
_PHILIPS = "Philips PET Private Group"
#: Header values outside these ranges are treated as absent (with a warning): typing errors,
#: not patients or activities.
WEIGHT_RANGE_KG = (0.2, 700.0)
HEIGHT_RANGE_M = (0.2, 3.0)
ACTIVITY_RANGE_BQ = (1e3, 1e13)


@dataclass
class SuvHeader:
    """Everything the SUV needs, as read from the headers (after overrides), and the factors.

    ``slice_factors`` (DecayCorrection NONE, PET): per-dataset factors (keyed by ``id`` of the
    header) that refer each slice to ``acquisition_datetime``; apply them while loading.
    """

    factors: SuvFactors
    units: str | None
    patient: Patient
    agent: str | None = None
    radionuclide: str | None = None
    injected_activity_bq: float | None = None
    injection_datetime: datetime | None = None
    scan_start_datetime: datetime | None = None
    acquisition_datetime: datetime | None = None
    decay_correction: str | None = None
    half_life_s: float | None = None
    frame_duration_s: float | None = None
    slice_factors: dict[int, float] | None = None
    warnings: list[str] = field(default_factory=list)


def _private_float(ds: Dataset, element: int) -> float | None:
    """Philips private (7053,10xx) value as float (DS, FL/FD, or UN bytes)."""
    value = None
    try:
        block = ds.private_block(0x7053, _PHILIPS)
        if element in block:
            value = block[element].value
    except Exception:
        value = None
    if value is None:
        try:
            elem = ds.get((0x7053, 0x1000 + element))
            value = elem.value if elem is not None else None
        except Exception:
            value = None
    if value is None:
        return None
    try:
        if isinstance(value, bytes):
            text = value.decode("ascii", "ignore").strip("\x00 ").split("\\")[0]
            if not re.fullmatch(r"[+-]?[\d.]+([eE][+-]?\d+)?", text):
                if len(value) == 8:
                    return struct.unpack("<d", value)[0]
                if len(value) == 4:
                    return struct.unpack("<f", value)[0]
                return None
            out = float(text)
        elif isinstance(value, list | tuple | MultiValue):
            out = float(value[0])
        else:
            out = float(value)
    except Exception:
        return None
    return out if math.isfinite(out) and out > 0 else None


def _age_years(text: str | None) -> float | None:
    if not text:
        return None
    m = re.fullmatch(r"(\d{1,3})([DWMY]?)", text.strip().upper())
    if not m:
        return None
    n = float(m.group(1))
    return {"D": n / 365.25, "W": n * 7 / 365.25, "M": n / 12.0}.get(m.group(2), n)


def _weight_kg(ds: Dataset, ov: SuvOverrides, warnings: list[str], reasons: list[str]):
    if ov.weight_kg is not None:
        weight = ov.weight_kg
    else:
        weight, bad = number(ds, "PatientWeight")
        if bad:
            reasons.append(f"{bad}; supply the weight with --weight-kg")
    if weight is not None and not WEIGHT_RANGE_KG[0] <= weight <= WEIGHT_RANGE_KG[1]:
        if weight != 0:
            warnings.append(
                f"patient weight {weight:g} kg is implausible (PatientWeight (0010,1030)); ignored"
            )
        weight = None
    return weight


def _height_m(ds: Dataset, ov: SuvOverrides, warnings: list[str], reasons: list[str]):
    if ov.height_cm is not None:
        height = ov.height_cm / 100.0
    else:
        height, bad = number(ds, "PatientSize")
        if bad:
            reasons.append(f"{bad}; supply the height with --height-cm")
        if height is not None and 3.0 < height <= 300.0:  # entered in cm by mistake
            warnings.append(
                f"PatientSize (0010,1020) = {height:g} looks like cm; read as {height / 100:g} m"
            )
            height = height / 100.0
    if height is not None and not HEIGHT_RANGE_M[0] <= height <= HEIGHT_RANGE_M[1]:
        if height != 0:
            warnings.append(
                f"patient height {height:g} m is implausible (PatientSize (0010,1020)); ignored"
            )
        height = None
    return height


def read_patient(
    ds: Dataset, overrides: SuvOverrides, warnings: list[str], reasons: list[str] | None = None
) -> Patient:
    """Sex, weight (kg), height (m), age from the header, with overrides applied.

    A weight or height that is present but not a number is a reason in ``reasons`` (it is
    never read as absent); an implausible one is ignored with a warning.
    """
    reasons = warnings if reasons is None else reasons
    sex = (get_str(ds, "PatientSex") or "").upper()[:1]
    return Patient(
        sex=sex if sex in ("F", "M") else None,
        weight_kg=_weight_kg(ds, overrides, warnings, reasons),
        height_m=_height_m(ds, overrides, warnings, reasons),
        age_years=_age_years(get_str(ds, "PatientAge")),
    )


def read_suv_header(
    datasets: list[Dataset],
    *,
    modality: str,
    units: str | None,
    overrides: SuvOverrides | None = None,
) -> SuvHeader:
    """Read the SUV-related header fields of a PT/NM series and compute the SUV factors.

    Args:
        datasets: headers of the series (any order; the first one gives the patient and
            radiopharmaceutical, all of them the acquisition times).
        modality: ``"PT"`` or ``"NM"``.
        units: the pixel units after rescale (``"BQML"``, ``"CNTS"``, ``"GML"``...).
        overrides: user-supplied values replacing the header's.

    Returns:
        :class:`SuvHeader`. A factor that cannot be computed is ``None`` and the reason
        (naming the DICOM tag and CLI option) is in ``factors.warnings``; values read
        leniently (dates with separators, an unknown character set) are in ``warnings``.

    Raises:
        NenscopeError: an override is malformed, or the header is too broken to read.
    """
    try:
        return _read_suv_header(datasets, modality=modality, units=units, overrides=overrides)
    except NenscopeError:
        raise
    except (
        ValueError,
        TypeError,
        IndexError,
        KeyError,
        AttributeError,
        OverflowError,
        ZeroDivisionError,
    ) as exc:
        raise NenscopeError(
            f"SUV header cannot be read ({type(exc).__name__}: {str(exc)[:160]})"
        ) from exc


def _injected_activity_bq(
    item: Dataset | None, ov: SuvOverrides, warnings: list[str], reasons: list[str]
) -> float | None:
    """RadionuclideTotalDose (0018,1074) in Bq (or the override), None when absent/implausible."""
    activity, bad = number(item, "RadionuclideTotalDose")
    if ov.injected_mbq is not None:
        activity = ov.injected_mbq * 1e6
    elif bad:
        reasons.append(f"{bad}; supply the activity with --injected-mbq")
    elif activity is not None and 0 < activity < 1e4:
        warnings.append(
            f"RadionuclideTotalDose (0018,1074) = {activity:g} is implausible in Bq; read as MBq"
        )
        activity *= 1e6
    if activity is not None and not ACTIVITY_RANGE_BQ[0] <= activity <= ACTIVITY_RANGE_BQ[1]:
        warnings.append(
            f"injected activity {activity:g} Bq is implausible (RadionuclideTotalDose (0018,1074)); ignored"
        )
        activity = None
    return activity


def _decay_correction(
    ds: Dataset, modality: str, injection: datetime | None, warnings: list[str]
) -> tuple[str, datetime | None]:
    """(DecayCorrection START/ADMIN/NONE, the Enhanced PET DecayCorrectionDateTime or None)."""
    decay = (get_str(ds, "DecayCorrection") or "").upper() or None
    decay_ref: datetime | None = None
    if decay is None and get_str(ds, "DecayCorrected") is not None:
        # Enhanced PET (PS3.3 C.8.22.4): DecayCorrected YES/NO + DecayCorrectionDateTime
        if get_str(ds, "DecayCorrected").upper() == "YES":
            decay_ref = parse_dt(get_str(ds, "DecayCorrectionDateTime"))
            decay = "ADMIN" if decay_ref is not None and decay_ref == injection else "START"
        else:
            decay = "NONE"
    if decay is None:
        decay = "START" if modality == "PT" else "NONE"
        warnings.append(f"DecayCorrection (0054,1102) absent: assumed {decay}")
    elif decay not in ("START", "ADMIN", "NONE"):
        warnings.append(
            f"DecayCorrection (0054,1102) = {decay!r} is not START/ADMIN/NONE: assumed START"
        )
        decay = "START"
    corrected = (get_str(ds, "CorrectedImage") or "").upper().split("\\")
    if modality == "PT" and "ATTN" not in corrected:
        warnings.append(
            "CorrectedImage (0028,0051) lacks ATTN: not attenuation-corrected, SUV is not quantitative"
        )
    if decay in ("START", "ADMIN") and modality == "PT" and "DECY" not in corrected:
        warnings.append(f"DecayCorrection is {decay} but CorrectedImage (0028,0051) lacks DECY")
    return decay, decay_ref


def _half_life(
    item: Dataset | None, nuclide: str | None, warnings: list[str], reasons: list[str]
) -> float | None:
    """The header's RadionuclideHalfLife (0018,1075) in s, checked against the radionuclide's
    (ICRP-107), which replaces it when absent (a value that is not a number is a reason)."""
    half_life, bad = number(item, "RadionuclideHalfLife")
    if half_life is not None and not 1.0 <= half_life <= 1e10:
        warnings.append(
            f"RadionuclideHalfLife (0018,1075) = {half_life:g} s is implausible; ignored"
        )
        half_life = None
    ref_half = None
    if nuclide is not None:
        try:
            ref_half = half_life_s(nuclide)
        except NenscopeError:
            ref_half = None
    if (
        half_life is not None
        and ref_half is not None
        and abs(half_life / ref_half - 1) > HALF_LIFE_RTOL
    ):
        warnings.append(
            f"RadionuclideHalfLife (0018,1075) = {half_life:g} s differs from {nuclide} "
            f"({ref_half:.1f} s, ICRP-107) by more than {HALF_LIFE_RTOL:.0%}; header value used"
        )
    if bad:  # present but not a number: the radionuclide's half-life, or refused without one
        (warnings if ref_half is not None else reasons).append(bad)
    if half_life is None and ref_half is not None:
        half_life = ref_half
        warnings.append(
            f"RadionuclideHalfLife (0018,1075) absent: {nuclide} half-life {ref_half:.1f} s used"
        )
    return half_life


def _reference_time(
    datasets: list[Dataset],
    modality: str,
    decay: str,
    decay_ref: datetime | None,
    times: tuple[datetime | None, datetime | None],
    half_life: float | None,
    warnings: list[str],
) -> tuple[datetime | None, dict[int, float] | None]:
    """The time the image values refer to, and per-slice factors that make it so.

    START: the scan start (or the Enhanced PET decay reference); ADMIN: the injection (not
    used); NONE: the earliest acquisition, each PET slice referred to it from its own
    acquisition time (IBSI-SUV); SPECT frames of one acquisition need no per-slice factor.
    """
    start, earliest_acq = times
    if decay == "START":
        return (decay_ref or start), None
    if decay != "NONE" or earliest_acq is None:
        return start, None
    factors = slice_decay_factors(datasets, earliest_acq, half_life) if modality == "PT" else None
    if factors:
        spread = max(factors.values()) / min(factors.values()) - 1.0
        warnings.append(
            "DecayCorrection NONE: each slice decay-corrected from its own acquisition time to "
            f"the earliest acquisition ({earliest_acq.isoformat()}); corrections span "
            f"{100 * spread:.2f} %"
        )
    return earliest_acq, factors


def _philips_suvbw(
    ds: Dataset,
    ov: SuvOverrides,
    weight: float | None,
    decayed: float | None,
    warnings: list[str],
    reasons: list[str],
) -> float | None:
    """SUVbw factor of Philips Units CNTS: the private SUV scale factor (7053,1000) unless an
    override is given, else the activity-concentration scale factor (7053,1009)."""
    philips_suv = _private_float(ds, 0x00)
    philips_conc = _private_float(ds, 0x09)
    overridden = any(v is not None for v in (ov.weight_kg, ov.injected_mbq, ov.injection_time))
    if philips_suv is not None and not overridden:
        if philips_conc is not None and weight is not None and decayed is not None:
            check = philips_conc * weight * 1000.0 / decayed
            if abs(check / philips_suv - 1) > 0.01:
                warnings.append(
                    f"Philips SUV scale factor (7053,1000) = {philips_suv:.6g} differs from the "
                    f"one computed from (7053,1009) and the header ({check:.6g}) by more than 1%"
                )
        return philips_suv
    if philips_conc is None:
        reasons.append(
            "Units CNTS without the Philips SUV scale factor (7053,1000) or activity "
            "concentration scale factor (7053,1009): counts cannot be converted to SUV"
        )
        return None
    if weight is None:
        reasons.append(_missing("patient weight", "PatientWeight (0010,1030)", "--weight-kg"))
        return None
    return philips_conc * weight * 1000.0 / decayed if decayed is not None else None


def _suvbw_factor(
    units: str | None,
    ds: Dataset,
    ov: SuvOverrides,
    weight: float | None,
    decayed: float | None,
    warnings: list[str],
    reasons: list[str],
) -> float | None:
    """SUVbw factor (g/ml per pixel unit) for the pixel ``units``, or None with a reason."""
    if units in ("BQML", "BQCC"):
        if weight is None:
            reasons.append(_missing("patient weight", "PatientWeight (0010,1030)", "--weight-kg"))
            return None
        return weight * 1000.0 / decayed if decayed is not None else None
    if units == "CNTS":
        return _philips_suvbw(ds, ov, weight, decayed, warnings, reasons)
    if units == "GML":
        return 1.0
    if units is None:
        reasons.append(_missing("pixel units", "Units (0054,1001)"))
    else:
        reasons.append(f"Units (0054,1001) = {units!r}: SUV needs BQML, CNTS (Philips) or GML")
    return None


def _suvbw_factor(
    units: str | None,
    ds: Dataset,
    ov: SuvOverrides,
    patient: Patient,
    decayed: float | None,
    warnings: list[str],
    reasons: list[str],
) -> float | None:
    """SUVbw factor (g/ml per pixel unit) for the pixel ``units``, or None with a reason."""
    weight = patient.weight_kg
    if units in ("BQML", "BQCC"):
        if weight is None:
            reasons.append(_missing("patient weight", "PatientWeight (0010,1030)", "--weight-kg"))
            return None
        return weight * 1000.0 / decayed if decayed is not None else None
    if units == "CNTS":
        return _philips_suvbw(ds, ov, weight, decayed, warnings, reasons)
    if units in ("GML", "CM2ML"):
        suv_type = get_str(ds, "SUVType")
        return stored_suv_bw_factor(
            units, suv_type, patient, get_str(ds, "PatientSex"), warnings, reasons
        )
    if units is None:
        reasons.append(_missing("pixel units", "Units (0054,1001)"))
    else:
        reasons.append(
            f"Units (0054,1001) = {units!r}: SUV needs BQML, CNTS (Philips), GML or CM2ML"
        )
    return None


def _missing(what: str, tag: str, option: str | None = None) -> str:
    return str(MissingDataError(what, tag=tag, option=option))


def _read_suv_header(
    datasets: list[Dataset],
    *,
    modality: str,
    units: str | None,
    overrides: SuvOverrides | None = None,
) -> SuvHeader:
    """See :func:`read_suv_header`."""
    ov = overrides or SuvOverrides()
    ds = datasets[0]
    warnings: list[str] = []
    reasons: list[str] = []
    item = radiopharmaceutical_item(ds)
    warnings += header_notes(ds, item)
    patient = read_patient(ds, ov, warnings, reasons)
    nuclide = nuclide_from_item(item)
    half_life = _half_life(item, nuclide, warnings, reasons)
    start, earliest_acq = scan_start(datasets, half_life, warnings)
    units_u = (units or "").upper() or None
    activity = _injected_activity_bq(item, ov, warnings, reasons)
    inj = injection_time(ds, item, ov, start)
    decay, decay_ref = _decay_correction(ds, modality, inj.when, warnings)
    ref_time, slice_factors = _reference_time(
        datasets, modality, decay, decay_ref, (start, earliest_acq), half_life, warnings
    )
    if activity is None and units_u not in ("GML", "CM2ML"):
        reasons.append(
            _missing("injected activity", "RadionuclideTotalDose (0018,1074)", "--injected-mbq")
        )
    injection = inj.when
    if decay == "ADMIN" or units_u in ("GML", "CM2ML"):
        decayed = activity
    else:
        decayed, injection = decayed_activity(activity, inj, ref_time, half_life, warnings, reasons)
    bw = _suvbw_factor(units_u, ds, ov, patient, decayed, warnings, reasons)
    frame_ms, _ = number(ds, "ActualFrameDuration")
    return SuvHeader(
        factors=_body_factors(bw, patient, units_u, reasons),
        units=units_u,
        patient=patient,
        agent=agent_from_item(item, nuclide),
        radionuclide=nuclide,
        injected_activity_bq=activity,
        injection_datetime=injection,
        scan_start_datetime=start,
        acquisition_datetime=earliest_acq,
        decay_correction=decay,
        half_life_s=half_life,
        frame_duration_s=frame_ms / 1000.0 if frame_ms else None,
        slice_factors=slice_factors,
        warnings=warnings + reasons,
    )


def _body_factors(
    bw: float | None, patient: Patient, units: str | None, reasons: list[str]
) -> SuvFactors:
    """SUVbw factor scaled to the other normalisations (measure / weight)."""
    out: dict[str, float | None] = {"sul": None, "lbm_james": None, "bsa": None, "ibw": None}
    notes = list(reasons)
    w, h, sex = patient.weight_kg, patient.height_m, patient.sex
    if bw is not None:
        if w is None:
            notes.append(
                "SUL, SUV-LBM, SUV-BSA, SUV-IBW need the patient weight: "
                + str(
                    MissingDataError(
                        "patient weight", tag="PatientWeight (0010,1030)", option="--weight-kg"
                    )
                )
            )
        else:
            if h is None:
                notes.append(
                    "SUL, SUV-LBM, SUV-BSA, SUV-IBW need the height: "
                    + str(
                        MissingDataError(
                            "patient height", tag="PatientSize (0010,1020)", option="--height-cm"
                        )
                    )
                )
            elif sex is None:
                notes.append(
                    "SUL, SUV-LBM and SUV-IBW need the sex: PatientSex (0010,0040) is absent or not M/F"
                )
            measures = {
                "sul": lbm_janmahasatian_kg(sex, w, h),
                "lbm_james": lbm_james_kg(sex, w, h),
                "bsa": bsa_dubois_m2(w, h),
                "ibw": ibw_sugawara_kg(sex, h),
            }
            for kind, m in measures.items():
                out[kind] = bw * m / w if m is not None else None
            if h is not None and sex is not None and measures["lbm_james"] is None:
                notes.append(
                    "James LBM is not positive for this weight/height (formula breaks down above BMI ~43)"
                )
    return SuvFactors(bw=bw, warnings=notes, **out)


def header_value(ds: Dataset, keyword: str):
    """Raw header value (for JSON output)."""
    return get(ds, keyword)
