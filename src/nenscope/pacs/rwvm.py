"""A Real World Value Mapping instance that turns the stored PET pixel values into SUV.

DICOM PS3.3 A.46 (Real World Value Mapping IOD, SOP Class 1.2.840.10008.5.1.4.1.1.67), as
written by the QIICR tools (3D Slicer PET-IndiC, dcmqi) for the measurement reports of the
TCIA PET collections: one mapping item per distinct (RescaleSlope, RescaleIntercept) of the
source slices, with ``slope = SUV factor x RescaleSlope`` and ``intercept = SUV factor x
RescaleIntercept``, the quantity "Standardized Uptake Value" (DCM 126400), the SUV unit (CID 85)
and the calculation method (CID 4106). The SR's measurement groups reference it
("Real World Value Map used for measurement", DCM 126100).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

import highdicom as hd
from pydicom import Dataset
from pydicom.dataset import FileMetaDataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.sr.codedict import codes
from pydicom.uid import ExplicitVRLittleEndian

from nenscope import __version__
from nenscope.errors import NenscopeError
from nenscope.pacs.codes import SUV, suv_codes

RWVM_SOP_CLASS_UID = "1.2.840.10008.5.1.4.1.1.67"
RWVM_SERIES_NUMBER = 902
_COPIED = (
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "PatientSex",
    "StudyInstanceUID",
    "StudyDate",
    "StudyTime",
    "StudyID",
    "AccessionNumber",
    "ReferringPhysicianName",
)


def _code_item(code) -> Dataset:
    item = Dataset()
    item.CodeValue = code.value
    item.CodingSchemeDesignator = code.scheme_designator
    item.CodeMeaning = code.meaning
    return item


def _quantity_item(name, value) -> Dataset:
    item = Dataset()
    item.ValueType = "CODE"
    item.ConceptNameCodeSequence = DicomSequence([_code_item(name)])
    item.ConceptCodeSequence = DicomSequence([_code_item(value)])
    return item


def _mapping(source: Dataset, suv_factor: float, kind: str, slope: float, intercept: float):
    unit, method = suv_codes(kind)
    signed = int(source.get("PixelRepresentation", 0)) == 1
    bits = int(source.get("BitsStored", 16))
    first, last = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2**bits - 1)
    item = Dataset()
    item.LUTExplanation = f"SUV{kind}"
    item.LUTLabel = f"SUV{kind}"[:16]
    item.MeasurementUnitsCodeSequence = DicomSequence([_code_item(unit)])
    vr = "SS" if signed else "US"
    item.add_new(0x00409216, vr, first)  # RealWorldValueFirstValueMapped
    item.add_new(0x00409211, vr, last)  # RealWorldValueLastValueMapped
    item.RealWorldValueIntercept = float(suv_factor * intercept)
    item.RealWorldValueSlope = float(suv_factor * slope)
    item.QuantityDefinitionSequence = DicomSequence(
        [
            _quantity_item(codes.SCT.Quantity, SUV),
            _quantity_item(codes.SCT.MeasurementMethod, method),
        ]
    )
    return item


def suv_rwvm(sources: Sequence[Dataset], suv_factor: float, kind: str = "bw") -> Dataset:
    """The RWVM instance mapping the stored values of ``sources`` (one PET/SPECT series) to
    SUV of ``kind``: SUV = ``suv_factor`` x (stored x RescaleSlope + RescaleIntercept).

    Args:
        sources: the series' image datasets (headers suffice).
        suv_factor: the study's SUV factor of ``kind`` per rescaled unit
            (:attr:`nenscope.imaging.Study.suv`), e.g. g/ml per Bq/ml for SUVbw.
        kind: ``"bw"``, ``"sul"``, ``"lbm_james"``, ``"bsa"`` or ``"ibw"``.
    """
    if not sources:
        raise NenscopeError("a Real World Value Map needs the source images")
    if not suv_factor or suv_factor <= 0:
        raise NenscopeError(f"SUV {kind} factor {suv_factor!r} is not positive: no SUV mapping")
    groups: dict[tuple[float, float], list[Dataset]] = defaultdict(list)
    for ds in sources:
        key = (float(ds.get("RescaleSlope", 1.0)), float(ds.get("RescaleIntercept", 0.0)))
        groups[key].append(ds)
    first = sources[0]
    items = []
    for (slope, intercept), members in groups.items():
        item = Dataset()
        item.RealWorldValueMappingSequence = DicomSequence(
            [_mapping(first, suv_factor, kind, slope, intercept)]
        )
        item.ReferencedImageSequence = DicomSequence([_image_ref(ds) for ds in members])
        items.append(item)
    ds = _header(first)
    ds.ReferencedImageRealWorldValueMappingSequence = DicomSequence(items)
    return ds


def _image_ref(source: Dataset) -> Dataset:
    ref = Dataset()
    ref.ReferencedSOPClassUID = source.SOPClassUID
    ref.ReferencedSOPInstanceUID = source.SOPInstanceUID
    return ref


def _header(first: Dataset) -> Dataset:
    """Patient, study, series, equipment and SOP common modules of the RWVM instance."""
    now = datetime.now()
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = RWVM_SOP_CLASS_UID
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = hd.UID()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = RWVM_SOP_CLASS_UID
    ds.SpecificCharacterSet = first.get("SpecificCharacterSet", "ISO_IR 192")
    for keyword in _COPIED:
        setattr(ds, keyword, first.get(keyword, ""))
    ds.Modality = "RWV"
    ds.SeriesInstanceUID = hd.UID()
    ds.SeriesNumber = RWVM_SERIES_NUMBER
    ds.SeriesDescription = "nenscope SUV mapping"
    ds.InstanceNumber = 1
    ds.Manufacturer = "nenscope"
    ds.ManufacturerModelName = "nenscope"
    ds.DeviceSerialNumber = "0"
    ds.SoftwareVersions = __version__
    ds.ContentDate = ds.InstanceCreationDate = now.strftime("%Y%m%d")
    ds.ContentTime = ds.InstanceCreationTime = now.strftime("%H%M%S")
    ds.ContentLabel = "SUV"
    ds.ContentDescription = "stored PET values to SUV"
    ds.ContentCreatorName = "nenscope"
    return ds
