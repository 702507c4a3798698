"""Builders of small synthetic DICOM series for the imaging tests (and tests of the builders).

Each builder writes real DICOM files with pydicom, with the header conventions of one vendor,
so the loader is exercised exactly as on clinical data.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

PET_SOP = "1.2.840.10008.5.1.4.1.1.128"
CT_SOP = "1.2.840.10008.5.1.4.1.1.2"
NM_SOP = "1.2.840.10008.5.1.4.1.1.20"


def _da(t: datetime) -> str:
    return t.strftime("%Y%m%d")


def _tm(t: datetime) -> str:
    return t.strftime("%H%M%S.%f")[:13]


def base_dataset(
    sop_class: str, modality: str, *, study_uid: str, series_uid: str, for_uid: str
) -> Dataset:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = sop_class
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.Modality = modality
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = series_uid
    ds.FrameOfReferenceUID = for_uid
    ds.PatientName = "TEST^NENSCOPE"
    ds.PatientID = "NS0001"
    return ds


def make_pet_series(
    folder: Path,
    *,
    shape: tuple[int, int, int] = (3, 4, 4),
    spacing_mm: tuple[float, float, float] = (3.0, 4.0, 4.0),
    positions_mm: list[float] | None = None,
    units: str = "BQML",
    weight_kg: float | None = 70.0,
    height_m: float | None = 1.75,
    sex: str | None = "M",
    activity_bq: float | None = 370e6,
    half_life_s: float | None = 6586.2,
    nuclide_code: tuple[str, str] | None = ("C-111A1", "^18^Fluorine"),
    agent: str = "Fluorodeoxyglucose F^18^",
    injection: datetime | None = datetime(2024, 3, 1, 9, 0, 0),
    use_start_datetime: bool = True,
    series_time: datetime = datetime(2024, 3, 1, 10, 0, 0),
    acquisition_time: datetime | None = None,
    decay_correction: str | None = "START",
    corrected: str = "ATTN\\DECY",
    slopes: list[float] | None = None,
    manufacturer: str = "SIEMENS",
    extra: dict | None = None,
    seed: int = 0,
    study_uid: str | None = None,
    shuffle: bool = True,
    for_uid: str | None = None,
) -> tuple[list[Path], np.ndarray, str]:
    """Write a PET series; return (files, true rescaled values in slice order along -normal
    i.e. descending z for axial HFS, series UID)."""
    rng = np.random.default_rng(seed)
    n, rows, cols = shape
    folder.mkdir(parents=True, exist_ok=True)
    study_uid = study_uid or generate_uid()
    series_uid, for_uid = generate_uid(), for_uid or generate_uid()
    stored = rng.integers(0, 30000, size=shape).astype(np.int16)
    slopes = slopes or [0.5 + 0.25 * k for k in range(n)]
    z = positions_mm if positions_mm is not None else [-100.0 + spacing_mm[0] * k for k in range(n)]
    acquisition_time = acquisition_time or series_time
    files = []
    order = rng.permutation(n) if shuffle else np.arange(n)
    for inst, k in enumerate(order, start=1):
        ds = base_dataset(
            PET_SOP, "PT", study_uid=study_uid, series_uid=series_uid, for_uid=for_uid
        )
        ds.Manufacturer = manufacturer
        ds.SeriesDescription = "PET AC"
        ds.SeriesNumber = 3
        ds.InstanceNumber = int(inst)
        ds.ImageType = ["ORIGINAL", "PRIMARY"]
        ds.StudyDate = _da(series_time)
        ds.SeriesDate = _da(series_time)
        ds.SeriesTime = _tm(series_time)
        ds.AcquisitionDate = _da(acquisition_time)
        ds.AcquisitionTime = _tm(acquisition_time)
        if sex is not None:
            ds.PatientSex = sex
        if weight_kg is not None:
            ds.PatientWeight = f"{weight_kg:g}"
        if height_m is not None:
            ds.PatientSize = f"{height_m:g}"
        ds.Units = units
        if decay_correction is not None:
            ds.DecayCorrection = decay_correction
        ds.CorrectedImage = corrected.split("\\")
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.ImagePositionPatient = [-8.0, -8.0, float(z[k])]
        ds.PixelSpacing = [spacing_mm[1], spacing_mm[2]]
        ds.SliceThickness = spacing_mm[0]
        ds.Rows, ds.Columns = rows, cols
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.BitsAllocated = 16
        ds.BitsStored = 16
        ds.HighBit = 15
        ds.PixelRepresentation = 1
        ds.RescaleSlope = f"{slopes[k]:g}"
        ds.RescaleIntercept = "0"
        ds.ActualFrameDuration = 120000
        item = Dataset()
        item.Radiopharmaceutical = agent
        if activity_bq is not None:
            item.RadionuclideTotalDose = f"{activity_bq:g}"
        if half_life_s is not None:
            item.RadionuclideHalfLife = f"{half_life_s:g}"
        if injection is not None:
            if use_start_datetime:
                item.RadiopharmaceuticalStartDateTime = injection.strftime("%Y%m%d%H%M%S.%f")
            item.RadiopharmaceuticalStartTime = _tm(injection)
        if nuclide_code is not None:
            code = Dataset()
            code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning = (
                nuclide_code[0],
                "SRT",
                nuclide_code[1],
            )
            item.RadionuclideCodeSequence = Sequence([code])
        ds.RadiopharmaceuticalInformationSequence = Sequence([item])
        for key, value in (extra or {}).items():
            if isinstance(key, tuple):
                ds.add_new(key[0], key[1], value)
            else:
                setattr(ds, key, value)
        ds.PixelData = stored[k].tobytes()
        path = folder / f"pt_{inst:03d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        files.append(path)
    values = stored.astype(np.float64) * np.asarray(slopes)[:, None, None]
    desc = np.argsort(-np.asarray(z, dtype=float), kind="stable")  # highdicom order: along -normal
    return files, values[desc], series_uid


def make_ct_series(
    folder: Path,
    *,
    study_uid: str,
    n: int = 4,
    size: int = 6,
    spacing=(2.5, 3.0, 3.0),
    for_uid: str | None = None,
) -> tuple[list[Path], np.ndarray]:
    """Write a small CT series (HU = stored − 1024); return files and HU in highdicom order."""
    folder.mkdir(parents=True, exist_ok=True)
    series_uid, for_uid = generate_uid(), for_uid or generate_uid()
    stored = (np.arange(n * size * size).reshape(n, size, size) % 2000).astype(np.uint16)
    files = []
    for k in range(n):
        ds = base_dataset(CT_SOP, "CT", study_uid=study_uid, series_uid=series_uid, for_uid=for_uid)
        ds.SeriesDescription = "CT"
        ds.SeriesNumber = 2
        ds.InstanceNumber = k + 1
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.ImagePositionPatient = [-9.0, -9.0, -100.0 + spacing[0] * k]
        ds.PixelSpacing = [spacing[1], spacing[2]]
        ds.Rows = ds.Columns = size
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
        ds.RescaleSlope, ds.RescaleIntercept = "1", "-1024"
        ds.PixelData = stored[k].tobytes()
        path = folder / f"ct_{k:03d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        files.append(path)
    return files, (stored.astype(np.float64) - 1024)[::-1]


def make_nm_spect(
    path: Path,
    *,
    frames: int = 5,
    size: int = 6,
    spacing: float = 4.8,
    slope: float = 0.25,
    rwvm: bool = True,
    decay_correction: str = "NONE",
    acquisition: datetime = datetime(2024, 5, 2, 12, 0, 0),
    injection: datetime = datetime(2024, 5, 1, 10, 0, 0),
    activity_bq: float = 7.4e9,
    weight_kg: float = 80.0,
) -> tuple[np.ndarray, Dataset]:
    """Write a multi-frame reconstructed 177Lu SPECT (NM Image Storage, Bq/ml); return the true
    Bq/ml values in frame order and the dataset."""
    path.parent.mkdir(parents=True, exist_ok=True)
    ds = base_dataset(
        NM_SOP, "NM", study_uid=generate_uid(), series_uid=generate_uid(), for_uid=generate_uid()
    )
    ds.ImageType = ["ORIGINAL", "PRIMARY", "RECON TOMO", "EMISSION"]
    ds.SeriesDescription = "SPECT Lu177 quant"
    ds.SeriesDate = ds.AcquisitionDate = acquisition.strftime("%Y%m%d")
    ds.SeriesTime = ds.AcquisitionTime = acquisition.strftime("%H%M%S")
    ds.PatientWeight = f"{weight_kg:g}"
    ds.PatientSex = "F"
    ds.PatientSize = "1.65"
    ds.NumberOfFrames = frames
    ds.NumberOfSlices = frames
    ds.FrameIncrementPointer = (0x0054, 0x0080)
    ds.SliceVector = list(range(1, frames + 1))
    ds.Rows = ds.Columns = size
    ds.PixelSpacing = [spacing, spacing]
    ds.SpacingBetweenSlices = spacing
    ds.SliceThickness = spacing
    det = Dataset()
    det.ImagePositionPatient = [-12.0, -12.0, 50.0]
    det.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.DetectorInformationSequence = Sequence([det])
    ds.DecayCorrection = decay_correction
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
    stored = np.arange(frames * size * size, dtype=np.uint16).reshape(frames, size, size) * 7
    if rwvm:
        m = Dataset()
        m.RealWorldValueFirstValueMapped = 0
        m.RealWorldValueLastValueMapped = 65535
        m.RealWorldValueSlope = slope
        m.RealWorldValueIntercept = 0.0
        m.LUTLabel = "BQML"
        u = Dataset()
        u.CodeValue, u.CodingSchemeDesignator, u.CodeMeaning = (
            "Bq/ml",
            "UCUM",
            "Becquerels/milliliter",
        )
        m.MeasurementUnitsCodeSequence = Sequence([u])
        ds.RealWorldValueMappingSequence = Sequence([m])
    else:
        ds.RescaleSlope = f"{slope:g}"
        ds.RescaleIntercept = "0"
        ds.Units = "BQML"
    item = Dataset()
    item.Radiopharmaceutical = "Lu-177 DOTATATE"
    item.RadionuclideTotalDose = f"{activity_bq:g}"
    item.RadiopharmaceuticalStartDateTime = injection.strftime("%Y%m%d%H%M%S")
    code = Dataset()
    code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning = (
        "C-1234X",
        "SRT",
        "^177^Lutetium",
    )
    item.RadionuclideCodeSequence = Sequence([code])
    ds.RadiopharmaceuticalInformationSequence = Sequence([item])
    ds.PixelData = stored.tobytes()
    ds.save_as(path, enforce_file_format=True)
    return stored.astype(np.float64) * slope, ds


def test_builders_write_readable_dicom(tmp_path):
    files, values, uid = make_pet_series(tmp_path / "pt")
    assert len(files) == 3 and values.shape == (3, 4, 4)
    back = [pydicom.dcmread(f) for f in files]
    assert {d.SeriesInstanceUID for d in back} == {uid}
    # stored × slope reproduces the returned values for the slice at the highest z
    top = max(back, key=lambda d: float(d.ImagePositionPatient[2]))
    np.testing.assert_allclose(top.pixel_array * float(top.RescaleSlope), values[0])
    nm_values, _ = make_nm_spect(tmp_path / "nm" / "spect.dcm")
    nm = pydicom.dcmread(tmp_path / "nm" / "spect.dcm")
    np.testing.assert_allclose(nm.pixel_array * 0.25, nm_values)
