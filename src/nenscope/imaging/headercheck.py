"""Lenient reading, strict meaning: notes on header values read in a non-standard form, and
numbers that are present but not numbers.

Clinical archives write dates with separators (``2026-01-15``), times with colons, unknown
character sets; these are read (see :mod:`nenscope.imaging._dicom`) and named here in one
warning each, so every command shows the same notes. A numeric attribute that is present but
not a finite number is never read as absent: :func:`number` returns the reason, naming the
tag and the value, for the caller to refuse with.
"""

from __future__ import annotations

from pydicom.charset import python_encoding
from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue

from nenscope.imaging._dicom import get_float, is_standard, parse_da, parse_dt, parse_tm

#: Date/time attributes read by nenscope, at the top level of an image header.
DATE_TIME_KEYWORDS = (
    "StudyDate",
    "StudyTime",
    "SeriesDate",
    "SeriesTime",
    "AcquisitionDate",
    "AcquisitionTime",
    "AcquisitionDateTime",
)
#: Date/time attributes read in the Radiopharmaceutical Information Sequence (0054,0016).
RADIOPHARMACEUTICAL_KEYWORDS = ("RadiopharmaceuticalStartDateTime", "RadiopharmaceuticalStartTime")
_PARSERS = {"DA": parse_da, "TM": parse_tm, "DT": parse_dt}


def tag_name(keyword: str) -> str:
    """``"SeriesTime (0008,0031)"``: a keyword with its tag, as messages name attributes."""
    tag = tag_for_keyword(keyword)
    if tag is None:
        return keyword
    return f"{keyword} ({tag >> 16:04X},{tag & 0xFFFF:04X})"


def raw_text(ds: Dataset | None, keyword: str) -> str | None:
    """The value of ``keyword`` as text without interpreting it (``None`` when absent/empty).

    Undecodable values come back as their Latin-1 reading, so a message can quote them.
    """
    tag = tag_for_keyword(keyword)
    if ds is None or tag is None or tag not in ds:
        return None
    try:
        elem = ds.get_item(tag)
        value = elem.value if elem is not None else None
    except Exception:
        return None
    if value is None:
        return None
    if isinstance(value, bytes):
        text = value.decode("latin-1")
    elif isinstance(value, list | tuple | MultiValue):
        text = "\\".join(str(v) for v in value)
    else:
        text = str(value)
    text = text.strip().strip("\x00").strip()
    return text or None


def number(ds: Dataset | None, keyword: str) -> tuple[float | None, str | None]:
    """``(value, None)`` for a finite number, ``(None, None)`` when absent or empty, and
    ``(None, reason)`` when present but not a finite number (the reason names the tag)."""
    text = raw_text(ds, keyword)
    if text is None:
        return None, None
    value = get_float(ds, keyword) if ds is not None else None
    if value is None:
        try:
            value = float(text.split("\\")[0])
        except ValueError:
            value = None
        if value is None or value != value or value in (float("inf"), float("-inf")):
            return None, f"{tag_name(keyword)} = {text[:32]!r} is not a finite number"
    return value, None


def _date_time_note(ds: Dataset, keyword: str) -> str | None:
    text = raw_text(ds, keyword)
    vr = dictionary_VR(keyword)
    if text is None or vr not in _PARSERS or is_standard(text, vr):
        if text is not None and vr in _PARSERS and _PARSERS[vr](text) is None:
            return f"{tag_name(keyword)} = {text[:32]!r} is not a valid {vr}; ignored"
        return None
    if _PARSERS[vr](text) is None:
        return f"{tag_name(keyword)} = {text[:32]!r} is not a {vr} value; ignored"
    return f"{tag_name(keyword)} = {text[:32]!r} is not in DICOM {vr} form; read leniently"


def charset_note(ds: Dataset) -> str | None:
    """A note when SpecificCharacterSet (0008,0005) names a character set pydicom does not know
    (text is then decoded as ASCII/Latin-1, pydicom's default)."""
    text = raw_text(ds, "SpecificCharacterSet")
    if text is None:
        return None
    unknown = [
        t.strip() for t in text.split("\\") if t.strip() and t.strip() not in python_encoding
    ]
    if not unknown:
        return None
    return (
        f"{tag_name('SpecificCharacterSet')} = {text[:40]!r} is not a known character set: "
        "text decoded as ASCII/Latin-1"
    )


def header_notes(ds: Dataset, item: Dataset | None = None) -> list[str]:
    """Notes on values of ``ds`` (and its radiopharmaceutical ``item``) read leniently or
    ignored: non-standard dates and times, an unknown character set."""
    notes = [_date_time_note(ds, k) for k in DATE_TIME_KEYWORDS]
    if item is not None:
        notes += [_date_time_note(item, k) for k in RADIOPHARMACEUTICAL_KEYWORDS]
    notes.append(charset_note(ds))
    return [n for n in notes if n]
