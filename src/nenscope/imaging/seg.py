"""DICOM-SEG read and write through highdicom."""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes

from nenscope import __version__
from nenscope.atomic import atomic_path
from nenscope.errors import NenscopeError
from nenscope.imaging.geometry import labels_on_grid, lps_to_indices
from nenscope.imaging.writable import writable_sources


def read_seg(
    path: str | os.PathLike | Dataset, reference: hd.Volume | None = None
) -> tuple[hd.Volume, dict[int, str]]:
    """Read a DICOM-SEG as a label volume, optionally placed on ``reference``'s grid.

    Args:
        path: SEG file or dataset.
        reference: volume whose grid is wanted (the SEG must be on it, or on a crop or flip
            of it: :func:`nenscope.imaging.geometry.labels_on_grid`); ``None`` keeps the SEG's
            own grid.

    Returns:
        (uint16 label volume where each value is a segment number, ``{segment number:
        SegmentLabel}``). Overlapping segments: the higher segment number wins.
    """
    try:
        seg = (
            hd.seg.segread(path)
            if not isinstance(path, Dataset)
            else hd.seg.Segmentation.from_dataset(path)
        )
    except Exception as exc:
        raise NenscopeError(
            f"{path}: not a readable DICOM-SEG ({type(exc).__name__}: {exc})"
        ) from exc
    names = {int(d.SegmentNumber): str(d.SegmentLabel) for d in seg.SegmentSequence}
    try:
        vol = seg.get_volume(combine_segments=True, skip_overlap_checks=True, dtype=np.uint16)
    except Exception as exc:
        raise NenscopeError(f"{path}: DICOM-SEG frames do not form a volume ({exc})") from exc
    vol = hd.Volume(
        np.asarray(vol.array),
        vol.affine,
        "PATIENT",
        frame_of_reference_uid=str(seg.get("FrameOfReferenceUID", "")) or None,
    )
    if reference is not None:
        vol = labels_on_grid(
            vol, reference, f"DICOM-SEG {path if not isinstance(path, Dataset) else ''}".strip()
        )
    return vol, names


def _frames_on_sources(labels: hd.Volume, sources: Sequence[Dataset]) -> np.ndarray:
    """Label frames in the order of ``sources`` (single-frame images on the labels' grid)."""
    out = np.zeros((len(sources), *labels.spatial_shape[1:]), dtype=labels.array.dtype)
    for n, ds in enumerate(sources):
        ipp = np.asarray([float(v) for v in ds.ImagePositionPatient])
        idx = lps_to_indices(labels.affine, ipp)[0]
        k = int(round(idx[0]))
        if np.abs(idx - [k, 0, 0]).max() > 0.05 or not 0 <= k < labels.spatial_shape[0]:
            raise NenscopeError(
                "the label volume is not on the grid of the source images "
                "(resample it onto the loaded series first)"
            )
        out[n] = labels.array[k]
    return out


def write_seg(
    labels: hd.Volume,
    source_datasets: Sequence[Dataset],
    names: Mapping[int, str],
    path: str | os.PathLike,
    *,
    series_description: str = "nenscope segmentation",
    notes: list[str] | None = None,
) -> Path:
    """Write a label volume as a BINARY DICOM-SEG referencing ``source_datasets``.

    Args:
        labels: integer label volume on the grid of the source series (as loaded by
            :func:`~nenscope.imaging.series.load_series`; single-frame sources).
        source_datasets: the source image headers with pixel data (e.g.
            ``LoadedSeries.datasets``).
        names: ``{label value: segment label}``; labels not listed are ignored. Segments are
            numbered 1..n in increasing label order.
        path: output file.
        notes: receives what was filled in or repaired in the copied source attributes
            (:func:`nenscope.imaging.writable.writable_sources`: the first source's patient,
            study and equipment attributes, every source's UIDs).

    Returns:
        The path written.

    Raises:
        NenscopeError: what cannot be made (no frame of reference, labels off the source
            grid); the caller writes the rest of its results and says the SEG was skipped.
    """
    if not source_datasets:
        raise NenscopeError("write_seg needs the source image datasets")
    source_datasets = writable_sources(
        source_datasets, notes if notes is not None else [], references_after_first=True
    )
    values = sorted(int(v) for v in names if int(v) > 0)
    if not values:
        raise NenscopeError("write_seg: no labels to write")
    frames = (
        _frames_on_sources(labels, source_datasets)
        if len(source_datasets) > 1 or int(source_datasets[0].get("NumberOfFrames", 1) or 1) == 1
        else None
    )
    if frames is None:
        raise NenscopeError(
            "write_seg supports single-frame source series (PT/CT); classic multi-frame NM "
            "sources have no per-frame positions for DICOM-SEG"
        )
    seg_array = np.zeros(frames.shape, dtype=np.uint16)
    for number, value in enumerate(values, start=1):
        seg_array[frames == value] = number
    algorithm = hd.AlgorithmIdentificationSequence(
        name="nenscope", version=__version__, family=codes.cid7162.ArtificialIntelligence
    )
    descriptions = [
        hd.seg.SegmentDescription(
            segment_number=number,
            segment_label=str(names[value])[:64],
            segmented_property_category=codes.SCT.Tissue,
            segmented_property_type=codes.SCT.Tissue,
            algorithm_type=hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC,
            algorithm_identification=algorithm,
        )
        for number, value in enumerate(values, start=1)
    ]
    with warnings.catch_warnings():  # highdicom warns about single-component patient names
        warnings.simplefilter("ignore", UserWarning)
        seg = _build(list(source_datasets), seg_array, descriptions, series_description)
    path = Path(path)
    with atomic_path(path) as tmp:
        seg.save_as(str(tmp))
    return path


def _build(sources, seg_array, descriptions, series_description):
    return hd.seg.Segmentation(
        source_images=sources,
        pixel_array=seg_array,
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=descriptions,
        series_instance_uid=hd.UID(),
        series_number=900,
        sop_instance_uid=hd.UID(),
        instance_number=1,
        manufacturer="nenscope",
        manufacturer_model_name="nenscope",
        software_versions=__version__,
        device_serial_number="0",
        series_description=series_description,
        omit_empty_frames=True,
    )


def is_seg(ds: Dataset) -> bool:
    """True for a Segmentation Storage dataset."""
    return (
        str(ds.get("SOPClassUID", "")) == pydicom.uid.SegmentationStorage
        or str(ds.get("Modality", "")) == "SEG"
    )
