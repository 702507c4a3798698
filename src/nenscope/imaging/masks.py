"""``read_mask``: one entry point for masks in NIfTI, DICOM-SEG or RTSTRUCT (file or folder)."""

from __future__ import annotations

import os
from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom

from nenscope.errors import NenscopeError
from nenscope.imaging.discovery import discover
from nenscope.imaging.geometry import labels_on_grid
from nenscope.imaging.nifti import read_nifti
from nenscope.imaging.rtstruct import read_rtstruct
from nenscope.imaging.seg import read_seg


def _is_nifti(path: Path) -> bool:
    return path.name.endswith(".nii") or path.name.endswith(".nii.gz")


def _nifti_labels(path: Path, reference: hd.Volume) -> tuple[hd.Volume, dict[int, str]]:
    vol = read_nifti(path, frame_of_reference_uid=reference.frame_of_reference_uid)
    arr = np.asarray(vol.array)
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
            raise NenscopeError(
                f"{path}: a mask must hold integer labels (found non-integer values)"
            )
    if arr.min() < 0 or arr.max() > 65535:
        raise NenscopeError(f"{path}: mask labels must be within 0..65535")
    vol = vol.with_array(arr.astype(np.uint16))
    out = labels_on_grid(vol, reference, str(path))
    values = np.unique(out.array)
    stem = path.name.removesuffix(".gz").removesuffix(".nii")
    names = {int(v): (stem if len(values) <= 2 else f"{stem}_{int(v)}") for v in values if v > 0}
    return out, names


def read_mask(
    path: str | os.PathLike, reference: hd.Volume, *, roi_names: list[str] | None = None
) -> tuple[hd.Volume, dict[int, str]]:
    """Read a mask onto the grid of ``reference``.

    Args:
        path: a NIfTI file (``.nii``/``.nii.gz``, integer labels), a DICOM-SEG or RTSTRUCT
            file, or a folder holding one of these
            (DICOM-SEG preferred over RTSTRUCT, then a single NIfTI file).
        reference: the image whose grid the labels are wanted on.
        roi_names: RTSTRUCT only: the ROIs to rasterise.

    Returns:
        (uint16 label volume on ``reference``'s grid, ``{label: name}``). NIfTI labels are
        named after the file (``lesions_1``, ``lesions_2``... when there are several).

    Raises:
        NenscopeError: unreadable file, non-integer labels, or a NIfTI/SEG grid that is not
            the image grid or a crop/flip of it
            (:func:`~nenscope.imaging.geometry.labels_on_grid`; RTSTRUCT contours are
            rasterised onto the image).
    """
    p = Path(path)
    if not p.exists():
        raise NenscopeError(f"{p} does not exist")
    if p.is_file() and _is_nifti(p):
        return _nifti_labels(p, reference)
    if p.is_file():
        try:
            ds = pydicom.dcmread(str(p))
        except Exception as exc:
            raise NenscopeError(f"{p}: neither NIfTI nor DICOM ({exc})") from exc
        modality = str(ds.get("Modality", "")).upper()
        if modality == "SEG":
            return read_seg(ds, reference)
        if modality == "RTSTRUCT":
            return read_rtstruct(ds, reference, roi_names=roi_names)
        raise NenscopeError(
            f"{p}: DICOM {modality or 'file'} is not a mask (expected SEG or RTSTRUCT)"
        )
    disc = discover(p)
    for kind in ("SEG", "RTSTRUCT"):
        found = disc.of_kind(kind)
        if len(found) > 1:
            raise NenscopeError(f"{p} holds {len(found)} {kind} series; give the file itself")
        if found:
            info = found[0]
            ds = (
                pydicom.dcmread(info.sources[0]) if "!" not in info.sources[0] else info.datasets[0]
            )
            if kind == "SEG":
                return read_seg(ds, reference)
            return read_rtstruct(ds, reference, roi_names=roi_names)
    niftis = sorted(q for q in p.rglob("*") if q.is_file() and _is_nifti(q))
    if len(niftis) == 1:
        return _nifti_labels(niftis[0], reference)
    if niftis:
        raise NenscopeError(f"{p} holds {len(niftis)} NIfTI files; give the mask file itself")
    raise NenscopeError(f"no mask (DICOM-SEG, RTSTRUCT or NIfTI) in {p}")
