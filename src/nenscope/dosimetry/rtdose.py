"""Write an absorbed-dose map as a DICOM RT Dose object (PS3.3 A.18, RT Dose IOD).

highdicom has no RT Dose writer, so the object is built with pydicom: one multi-frame
instance, 32-bit unsigned pixels with ``DoseGridScaling`` (Gy per stored unit), frames
ordered along the slice normal with ``GridFrameOffsetVector`` relative to the first frame, in
the frame of reference (and study) of the SPECT it was computed from, so that treatment
planning systems and viewers overlay it on the SPECT/CT.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

import highdicom as hd
import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from nenscope import __version__
from nenscope.atomic import atomic_path
from nenscope.errors import NenscopeError
from nenscope.imaging.writable import TYPE2_EMPTY, writable_sources

RT_DOSE_STORAGE = "1.2.840.10008.5.1.4.1.1.481.2"


def _patient_and_study(
    ds: Dataset, source: Dataset | None, study_instance_uid: str | None, notes: list[str]
) -> None:
    """Patient and General Study modules: copied from ``source`` (repaired by
    :func:`~nenscope.imaging.writable.writable_sources`), type-2 attributes empty when unknown,
    the study UID generated with a note when there is none."""
    src = (
        writable_sources([source], notes, need_frame_of_reference=False)[0]
        if source is not None
        else Dataset()
    )
    if "SpecificCharacterSet" in src:
        ds.SpecificCharacterSet = src.SpecificCharacterSet
    for keyword in TYPE2_EMPTY:
        setattr(ds, keyword, src.get(keyword, ""))
    uid = study_instance_uid or src.get("StudyInstanceUID")
    if not uid:
        uid = generate_uid()
        notes.append("StudyInstanceUID (0020,000D) unknown: a new UID generated for the RT Dose")
    ds.StudyInstanceUID = uid


def write_rtdose(
    dose: hd.Volume,
    path: str | os.PathLike,
    *,
    source: Dataset | None = None,
    study_instance_uid: str | None = None,
    description: str = "nenscope 177Lu absorbed dose",
    notes: list[str] | None = None,
) -> Path:
    """Write ``dose`` (Gy, ``highdicom.Volume`` in PATIENT coordinates) as RT Dose to ``path``.

    Args:
        dose: absorbed dose in Gy.
        path: output file.
        source: a header of the SPECT/PET the dose was computed from: its patient and study
            attributes are copied (absent type-2 ones written empty, dates and character set
            repaired); without it they are empty.
        study_instance_uid: the study to file the dose in (default: the source's; else a new
            UID, with a note).
        description: SeriesDescription.
        notes: receives what was filled in, repaired or generated.
    """
    notes = notes if notes is not None else []
    arr = np.asarray(dose.array, dtype=np.float64)
    if arr.ndim != 3:
        raise NenscopeError("an RT Dose needs a 3-D dose volume")
    if not np.all(np.isfinite(arr)) or arr.min() < 0:
        raise NenscopeError("dose values must be finite and non-negative")
    a = np.asarray(dose.affine, dtype=float)
    row_step, col_step, slice_step = a[:3, 2], a[:3, 1], a[:3, 0]  # along a row = column index
    slice_mm, col_mm, row_mm = dose.spacing
    row_cos = row_step / row_mm
    col_cos = col_step / col_mm
    normal = np.cross(row_cos, col_cos)
    along = float(slice_step @ normal)
    if abs(abs(along) - slice_mm) > 1e-3 * slice_mm:
        raise NenscopeError("the dose grid's slices are not perpendicular to its rows and columns")
    if along < 0:  # store frames in increasing order along the normal
        arr = arr[::-1]
        origin = a[:3, 3] + slice_step * (arr.shape[0] - 1)
        along = -along
    else:
        origin = a[:3, 3]
    scale = float(f"{float(arr.max()) / 4.0e9:.10g}") if arr.max() > 0 else 1.0
    stored = np.round(arr / scale).astype(np.uint32)

    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = RT_DOSE_STORAGE
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = RT_DOSE_STORAGE
    now = datetime.now()
    ds.ContentDate = now.strftime("%Y%m%d")
    ds.ContentTime = now.strftime("%H%M%S")
    ds.Modality = "RTDOSE"
    ds.Manufacturer = "nenscope"
    ds.SoftwareVersions = __version__
    ds.SeriesDescription = description
    _patient_and_study(ds, source, study_instance_uid, notes)
    ds.SeriesInstanceUID = generate_uid()
    ds.SeriesNumber = 900
    ds.InstanceNumber = 1
    ds.FrameOfReferenceUID = dose.frame_of_reference_uid or generate_uid()
    if not dose.frame_of_reference_uid:
        notes.append(
            "the dose grid has no FrameOfReferenceUID: a new one generated (viewers will not "
            "overlay the RT Dose on the SPECT/CT without registration)"
        )
    ds.PositionReferenceIndicator = ""
    ds.ImagePositionPatient = [float(v) for v in origin]
    ds.ImageOrientationPatient = [float(v) for v in (*row_cos, *col_cos)]
    ds.PixelSpacing = [col_mm, row_mm]  # between rows, between columns
    ds.SliceThickness = float(along)
    ds.NumberOfFrames = int(arr.shape[0])
    ds.FrameIncrementPointer = (0x3004, 0x000C)
    ds.GridFrameOffsetVector = [float(k * along) for k in range(arr.shape[0])]
    ds.Rows, ds.Columns = int(arr.shape[1]), int(arr.shape[2])
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = ds.BitsStored = 32
    ds.HighBit = 31
    ds.PixelRepresentation = 0
    ds.DoseUnits = "GY"
    ds.DoseType = "PHYSICAL"
    ds.DoseSummationType = "PLAN"
    ds.DoseGridScaling = f"{scale:.10g}"  # exact: scale already has 10 digits
    ds.PixelData = np.ascontiguousarray(stored).tobytes()
    p = Path(path)
    with atomic_path(p) as tmp:
        ds.save_as(tmp, enforce_file_format=True)
    return p
