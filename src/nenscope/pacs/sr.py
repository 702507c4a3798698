"""DICOM SR measurement report (TID 1500) of the lesions in a ``findings.json``, with highdicom.

One volumetric measurement group (TID 1411) per lesion:

- the ROI is the lesion's segment in the DICOM-SEG (``ReferencedSegment``, with the source
  PET/SPECT series), tracked as ``lesion <id>``, finding "Lesion" at its SNOMED CT site;
- SUVmax, SUVpeak, SUVmean: quantity "Standardized Uptake Value" (DCM 126400) with derivation
  Maximum / "Peak Value Within ROI" / Mean, the SUV unit of the study's kind (CID 85, e.g.
  ``g/ml{SUVbw}``) and its calculation method;
- volume (SCT 118565006) in ml;
- Krenning score and SSTR-RADS 1.0 category as coded qualitative evaluations
  (:mod:`nenscope.pacs.codes`);
- the Real World Value Map that turns stored pixels into SUV (:mod:`nenscope.pacs.rwvm`).

The SR's evidence lists the source images, the SEG and the RWVM instance, so a viewer or PACS
can resolve every reference. :func:`read_measurement_report` reads the values back.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import highdicom as hd
from pydicom import Dataset, dcmread
from pydicom.sr.codedict import codes

from nenscope import __version__
from nenscope.atomic import atomic_path
from nenscope.errors import NenscopeError
from nenscope.pacs.codes import (
    MILLILITER,
    SUV,
    score_concept,
    score_from_code,
    score_value,
    site_code,
    suv_codes,
)

SR_SERIES_NUMBER = 901
# findings.json key -> derivation of the SUV measurement
SUV_DERIVATIONS = {
    "suv_max": codes.SCT.Maximum,
    "suv_peak": codes.DCM.PeakValueWithinROI,
    "suv_mean": codes.SCT.Mean,
}
SCORES = ("krenning", "sstr_rads")


def _algorithm() -> hd.sr.AlgorithmIdentification:
    return hd.sr.AlgorithmIdentification(name="nenscope", version=__version__)


def _measurements(lesion: Mapping[str, Any], kind: str) -> list[hd.sr.Measurement]:
    unit, method = suv_codes(kind)
    out = [
        hd.sr.Measurement(
            name=SUV,
            value=float(lesion[key]),
            unit=unit,
            derivation=derivation,
            method=method,
            algorithm_id=_algorithm(),
        )
        for key, derivation in SUV_DERIVATIONS.items()
        if lesion.get(key) is not None
    ]
    if lesion.get("volume_ml") is not None:
        out.append(
            hd.sr.Measurement(
                name=codes.SCT.Volume,
                value=float(lesion["volume_ml"]),
                unit=MILLILITER,
                algorithm_id=_algorithm(),
            )
        )
    return out


def _evaluations(lesion: Mapping[str, Any]) -> list[hd.sr.QualitativeEvaluation]:
    return [
        hd.sr.QualitativeEvaluation(name=score_concept(key), value=score_value(key, lesion[key]))
        for key in SCORES
        if lesion.get(key) is not None
    ]


def _group(lesion, segment_number, seg, series_uid, rwvm, kind):
    site = site_code(lesion.get("site"))
    return hd.sr.VolumetricROIMeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(
            uid=hd.UID(), identifier=f"lesion {lesion['id']}"
        ),
        referenced_segment=hd.sr.ReferencedSegment(
            sop_class_uid=seg.SOPClassUID,
            sop_instance_uid=seg.SOPInstanceUID,
            segment_number=segment_number,
            source_series=hd.sr.SourceSeriesForSegmentation(series_uid),
        ),
        referenced_real_world_value_map=hd.sr.RealWorldValueMap(rwvm.SOPInstanceUID),
        finding_type=codes.SCT.Lesion,
        finding_sites=[hd.sr.FindingSite(site)] if site is not None else None,
        algorithm_id=_algorithm(),
        measurements=_measurements(lesion, kind),
        qualitative_evaluations=_evaluations(lesion) or None,
    )


def measurement_report(
    findings: Mapping[str, Any],
    seg: Dataset,
    sources: Sequence[Dataset],
    rwvm: Dataset,
) -> hd.sr.Comprehensive3DSR:
    """The TID 1500 report of ``findings`` (a ``findings.json`` dictionary).

    Args:
        findings: ``Findings.to_dict()``; lesions are matched to the SEG's segments in
            increasing lesion id, the order :func:`nenscope.imaging.write_seg` numbers them.
        seg: the DICOM-SEG of the lesions (as written for these findings).
        sources: the PET/SPECT images the SEG references (headers suffice).
        rwvm: the SUV Real World Value Map of ``sources`` (:func:`~nenscope.pacs.rwvm.suv_rwvm`).
    """
    lesions = sorted(findings.get("lesions", []), key=lambda les: int(les["id"]))
    if not lesions:
        raise NenscopeError("no lesions: there is nothing to report in a DICOM SR")
    n_segments = len(seg.get("SegmentSequence", []))
    if n_segments != len(lesions):
        raise NenscopeError(
            f"the DICOM-SEG has {n_segments} segment(s) for {len(lesions)} lesion(s): "
            "write the SEG and the SR from the same findings"
        )
    kind = findings.get("study", {}).get("suv_kind") or "bw"
    series_uid = seg.ReferencedSeriesSequence[0].SeriesInstanceUID
    groups = [_group(les, n, seg, series_uid, rwvm, kind) for n, les in enumerate(lesions, 1)]
    modality = findings.get("study", {}).get("modality", "PT")
    procedure = (
        codes.LN.PETWholeBody
        if modality == "PT"
        else codes.SCT.SinglePhotonEmissionComputerizedTomography
    )
    observer = hd.sr.ObserverContext(
        observer_type=codes.DCM.Device,
        observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
            uid=hd.UID(), name="nenscope", model_name=__version__
        ),
    )
    report = hd.sr.MeasurementReport(
        observation_context=hd.sr.ObservationContext(observer_device_context=observer),
        procedure_reported=procedure,
        imaging_measurements=groups,
    )
    with warnings.catch_warnings():  # highdicom warns about single-component patient names
        warnings.simplefilter("ignore", UserWarning)
        return hd.sr.Comprehensive3DSR(
            evidence=[*sources, seg, rwvm],
            content=report,
            series_instance_uid=hd.UID(),
            series_number=SR_SERIES_NUMBER,
            sop_instance_uid=hd.UID(),
            instance_number=1,
            manufacturer="nenscope",
            series_description="nenscope measurement report",
            is_complete=True,
        )


def write_measurement_report(
    findings: Mapping[str, Any],
    seg: Dataset,
    sources: Sequence[Dataset],
    rwvm: Dataset,
    path: str | os.PathLike,
) -> Path:
    """Write :func:`measurement_report` to ``path`` atomically; return the path."""
    sr = measurement_report(findings, seg, sources, rwvm)
    with atomic_path(path) as tmp:
        sr.save_as(tmp, enforce_file_format=True)
    return Path(path)


def read_measurement_report(path_or_dataset: str | os.PathLike | Dataset) -> list[dict[str, Any]]:
    """The lesions of a nenscope SR, one dictionary per measurement group: ``lesion`` (the
    tracking identifier), ``segment_number``, ``seg_sop_instance_uid``, ``site``, the SUV
    values under their findings.json keys, ``volume_ml``, ``krenning``, ``sstr_rads``."""
    ds = path_or_dataset if isinstance(path_or_dataset, Dataset) else dcmread(path_or_dataset)
    sr = hd.sr.Comprehensive3DSR.from_dataset(ds)
    rows = []
    for group in sr.content.get_volumetric_roi_measurement_groups():
        segment = group.referenced_segment[0].ReferencedSOPSequence[0]
        rows.append(
            {
                "lesion": group.tracking_identifier,
                "segment_number": int(segment.ReferencedSegmentNumber),
                "seg_sop_instance_uid": str(segment.ReferencedSOPInstanceUID),
                "site": group.finding_sites[0].value.meaning if group.finding_sites else None,
                **_values(group),
            }
        )
    return rows


def _values(group) -> dict[str, Any]:
    out: dict[str, Any] = {}
    derivations = {d.value: key for key, d in SUV_DERIVATIONS.items()}
    for m in group.get_measurements():
        if m.name == SUV and m.derivation is not None:
            out[derivations[m.derivation.value]] = m.value
        elif m.name == codes.SCT.Volume:
            out["volume_ml"] = m.value
    for key in SCORES:
        found = group.get_qualitative_evaluations(name=score_concept(key))
        out[key] = score_from_code(key, found[0].value.value) if found else None
    if out.get("krenning") is not None:
        out["krenning"] = int(out["krenning"])
    return out
