"""The times of an SUV: scan start (QIBA), injection, decay of the injected activity, and the
per-slice decay correction of series stored without one.

References: QIBA FDG-PET/CT technical committee, vendor-neutral SUV pseudo-code (QIBA wiki,
2013), with the branch for post-processed Siemens series (Frame Reference Time (0054,1300)
and the average-count-rate time within the frame); IBSI-SUV reference objects (Vácha M,
Zwanenburg A et al., oncoray.github.io/suv_computation): GE series without the private scan
time step back by the Frame Reference Time alone, and DecayCorrection NONE is referred to the
average-count-rate time of each frame.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from pydicom.dataset import Dataset

from nenscope.errors import MissingDataError, NenscopeError
from nenscope.imaging._dicom import (
    combine,
    dataset_datetime,
    get_float,
    get_str,
    parse_da,
    parse_dt,
    parse_tm,
)
from nenscope.imaging.study import SuvOverrides

#: A scan more than this many half-lives after the injection gives an SUV scale above
#: 2**10 = 1024 times the injected activity's: the times are wrong, not the patient.
MAX_DECAY_HALF_LIVES = 10.0
#: A time-only injection later in the day than the scan is taken on the previous day only
#: when that gives an uptake of at most this long (a scan just after midnight) ...
ROLLOVER_MAX_UPTAKE_H = 6.0
#: ... and only for radionuclides with a half-life below this (IBSI-SUV: the date of a
#: longer-lived tracer's injection cannot be inferred).
ROLLOVER_MAX_HALF_LIFE_S = 41400.0


def frame_average_s(duration_s: float, half_life_s: float) -> float:
    """Time after the frame start at which the decaying activity equals its frame mean (s):
    (1/λ)·ln(λT / (1 − e^(−λT))) (QIBA pseudo-code; PS3.3 C.8.9.4.1.5 example 2)."""
    lam = math.log(2.0) / half_life_s
    x = lam * duration_s
    if x < 1e-9:
        return duration_s / 2.0
    return math.log(x / -math.expm1(-x)) / lam


def _private_scan_time(ds: Dataset) -> datetime | None:
    """GE private scan date/time (0009,100D, creator GEMS_PETD_01)."""
    try:
        block = ds.private_block(0x0009, "GEMS_PETD_01")
        return parse_dt(str(block[0x0D].value)) if 0x0D in block else None
    except Exception:
        return None


def _from_frame_reference(
    datasets: list[Dataset], earliest: datetime, half_life_s: float | None
) -> tuple[datetime | None, str]:
    """Scan start back-computed from Frame Reference Time (0054,1300) of the earliest frame:
    acquisition − FRT (+ the average-count-rate time within the frame, except GE)."""
    first = min(
        datasets, key=lambda d: dataset_datetime(d, "Acquisition") or datetime.max, default=None
    )
    frt_ms = get_float(first, "FrameReferenceTime") if first is not None else None
    dur_ms = get_float(first, "ActualFrameDuration") if first is not None else None
    if not frt_ms or frt_ms <= 0:
        return None, ""
    maker = (get_str(first, "Manufacturer") or "").upper()
    if maker.startswith("GE"):
        return earliest - timedelta(milliseconds=frt_ms), "acquisition − Frame Reference Time"
    if not dur_ms or dur_ms <= 0 or not half_life_s:
        return None, ""
    t_avg = frame_average_s(dur_ms / 1000.0, half_life_s)
    start = earliest - timedelta(milliseconds=frt_ms) + timedelta(seconds=t_avg)
    return start, "acquisition − Frame Reference Time + average-count-rate time"


def scan_start(
    datasets: list[Dataset], half_life_s: float | None, warnings: list[str]
) -> tuple[datetime | None, datetime | None]:
    """(QIBA scan start, earliest acquisition date/time) of a series.

    The series date/time, unless an acquisition is earlier (a post-processed series): then the
    GE private scan date/time, else the start back-computed from the Frame Reference Time,
    else the earliest acquisition.
    """
    series_dt = dataset_datetime(datasets[0], "Series")
    acq = [t for t in (dataset_datetime(ds, "Acquisition") for ds in datasets) if t is not None]
    earliest = min(acq) if acq else None
    if series_dt is not None and (earliest is None or series_dt <= earliest):
        return series_dt, earliest
    ge = _private_scan_time(datasets[0])
    if ge is not None:
        if series_dt is not None:
            warnings.append(
                "series date/time is after the acquisition: scan start taken from the GE "
                "private scan date/time (0009,100D) (QIBA)"
            )
        return ge, earliest
    if earliest is None:
        return None, None
    start, how = _from_frame_reference(datasets, earliest, half_life_s)
    if start is not None:
        warnings.append(
            "series date/time is after the earliest acquisition (post-processed series): scan "
            f"start = {how} (0054,1300) (QIBA)"
        )
        return start, earliest
    if series_dt is not None:
        warnings.append(
            "series date/time is after the earliest acquisition date/time (post-processed "
            "series): scan start taken from the earliest acquisition (QIBA)"
        )
    return earliest, earliest


def _injection_override(value: datetime | str, series_day: date | None) -> datetime:
    if isinstance(value, datetime):
        return value
    text = str(value).strip()
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        pass
    tm = parse_tm(text)
    if tm is None:
        raise NenscopeError(f"--injection-time {text!r}: use HH:MM[:SS] or YYYY-MM-DDTHH:MM[:SS]")
    if series_day is None:
        raise NenscopeError(
            "--injection-time given as a time only, but the series has no SeriesDate "
            "(0008,0021): give the full date and time, YYYY-MM-DDTHH:MM[:SS]"
        )
    return datetime.combine(series_day, tm)


@dataclass(frozen=True)
class Injection:
    """When the activity was given, and how that was known."""

    when: datetime | None
    time_only: bool = False  # only RadiopharmaceuticalStartTime (a time of day) in the header
    overridden: bool = False  # from --injection-time


def injection_time(
    ds: Dataset, item: Dataset | None, ov: SuvOverrides, start: datetime | None
) -> Injection:
    """Injection date/time: the override, RadiopharmaceuticalStartDateTime (0018,1078), or
    RadiopharmaceuticalStartTime (0018,1072) on the series (else study) date."""
    series_day = parse_da(get_str(ds, "SeriesDate")) or parse_da(get_str(ds, "StudyDate"))
    if ov.injection_time is not None:
        day = series_day or (start.date() if start else None)
        return Injection(_injection_override(ov.injection_time, day), overridden=True)
    if item is None:
        return Injection(None)
    when = parse_dt(get_str(item, "RadiopharmaceuticalStartDateTime"))
    if when is not None:
        return Injection(when)
    when = combine(series_day, parse_tm(get_str(item, "RadiopharmaceuticalStartTime")))
    return Injection(when, time_only=when is not None)


def _missing(what: str, tag: str, option: str | None = None) -> str:
    return str(MissingDataError(what, tag=tag, option=option))


def missing_decay_inputs(
    injection: datetime | None, ref_time: datetime | None, half_life: float | None
) -> list[str]:
    """Reasons naming each input of the decay correction that is absent."""
    reasons = []
    if injection is None:
        reasons.append(
            _missing(
                "injection time",
                "RadiopharmaceuticalStartDateTime (0018,1078) / "
                "RadiopharmaceuticalStartTime (0018,1072)",
                "--injection-time",
            )
        )
    if ref_time is None:
        reasons.append(
            _missing(
                "scan start time",
                "SeriesDate/SeriesTime (0008,0021)/(0008,0031) "
                "or AcquisitionDate/Time (0008,0022)/(0008,0032)",
            )
        )
    if half_life is None:
        reasons.append(_missing("radionuclide half-life", "RadionuclideHalfLife (0018,1075)"))
    return reasons


def _rollover(inj: Injection, dt_s: float, half_life_s: float) -> bool:
    """A time-only injection after the scan on the same day is the previous day's when that
    gives a short uptake of a short-lived tracer (a scan just after midnight)."""
    return (
        inj.time_only
        and dt_s < 0
        and dt_s + 86400.0 <= ROLLOVER_MAX_UPTAKE_H * 3600.0
        and half_life_s < ROLLOVER_MAX_HALF_LIFE_S
    )


def decayed_activity(
    activity_bq: float | None,
    inj: Injection,
    ref_time: datetime | None,
    half_life_s: float | None,
    warnings: list[str],
    reasons: list[str],
) -> tuple[float | None, datetime | None]:
    """(activity in Bq at ``ref_time``, injection date/time after any midnight roll-over).

    An injection after the scan is refused (a reason) unless it is a midnight roll-over
    (:data:`ROLLOVER_MAX_UPTAKE_H`); so is a scan more than :data:`MAX_DECAY_HALF_LIVES`
    half-lives after the injection.
    """
    injection = inj.when
    reasons.extend(missing_decay_inputs(injection, ref_time, half_life_s))
    if activity_bq is None or injection is None or ref_time is None or half_life_s is None:
        return None, injection
    dt_s = (ref_time - injection).total_seconds()
    if _rollover(inj, dt_s, half_life_s):
        injection -= timedelta(days=1)
        dt_s += 86400.0
        warnings.append(
            "injection time (RadiopharmaceuticalStartTime (0018,1072), a time only) is after "
            f"the scan: taken on the previous day ({dt_s / 3600:.2f} h uptake, scan after midnight)"
        )
    if dt_s < 0:
        reasons.append(
            f"injection ({injection.isoformat()}) is after the scan start "
            f"({ref_time.isoformat()}): refused; give the injection date and time with "
            "--injection-time YYYY-MM-DDTHH:MM"
        )
        return None, injection
    if dt_s > MAX_DECAY_HALF_LIVES * half_life_s:
        reasons.append(
            f"scan starts {dt_s / half_life_s:.3g} half-lives after injection "
            f"({injection.isoformat()} to {ref_time.isoformat()}); the limit is "
            f"{MAX_DECAY_HALF_LIVES:g} half-lives (SUV scale × {2**MAX_DECAY_HALF_LIVES:.0f}): "
            "check the times or give --injection-time"
        )
        return None, injection
    return activity_bq * 2.0 ** (-dt_s / half_life_s), injection


def slice_decay_factors(
    datasets: list[Dataset], ref_time: datetime | None, half_life_s: float | None
) -> dict[int, float] | None:
    """Per-slice factors referring PET values stored without decay correction (NONE) to
    ``ref_time``: 2^((t_i + τ_i − t_ref)/T½), t_i the slice's acquisition start, τ_i its
    average-count-rate time (IBSI-SUV). Keyed by ``id(dataset)``; ``None`` when not needed
    or not computable."""
    if ref_time is None or not half_life_s:
        return None
    out: dict[int, float] = {}
    for ds in datasets:
        t = dataset_datetime(ds, "Acquisition")
        if t is None:
            return None
        dur_ms = get_float(ds, "ActualFrameDuration")
        tau = frame_average_s(dur_ms / 1000.0, half_life_s) if dur_ms and dur_ms > 0 else 0.0
        dt = (t - ref_time).total_seconds() + tau
        out[id(ds)] = 2.0 ** (dt / half_life_s)
    if all(abs(f - 1.0) < 1e-12 for f in out.values()):
        return None
    return out
