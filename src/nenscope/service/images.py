"""Volumes for the viewer: SUV, CT on the PET grid and lesion labels as NIfTI (RAS).

The SUV and the CT are made on first request from the stored study (with the analysis'
SUV overrides) and cached in the analysis folder; the labels are the analysis' own
``lesions.nii.gz``, or the reviewed map (rejected and physiological lesions removed, added
lesions drawn with their numbers). ``outline`` keeps only each lesion's boundary voxels (a
voxel of the lesion with a face-neighbour outside it), which the viewer draws over the
fused image.
"""

from __future__ import annotations

import gzip
import threading
from pathlib import Path
from typing import Any

import highdicom as hd
import nibabel as nib
import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from nenscope.imaging import discover, load_study, read_nifti, resample_to, save_nifti
from nenscope.store import NotFoundError

__all__ = [
    "KINDS",
    "automatic_labels",
    "labels_nifti",
    "load_grid",
    "outline",
    "reviewed_labels",
    "study_volume",
]

KINDS = ("suv", "ct", "labels", "outline")
_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


def _lock(key: str) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(key, threading.Lock())


def _f32(volume: hd.Volume) -> hd.Volume:
    return volume.with_array(np.asarray(volume.array, dtype=np.float32))


def _make_volumes(study_dir: Path, analysis_dir: Path, overrides: dict[str, Any] | None) -> None:
    study = load_study(discover(study_dir), overrides=overrides)
    suv = study.suv("bw")
    if study.ct is not None:
        save_nifti(_f32(resample_to(study.ct, suv, order=1)), analysis_dir / "ct.nii.gz")
    # written last: its presence marks the cache complete
    save_nifti(_f32(suv), analysis_dir / "suv.nii.gz")


def study_volume(
    study_dir: Path, analysis_dir: Path, kind: str, overrides: dict[str, Any] | None
) -> Path:
    """``suv.nii.gz`` or ``ct.nii.gz`` (CT resampled to the PET grid, linear) of an analysis.

    Made once per analysis (one thread at a time), then read from the cache.

    Raises:
        NotFoundError: ``kind`` is ``"ct"`` and the study has no CT.
    """
    with _lock(str(analysis_dir)):
        if not (analysis_dir / "suv.nii.gz").exists():
            _make_volumes(study_dir, analysis_dir, overrides)
    path = analysis_dir / f"{kind}.nii.gz"
    if not path.exists():
        raise NotFoundError("this study has no CT")
    return path


def automatic_labels(analysis_dir: Path) -> hd.Volume:
    """The analysis' label map (``lesions.nii.gz``: value = lesion id)."""
    return read_nifti(analysis_dir / "lesions.nii.gz")


def load_grid(analysis_dir: Path, study_dir: Path, overrides: dict[str, Any] | None):
    """(SUV volume, CT on its grid or None, automatic label array) of an analysis."""
    suv = read_nifti(study_volume(study_dir, analysis_dir, "suv", overrides))
    ct_path = analysis_dir / "ct.nii.gz"
    ct = read_nifti(ct_path) if ct_path.exists() else None
    labels = automatic_labels(analysis_dir)
    return suv, ct, np.asarray(labels.array).astype(np.int32)


def reviewed_labels(
    labels: NDArray[np.int32], removed: set[int], added: list[tuple[int, list[int]]]
) -> NDArray[np.int32]:
    """The automatic labels without ``removed`` numbers, with each added lesion's voxels
    (flat indices) set to its number."""
    out = labels.copy()
    if removed:
        out[np.isin(out, list(removed))] = 0
    flat = out.reshape(-1)
    for number, voxels in added:
        flat[np.asarray(voxels, dtype=np.int64)] = number
    return out


def outline(labels: NDArray[np.int32]) -> NDArray[np.int32]:
    """Boundary voxels of each label (face-connected neighbour with another value)."""
    inner = ndimage.grey_erosion(labels, footprint=ndimage.generate_binary_structure(3, 1))
    edge = (labels > 0) & (inner != labels)
    return np.where(edge, labels, 0).astype(np.int32)


def labels_nifti(reference: hd.Volume, labels: NDArray[np.int32], *, as_outline: bool) -> bytes:
    """Gzipped NIfTI bytes of a label map on the grid of ``reference``."""
    arr = outline(labels) if as_outline else labels
    img = nib.Nifti1Image(arr.astype(np.int16), reference.get_affine("RAS"))
    img.header.set_xyzt_units("mm", "sec")
    return gzip.compress(img.to_bytes(), compresslevel=6)
