"""Tolerant readers for DICOM attribute values (dates, times, numbers, strings).

Clinical headers are often incomplete or malformed: every reader here returns ``None`` for an
absent, empty or unparsable value instead of raising, so the caller can name the missing tag.
"""

from __future__ import annotations

import math
from datetime import date, datetime, time
from typing import Any

from pydicom.dataset import Dataset
from pydicom.multival import MultiValue


def _is_multi(value: Any) -> bool:
    return isinstance(value, list | tuple | MultiValue)


def get(ds: Dataset, keyword: str) -> Any:
    """Return the value of ``keyword`` or ``None`` (absent, empty or undecodable)."""
    try:
        value = ds.get(keyword, None)
    except Exception:  # malformed element: pydicom raises on access
        return None
    if value is None or value == "" or (isinstance(value, bytes) and not value):
        return None
    return value


def get_float(ds: Dataset, keyword: str) -> float | None:
    """Return a finite float for ``keyword`` (DS/IS/US/FL...) or ``None``."""
    value = get(ds, keyword)
    if value is None:
        return None
    try:
        if _is_multi(value):
            value = value[0]
        out = float(value)
    except Exception:
        return None
    return out if math.isfinite(out) else None


def get_str(ds: Dataset, keyword: str) -> str | None:
    """Return a stripped string for ``keyword`` or ``None``."""
    value = get(ds, keyword)
    if value is None:
        return None
    try:
        if _is_multi(value):
            text = "\\".join(str(v) for v in value)
        else:
            text = str(value)
    except Exception:
        return None
    text = text.strip().strip("\x00").strip()
    return text or None


def get_floats(ds: Dataset, keyword: str, n: int) -> list[float] | None:
    """Return exactly ``n`` finite floats for a multi-valued ``keyword`` or ``None``."""
    value = get(ds, keyword)
    if value is None:
        return None
    try:
        out = [float(v) for v in value]
    except Exception:
        return None
    if len(out) != n or not all(math.isfinite(v) for v in out):
        return None
    return out


def parse_da(text: str | None) -> date | None:
    """Parse a DICOM DA (``YYYYMMDD``; also ``YYYY.MM.DD`` of old headers)."""
    if not text:
        return None
    text = str(text).strip().replace(".", "").replace("-", "")
    try:
        return datetime.strptime(text[:8], "%Y%m%d").date()
    except ValueError:
        return None


def parse_tm(text: str | None) -> time | None:
    """Parse a DICOM TM (``HH[MM[SS[.FFFFFF]]]``; also ``HH:MM:SS`` of old headers)."""
    if not text:
        return None
    text = str(text).strip().replace(":", "")
    main, _, frac = text.partition(".")
    if not main.isdigit() or len(main) not in (2, 4, 6):
        return None
    try:
        hh = int(main[0:2])
        mm = int(main[2:4]) if len(main) >= 4 else 0
        ss = int(main[4:6]) if len(main) >= 6 else 0
        us = int((frac + "000000")[:6]) if frac.isdigit() else 0
        if ss == 60:  # leap second allowed by DICOM; clamp
            ss = 59
        return time(hh, mm, ss, us)
    except ValueError:
        return None


def parse_dt(text: str | None) -> datetime | None:
    """Parse a DICOM DT (``YYYYMMDDHHMMSS.FFFFFF&ZZXX``) to a naive datetime.

    A UTC offset is dropped: DA/TM pairs elsewhere in the header carry none, and all header
    times are compared as wall-clock times of the same site.
    """
    if not text:
        return None
    text = str(text).strip()
    for sign in ("+", "-"):
        if sign in text[8:]:
            text = text[: text.rindex(sign)]
            break
    day = parse_da(text[:8])
    if day is None:
        return None
    tm = parse_tm(text[8:]) if len(text) > 8 else time(0, 0)
    if tm is None:
        return None
    return datetime.combine(day, tm)


def combine(day: date | None, tm: time | None) -> datetime | None:
    """``datetime.combine`` that returns ``None`` when either part is missing."""
    if day is None or tm is None:
        return None
    return datetime.combine(day, tm)


def dataset_datetime(ds: Dataset, prefix: str) -> datetime | None:
    """``<prefix>DateTime`` if present, else ``<prefix>Date`` + ``<prefix>Time``.

    ``prefix`` is e.g. ``"Series"``, ``"Acquisition"``.
    """
    dt = parse_dt(get_str(ds, prefix + "DateTime"))
    if dt is not None:
        return dt
    return combine(parse_da(get_str(ds, prefix + "Date")), parse_tm(get_str(ds, prefix + "Time")))


def n_frames(ds: Dataset) -> int:
    """NumberOfFrames (0028,0008) as a positive int (1 when absent); ValueError when invalid."""
    value = get_float(ds, "NumberOfFrames")
    if value is None:
        return 1
    if value < 1 or value != int(value):
        raise ValueError(f"NumberOfFrames (0028,0008) = {value:g} is not a positive integer")
    return int(value)
