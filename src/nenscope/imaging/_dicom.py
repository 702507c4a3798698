"""Tolerant readers for DICOM attribute values (dates, times, numbers, strings).

Clinical headers are often incomplete or malformed: every reader here returns ``None`` for an
absent, empty or unparsable value instead of raising, so the caller can name the missing tag.
"""

from __future__ import annotations

import math
import re
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


_DA_STANDARD = re.compile(r"\d{8}")
_TM_STANDARD = re.compile(r"\d{2}(\d{2}(\d{2}(\.\d{1,6})?)?)?")
_DT_STANDARD = re.compile(r"\d{4}(\d{2}(\d{2}(\d{2}(\d{2}(\d{2}(\.\d{1,6})?)?)?)?)?)?([+-]\d{4})?")
_DA_LENIENT = re.compile(r"(\d{4})[-./]?(\d{2})[-./]?(\d{2})")
_TM_LENIENT = re.compile(r"(\d{1,2})(?::?(\d{2})(?::?(\d{2}))?)?(?:[.,](\d+))?")
_DT_LENIENT = re.compile(r"(\d{4}[-./]?\d{2}[-./]?\d{2})[T ]?(.*?)(?:\s*(?:Z|[+-]\d{2}:?\d{2}))?")


def is_standard(text: str | None, vr: str) -> bool:
    """True when ``text`` has the exact form PS3.5 §6.2 prescribes for ``vr`` (DA, TM or DT);
    an absent value counts as standard (there is nothing to parse leniently)."""
    if not text:
        return True
    pattern = {"DA": _DA_STANDARD, "TM": _TM_STANDARD, "DT": _DT_STANDARD}[vr]
    return pattern.fullmatch(str(text).strip()) is not None


def parse_da(text: str | None) -> date | None:
    """Parse a DICOM DA (``YYYYMMDD``); also ``YYYY-MM-DD``, ``YYYY.MM.DD`` and ``YYYY/MM/DD``
    of old or non-conformant headers (:func:`is_standard` tells them apart)."""
    if not text:
        return None
    m = _DA_LENIENT.fullmatch(str(text).strip())
    if m is None:
        return None
    try:
        return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return None


def parse_tm(text: str | None) -> time | None:
    """Parse a DICOM TM (``HH[MM[SS[.FFFFFF]]]``); also ``HH:MM[:SS]``, a comma before the
    fraction and fractions longer than six digits (truncated to microseconds)."""
    if not text:
        return None
    m = _TM_LENIENT.fullmatch(str(text).strip())
    if m is None or len(m.group(1)) != 2 and ":" not in str(text):
        return None
    hh, mm, ss, frac = m.groups()
    try:
        second = min(int(ss or 0), 59)  # DICOM allows a leap second 60: clamp
        us = int((frac or "0")[:6].ljust(6, "0"))
        return time(int(hh), int(mm or 0), second, us)
    except ValueError:
        return None


def parse_dt(text: str | None) -> datetime | None:
    """Parse a DICOM DT (``YYYYMMDDHHMMSS.FFFFFF&ZZXX``) to a naive datetime; also ISO 8601
    forms such as ``YYYY-MM-DDTHH:MM:SS`` and ``YYYY-MM-DD HH:MM``.

    A UTC offset is dropped: DA/TM pairs elsewhere in the header carry none, and all header
    times are compared as wall-clock times of the same site.
    """
    if not text:
        return None
    m = _DT_LENIENT.fullmatch(str(text).strip())
    if m is None:
        return None
    day = parse_da(m.group(1))
    rest = m.group(2).strip()
    if day is None:
        return None
    if not rest:
        return datetime.combine(day, time(0, 0))
    if re.fullmatch(r"\d{1,5}", rest) and len(rest) % 2:  # odd digit count: not a time
        return None
    tm = parse_tm(rest)
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
