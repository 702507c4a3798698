"""NIfTI export and import of ``highdicom.Volume`` (nibabel; RAS ↔ LPS handled by highdicom)."""

from __future__ import annotations

import os
from pathlib import Path

import highdicom as hd
import nibabel as nib
import numpy as np

from nenscope.atomic import atomic_path
from nenscope.errors import NenscopeError
from nenscope.imaging.limits import check_grid

_NIFTI_OK = {
    np.dtype(t)
    for t in (
        np.uint8,
        np.int8,
        np.int16,
        np.uint16,
        np.int32,
        np.uint32,
        np.int64,
        np.float32,
        np.float64,
    )
}


def save_nifti(volume: hd.Volume, path: str | os.PathLike) -> Path:
    """Write ``volume`` as NIfTI-1 (``.nii`` or ``.nii.gz``); the affine is converted to RAS.

    Booleans are stored as uint8; other dtypes NIfTI lacks (float16) as float32. Returns the
    path written.
    """
    path = Path(path)
    if not (path.name.endswith(".nii") or path.name.endswith(".nii.gz")):
        raise NenscopeError(f"{path}: a NIfTI file name ends in .nii or .nii.gz")
    arr = np.asarray(volume.array)
    if arr.dtype == bool:
        arr = arr.astype(np.uint8)
    elif arr.dtype not in _NIFTI_OK:
        arr = arr.astype(np.float32)
    img = nib.Nifti1Image(arr, volume.get_affine("RAS"))
    img.header.set_data_dtype(arr.dtype)
    img.header.set_xyzt_units("mm", "sec")
    with atomic_path(path) as tmp:
        nib.save(img, str(tmp))
    return path


def read_nifti(path: str | os.PathLike, *, frame_of_reference_uid: str | None = None) -> hd.Volume:
    """Read a 3-D NIfTI file as a ``highdicom.Volume`` in PATIENT (LPS) coordinates.

    The array keeps the file's axis order; scaled data (scl_slope) come back as floats.
    """
    try:
        img = nib.load(str(path))
        check_grid(tuple(img.shape[:3]) if len(img.shape) >= 3 else (1, 1, 1), (), str(path))
        arr = np.asarray(img.dataobj)  # a truncated or corrupt .nii.gz fails here (EOFError...)
    except NenscopeError:
        raise
    except Exception as exc:
        raise NenscopeError(
            f"{path}: not a readable NIfTI file ({type(exc).__name__}: {str(exc)[:120]})"
        ) from exc
    if arr.ndim == 4 and arr.shape[3] == 1:
        arr = arr[..., 0]
    if arr.ndim != 3:
        raise NenscopeError(f"{path}: NIfTI image has shape {arr.shape}; a 3-D volume is expected")
    return hd.Volume(
        arr,
        np.asarray(img.affine, dtype=float),
        "PATIENT",
        frame_of_reference_uid=frame_of_reference_uid,
        from_reference_convention="RAS",
    )
