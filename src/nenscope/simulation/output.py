"""Write a simulated study: DICOM (PT or NM + CT) with a complete QIBA SUV header, NIfTI
label maps and ``truth/manifest.json``.

Layout of ``out_dir``: ``pet/`` (one folder per time point, ``pet/t024h``, when several),
``ct/``, ``truth/organs.nii.gz`` (organ label per voxel), ``truth/lesions.nii.gz`` (lesion id
per voxel), ``truth/activity_bqml*.nii.gz`` (noise-free true concentration) and
``truth/manifest.json``. PET is written one file per slice (Units BQML, per-slice
RescaleSlope); reconstructed SPECT as one classic NM multi-frame file (PS3.3 C.8.4).
Header content follows the QIBA SUV vendor-neutral pseudo-code (QIBA FDG-PET/CT profile
2016) and PS3.3 C.8.9.1 (PET Series), C.8.9.2 (PET Isotope) and C.8.4.10 (NM Isotope).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, ExplicitVRLittleEndian, generate_uid

from nenscope import __version__
from nenscope.atomic import write_text_atomic
from nenscope.imaging.geometry import spacing_from_affine
from nenscope.imaging.nifti import save_nifti
from nenscope.knowledge.radionuclides import beta_plus_yield, radionuclide_code
from nenscope.simulation.study import SimulatedStudy

__all__ = ["write_study"]

PET_STORAGE = "1.2.840.10008.5.1.4.1.1.128"
CT_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
NM_STORAGE = "1.2.840.10008.5.1.4.1.1.20"


def _da(dt) -> str:
    return dt.strftime("%Y%m%d")


def _tm(dt) -> str:
    return dt.strftime("%H%M%S.%f")


def _common(
    sim: SimulatedStudy, series_uid: str, series_number: int, modality: str, description: str, acq
) -> Dataset:
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.PatientName = f"Virtual^NET^seed{sim.config.seed}"
    ds.PatientID = f"NENSCOPE-SIM-{sim.config.seed:04d}"
    ds.PatientBirthDate = ""
    ds.PatientSex = sim.sex
    ds.PatientWeight = f"{sim.weight_kg:.1f}"
    ds.PatientSize = f"{sim.height_cm / 100.0:.2f}"
    ds.StudyInstanceUID = sim.uids["study"]
    ds.StudyDate = _da(sim.injection_datetime)
    ds.StudyTime = _tm(sim.injection_datetime)
    ds.StudyID = "1"
    ds.AccessionNumber = ""
    ds.ReferringPhysicianName = ""
    ds.StudyDescription = f"nenscope virtual patient {sim.agent}"
    ds.SeriesInstanceUID = series_uid
    ds.SeriesNumber = series_number
    ds.Modality = modality
    ds.SeriesDescription = description
    ds.SeriesDate = _da(acq)
    ds.SeriesTime = _tm(acq)
    ds.AcquisitionDate = _da(acq)
    ds.AcquisitionTime = _tm(acq)
    ds.ContentDate = _da(acq)
    ds.ContentTime = _tm(acq)
    ds.FrameOfReferenceUID = sim.uids["frame_of_reference"]
    ds.PositionReferenceIndicator = ""
    ds.Manufacturer = "nenscope (simulated)"
    ds.ManufacturerModelName = "nenscope virtual scanner"
    ds.SoftwareVersions = __version__
    ds.PatientPosition = "HFS"
    ds.BodyPartExamined = "WHOLEBODY" if sim.config.phantom == "patient" else "PHANTOM"
    return ds


def _radiopharmaceutical(sim: SimulatedStudy) -> Dataset:
    item = Dataset()
    item.Radiopharmaceutical = sim.agent
    inj = sim.injection_datetime
    item.RadiopharmaceuticalStartTime = _tm(inj)
    item.RadiopharmaceuticalStartDateTime = inj.strftime("%Y%m%d%H%M%S.%f")
    item.RadionuclideTotalDose = f"{sim.injected_mbq * 1e6:.6g}"
    item.RadionuclideHalfLife = f"{sim.half_life_s:.6g}"
    if sim.modality == "PT":
        item.RadionuclidePositronFraction = f"{beta_plus_yield(sim.radionuclide):.5g}"
    code = radionuclide_code(sim.radionuclide)
    c = Dataset()
    c.CodeValue = code.value
    c.CodingSchemeDesignator = code.scheme_designator
    c.CodeMeaning = code.meaning
    item.RadionuclideCodeSequence = [c]
    return item


def _meta(sop_class: str, sop_uid: str) -> FileMetaDataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = sop_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    return meta


def _plane(sim: SimulatedStudy, k: int, ds: Dataset, affine: np.ndarray) -> None:
    pos = affine @ np.array([k, 0.0, 0.0, 1.0])
    dz, dy, dx = spacing_from_affine(affine)  # slices, rows, columns
    ds.ImagePositionPatient = [f"{c:.4f}" for c in pos[:3]]
    ds.ImageOrientationPatient = ["1", "0", "0", "0", "1", "0"]
    ds.PixelSpacing = [f"{dy:.4f}", f"{dx:.4f}"]
    ds.SliceThickness = f"{dz:.4f}"
    ds.SpacingBetweenSlices = f"{dz:.4f}"
    ds.SliceLocation = f"{pos[2]:.4f}"


def _pixels(ds: Dataset, arr: np.ndarray, signed: bool) -> None:
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = int(arr.shape[-2]), int(arr.shape[-1])
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 1 if signed else 0
    ds.PixelData = np.ascontiguousarray(arr).tobytes()


def _save(ds: Dataset, meta: FileMetaDataset, path: Path) -> None:
    ds.file_meta = meta
    ds.save_as(path, enforce_file_format=True)


def _write_pet(
    sim: SimulatedStudy, frame_index: int, folder: Path, series_uid: str, number: int
) -> int:
    frame = sim.frames[frame_index]
    arr = np.asarray(frame.volume.array, dtype=np.float32)
    affine = frame.volume.affine
    nz = arr.shape[0]
    scanner = sim.truth.get("scanner") or {}
    recon = f"OSEM {scanner.get('iterations')}i{scanner.get('subsets')}s" + (
        " PSF" if scanner.get("psf") else ""
    )
    desc = f"{sim.agent} PET {recon} {frame.time_h:g}h p.i. (simulated)"
    base = _common(sim, series_uid, number, "PT", desc, frame.acquisition_datetime)
    base.SOPClassUID = PET_STORAGE
    base.ImageType = ["ORIGINAL", "PRIMARY"]
    base.Units = "BQML"
    base.CountsSource = "EMISSION"
    base.SeriesType = ["WHOLE BODY", "IMAGE"]
    base.DecayCorrection = "START"
    base.CorrectedImage = ["DECY", "ATTN", "SCAT", "RAN", "NORM", "DTIM"]
    base.ReconstructionMethod = recon
    base.AttenuationCorrectionMethod = "CT-based (bilinear HU to 511 keV)"
    base.ScatterCorrectionMethod = "model-based (simulated)"
    base.RandomsCorrectionMethod = "DLYD"
    base.DecayFactor = "1.0"
    base.FrameReferenceTime = "0"
    base.ActualFrameDuration = str(int(round(sim.config.minutes_per_bed * 60000)))
    base.NumberOfSlices = nz
    base.RadiopharmaceuticalInformationSequence = [_radiopharmaceutical(sim)]
    base.RescaleIntercept = "0"
    pos_max = np.maximum(arr.reshape(nz, -1).max(axis=1), 1e-6)
    for k in range(nz):
        ds = Dataset()
        ds.update(base)
        sop = generate_uid(entropy_srcs=[series_uid, str(k)])
        ds.SOPInstanceUID = sop
        ds.InstanceNumber = k + 1
        ds.ImageIndex = k + 1
        _plane(sim, k, ds, affine)
        slope = float(pos_max[k]) / 32767.0
        ds.RescaleSlope = f"{slope:.8g}"
        slope = float(ds.RescaleSlope)
        px = np.clip(np.round(arr[k] / slope), 0, 32767).astype(np.int16)
        _pixels(ds, px, signed=True)
        _save(ds, _meta(PET_STORAGE, sop), folder / f"PT{k + 1:04d}.dcm")
    return nz


def _write_nm(
    sim: SimulatedStudy, frame_index: int, folder: Path, series_uid: str, number: int
) -> int:
    frame = sim.frames[frame_index]
    arr = np.asarray(frame.volume.array, dtype=np.float32)[::-1]  # frames run inferior -> superior
    affine = frame.volume.affine
    nz = arr.shape[0]
    scanner = sim.truth.get("scanner") or {}
    desc = (
        f"{sim.agent} SPECT OSEM {scanner.get('iterations')}i{scanner.get('subsets')}s AC SC RR "
        f"{frame.time_h:g}h p.i. (simulated)"
    )
    ds = _common(sim, series_uid, number, "NM", desc, frame.acquisition_datetime)
    ds.SOPClassUID = NM_STORAGE
    sop = generate_uid(entropy_srcs=[series_uid, "nm"])
    ds.SOPInstanceUID = sop
    ds.InstanceNumber = 1
    ds.ImageType = ["ORIGINAL", "PRIMARY", "RECON TOMO", "EMISSION"]
    ds.Units = "BQML"
    ds.DecayCorrection = "START"
    ds.CorrectedImage = ["DECY", "ATTN", "SCAT", "NORM"]
    ds.NumberOfFrames = nz
    ds.FrameIncrementPointer = 0x00540080
    ds.SliceVector = list(range(1, nz + 1))
    ds.NumberOfSlices = nz
    v = spacing_from_affine(affine)[1]
    first = affine @ np.array([nz - 1, 0.0, 0.0, 1.0])
    det = Dataset()
    det.ImagePositionPatient = [f"{c:.4f}" for c in first[:3]]
    det.ImageOrientationPatient = ["1", "0", "0", "0", "1", "0"]
    ds.DetectorInformationSequence = [det]
    ds.NumberOfDetectors = 1
    ds.ImagePositionPatient = det.ImagePositionPatient
    ds.ImageOrientationPatient = det.ImageOrientationPatient
    ds.PixelSpacing = [f"{v:.4f}", f"{v:.4f}"]
    ds.SliceThickness = f"{v:.4f}"
    ds.SpacingBetweenSlices = f"{v:.4f}"
    windows = []
    for e in scanner.get("photopeaks_kev") or []:
        w = Dataset()
        r = Dataset()
        r.EnergyWindowLowerLimit = f"{e * 0.9:.1f}"
        r.EnergyWindowUpperLimit = f"{e * 1.1:.1f}"
        w.EnergyWindowRangeSequence = [r]
        w.EnergyWindowName = f"{e:g} keV"
        windows.append(w)
    ds.EnergyWindowInformationSequence = windows
    ds.NumberOfEnergyWindows = len(windows)
    ds.RadiopharmaceuticalInformationSequence = [_radiopharmaceutical(sim)]
    ds.ActualFrameDuration = str(int(round((scanner.get("time_per_view_s") or 0) * 1000)))
    slope = max(float(arr.max()), 1e-6) / 32767.0
    ds.RescaleSlope = f"{slope:.8g}"
    ds.RescaleIntercept = "0"
    slope = float(ds.RescaleSlope)
    px = np.clip(np.round(arr / slope), 0, 32767).astype(np.int16)
    _pixels(ds, px, signed=True)
    _save(ds, _meta(NM_STORAGE, sop), folder / "NM0001.dcm")
    return 1


def _write_ct(sim: SimulatedStudy, folder: Path) -> int:
    arr = np.asarray(sim.ct.array, dtype=np.float32)
    affine = sim.ct.affine
    series_uid = sim.uids["ct_series"]
    base = _common(
        sim, series_uid, 2, "CT", "CT (simulated, 120 kVp)", sim.frames[0].acquisition_datetime
    )
    base.SOPClassUID = CT_STORAGE
    base.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    base.KVP = "120"
    base.RescaleIntercept = "-1024"
    base.RescaleSlope = "1"
    base.RescaleType = "HU"
    base.ConvolutionKernel = "B30f-like"
    px_all = np.clip(np.round(arr + 1024.0), 0, 65535).astype(np.uint16)
    for k in range(arr.shape[0]):
        ds = Dataset()
        ds.update(base)
        sop = generate_uid(entropy_srcs=[series_uid, str(k)])
        ds.SOPInstanceUID = sop
        ds.InstanceNumber = k + 1
        _plane(sim, k, ds, affine)
        _pixels(ds, px_all[k], signed=False)
        _save(ds, _meta(CT_STORAGE, sop), folder / f"CT{k + 1:04d}.dcm")
    return arr.shape[0]


def write_study(
    sim: SimulatedStudy,
    out_dir: str | os.PathLike,
    progress: Callable[[str, int, int], None] | None = None,
) -> dict[str, Path]:
    """Write ``sim`` under ``out_dir`` (DICOM, NIfTI truth, manifest). Returns the paths."""
    out = Path(out_dir)
    paths: dict[str, Path] = {}
    emission_root = out / "pet"
    n = len(sim.frames)
    for i, frame in enumerate(sim.frames):
        folder = emission_root if n == 1 else emission_root / f"t{frame.time_h:03.0f}h"
        folder.mkdir(parents=True, exist_ok=True)
        series_uid = generate_uid(entropy_srcs=[sim.uids["pet_series"], str(i)])
        if sim.modality == "PT":
            _write_pet(sim, i, folder, series_uid, 100 + i)
        else:
            _write_nm(sim, i, folder, series_uid, 100 + i)
        paths[f"emission_{i}"] = folder
        if progress:
            progress("writing DICOM", i + 1, n + 1)
    ct_dir = out / "ct"
    ct_dir.mkdir(parents=True, exist_ok=True)
    _write_ct(sim, ct_dir)
    paths["ct"] = ct_dir
    truth = out / "truth"
    truth.mkdir(parents=True, exist_ok=True)
    paths["organs"] = save_nifti(sim.organs, truth / "organs.nii.gz")
    paths["lesions"] = save_nifti(sim.lesion_labels, truth / "lesions.nii.gz")
    for i, frame in enumerate(sim.frames):
        suffix = "" if n == 1 else f"_t{frame.time_h:03.0f}h"
        paths[f"activity_{i}"] = save_nifti(
            sim.emission.with_array(frame.truth_bqml.astype(np.float32)),
            truth / f"activity_bqml{suffix}.nii.gz",
        )
    manifest = dict(sim.truth)
    manifest["organ_labels"] = {str(k): v for k, v in sim.organ_names.items()}
    manifest["files"] = {k: str(p.relative_to(out)) for k, p in paths.items()}
    write_text_atomic(truth / "manifest.json", json.dumps(manifest, indent=2, default=float))
    paths["manifest"] = truth / "manifest.json"
    if progress:
        progress("writing DICOM", n + 1, n + 1)
    return paths
