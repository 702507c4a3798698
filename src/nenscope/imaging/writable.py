"""Copies of source headers that DICOM writers (DICOM-SEG, RT Dose) accept: degrade, never crash.

Anonymised and older data lack patient and study attributes, write dates with separators or
name an unknown character set; highdicom and pydicom refuse such sources when a derived object
copies them. :func:`writable_sources` returns copies (pixel data left out) in which

* absent type-2 attributes are present and empty, as the standard allows
  (:data:`TYPE2_EMPTY`);
* absent type-1 UIDs are generated (one study UID shared by all copies), with a note;
* dates and times are rewritten in DICOM form, or emptied when they cannot be read;
* an unknown SpecificCharacterSet, or text that is not valid in the declared one, is
  re-encoded as UTF-8 (ISO_IR 192) from its Latin-1 reading, never with replacement
  characters;
* an absent SliceThickness is taken from the slice spacing.

What cannot be made is refused: without a FrameOfReferenceUID (0020,0052) a SEG cannot be
placed on its images. A DICOM-SEG copies patient, study and equipment attributes from its
first source only: of the others it needs the :data:`REFERENCE_KEYWORDS` alone
(``references_after_first``).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import numpy as np
from pydicom.charset import python_encoding
from pydicom.datadict import dictionary_has_tag, dictionary_VR, tag_for_keyword
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import generate_uid

from nenscope.errors import NenscopeError
from nenscope.imaging._dicom import get_floats, get_str, parse_da, parse_dt, parse_tm
from nenscope.imaging.headercheck import raw_text, tag_name

#: Type-2 attributes of the patient and study modules that a derived object copies: present,
#: empty when unknown (PS3.3 C.7.1.1, C.7.2.1).
TYPE2_EMPTY = (
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "PatientSex",
    "StudyDate",
    "StudyTime",
    "ReferringPhysicianName",
    "StudyID",
    "AccessionNumber",
)
_DATE_TIME = {
    "DA": (parse_da, lambda v: v.strftime("%Y%m%d")),
    "TM": (parse_tm, lambda v: v.strftime("%H%M%S.%f")),
    "DT": (parse_dt, lambda v: v.strftime("%Y%m%d%H%M%S.%f")),
}
#: What a derived image (highdicom's DICOM-SEG) reads from each source image but the first,
#: whose patient, study and equipment attributes it copies: the references (UIDs), the
#: checks that the sources form one series on one grid, and each frame's plane.
REFERENCE_KEYWORDS = (
    "SOPClassUID",
    "SOPInstanceUID",
    "StudyInstanceUID",
    "SeriesInstanceUID",
    "FrameOfReferenceUID",
    "Modality",
    "Rows",
    "Columns",
    "NumberOfFrames",
    "ImagePositionPatient",
    "ImageOrientationPatient",
    "PixelSpacing",
    "SliceThickness",
    "SpacingBetweenSlices",
)
_REFERENCE_TAGS = tuple(tag_for_keyword(k) for k in REFERENCE_KEYWORDS)
_PIXEL_TAGS = {0x7FE00010, 0x7FE00008, 0x7FE00009}
_TEXT_VRS = {"PN", "LO", "SH", "ST", "LT", "UT", "UC"}
_CONVERT = _TEXT_VRS | set(_DATE_TIME)  # what the repairs read: converted when copied


def _copy_without_pixels(ds: Dataset) -> Dataset:
    """A copy the repairs may change without touching ``ds``.

    Text, date and time elements are converted (the repairs read them; malformed values
    arrive as text) and copied as new objects, sequences deeply; every other element not yet
    read is shared in its raw, immutable form and converted only if a writer reads it.
    Converting and deep-copying every element of every source header took a third of a small
    study's analysis."""
    out = Dataset()
    out.file_meta = copy.deepcopy(getattr(ds, "file_meta", None) or FileMetaDataset())
    for tag in ds.keys():
        if tag in _PIXEL_TAGS:
            continue
        raw = ds.get_item(tag)
        if isinstance(raw, RawDataElement) and raw.VR is not None and raw.VR not in _CONVERT:
            out[tag] = raw
            continue
        elem = ds[tag]
        out.add(copy.deepcopy(elem) if elem.VR == "SQ" else copy.copy(elem))
    return out


def _fix_dates(ds: Dataset, notes: set[str]) -> None:
    for elem in list(ds):
        if elem.VR not in _DATE_TIME or elem.VM != 1 or not elem.value:
            continue
        parse, fmt = _DATE_TIME[elem.VR]
        text = str(elem.value).strip()
        value = parse(text)
        fixed = fmt(value) if value is not None else ""
        if elem.VR == "TM" and value is not None and len(text) <= 6 and "." not in text:
            fixed = fmt(value)[: len(text.replace(":", ""))]  # keep the stated precision
        if fixed != text:
            ds[elem.tag] = DataElement(elem.tag, elem.VR, fixed)
            action = "rewritten in DICOM form" if fixed else "not a date/time: left empty"
            notes.add(f"{tag_name(elem.keyword)} {action} in the derived object")


def _declared_encodings(ds: Dataset) -> tuple[list[str], bool]:
    terms = [t.strip() for t in (raw_text(ds, "SpecificCharacterSet") or "").split("\\")]
    known = [python_encoding[t] for t in terms if t in python_encoding]
    unknown = any(t and t not in python_encoding for t in terms)
    return known or ["ascii"], unknown


def _raw_texts(ds: Dataset) -> dict[int, bytes]:
    """Undecoded bytes of the text elements not yet read (before anything converts them)."""
    out = {}
    for tag in ds.keys():
        elem = ds.get_item(tag)
        if isinstance(elem, RawDataElement) and isinstance(elem.value, bytes) and elem.value:
            vr = elem.VR or (dictionary_VR(tag) if dictionary_has_tag(tag) else None)
            if vr in _TEXT_VRS:
                out[int(tag)] = elem.value
    return out


def _fix_text(ds: Dataset, raws: dict[int, bytes], unknown: bool, encoding: str, notes: set[str]):
    """Re-encode as UTF-8 when the character set is unknown or a text value is not valid in
    it (decoded as Latin-1 instead of with replacement characters)."""
    bad = False
    for tag, raw in raws.items():
        try:
            raw.decode(encoding)
        except (UnicodeDecodeError, LookupError):
            bad = True
            ds[tag] = DataElement(tag, ds[tag].VR, raw.decode("latin-1").rstrip(" \x00"))
    if unknown or bad:
        ds.SpecificCharacterSet = "ISO_IR 192"
        why = (
            "an unknown SpecificCharacterSet" if unknown else "text not valid in its character set"
        )
        notes.add(f"source header with {why}: text read as Latin-1 and written as UTF-8")


def _fill(ds: Dataset, uids: dict[str, str], spacing_mm: float | None, notes: set[str]) -> None:
    for keyword in TYPE2_EMPTY:
        if keyword not in ds:
            setattr(ds, keyword, "")
            notes.add(f"{tag_name(keyword)} absent: written empty (type 2)")
    _fill_uids(ds, uids, notes)
    if not get_floats(ds, "SliceThickness", 1) and spacing_mm:
        ds.SliceThickness = f"{spacing_mm:.6g}"
        notes.add("SliceThickness (0018,0050) absent: the slice spacing used")


def _fill_uids(ds: Dataset, uids: dict[str, str], notes: set[str]) -> None:
    for keyword in ("StudyInstanceUID", "SeriesInstanceUID"):  # one per series: shared
        if not get_str(ds, keyword):
            setattr(ds, keyword, uids[keyword])
            notes.add(f"{tag_name(keyword)} absent: a new UID generated")
    for keyword in ("SOPInstanceUID",):
        if not get_str(ds, keyword):
            setattr(ds, keyword, generate_uid())
            notes.add(
                f"{tag_name(keyword)} absent: a new UID generated (the derived object refers "
                "to it; viewers cannot link it to the images)"
            )
    if not get_str(ds, "SOPClassUID"):
        sop = get_str(ds.file_meta, "MediaStorageSOPClassUID") if ds.file_meta else None
        if sop is None:
            raise NenscopeError("SOPClassUID (0008,0016) is absent from the source images")
        ds.SOPClassUID = sop
        notes.add("SOPClassUID (0008,0016) absent: taken from the file meta information")


def _reference_copy(ds: Dataset) -> Dataset:
    """A dataset with only the :data:`REFERENCE_KEYWORDS` of ``ds`` (shared, not converted)."""
    out = Dataset()
    out.file_meta = getattr(ds, "file_meta", None) or FileMetaDataset()
    for tag in _REFERENCE_TAGS:
        if tag in ds:
            out[tag] = ds.get_item(tag)
    return out


def writable_sources(
    sources: Sequence[Dataset],
    notes: list[str],
    *,
    need_frame_of_reference: bool = True,
    references_after_first: bool = False,
) -> list[Dataset]:
    """Copies of ``sources`` that a derived DICOM object can reference (see the module doc).

    Args:
        sources: the source image headers (not modified).
        notes: receives one line per kind of repair.
        need_frame_of_reference: refuse sources without FrameOfReferenceUID (a SEG needs it;
            an RT Dose carries its own).
        references_after_first: copy and repair the first source whole, and of the others
            only the :data:`REFERENCE_KEYWORDS` (their UIDs repaired), which is all a
            DICOM-SEG reads from them: copying and repairing 400 whole headers of a
            clinical-size series took 0.5-0.9 s.

    Raises:
        NenscopeError: a source lacks FrameOfReferenceUID (0020,0052) or SOPClassUID.
    """
    if need_frame_of_reference and not all(get_str(ds, "FrameOfReferenceUID") for ds in sources):
        raise NenscopeError(
            "the source images have no FrameOfReferenceUID (0020,0052): a DICOM-SEG cannot be "
            "placed on them"
        )
    positions = [get_floats(ds, "ImagePositionPatient", 3) for ds in sources]
    spacing = None
    if len(sources) > 1 and all(p is not None for p in positions):
        steps = np.linalg.norm(np.diff(np.asarray(positions, dtype=float), axis=0), axis=1)
        spacing = float(np.median(steps)) if len(steps) else None
    uids = {
        k: next((v for v in (get_str(ds, k) for ds in sources) if v), None) or generate_uid()
        for k in ("StudyInstanceUID", "SeriesInstanceUID")
    }
    found: set[str] = set()
    out = []
    for n, ds in enumerate(sources):
        if n and references_after_first:
            reference = _reference_copy(ds)
            _fill_uids(reference, uids, found)
            out.append(reference)
            continue
        raws = _raw_texts(ds)
        encodings, unknown = _declared_encodings(ds)
        copy_ = _copy_without_pixels(ds)
        _fix_text(
            copy_, {t: b for t, b in raws.items() if t in copy_}, unknown, encodings[0], found
        )
        _fix_dates(copy_, found)
        _fill(copy_, uids, spacing, found)
        out.append(copy_)
    notes.extend(sorted(found))
    return out
