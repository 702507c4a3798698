"""Long axis of each lesion on a diagnostic CT, for RECIST 1.1 (Eisenhauer 2009).

The CT correlate of a PET lesion is found at the CT's own resolution, lesion by lesion, in
a crop around the lesion (no whole-volume resampling):

1. the PET lesion mask is resampled (nearest neighbour) onto the CT crop;
2. the CT is smoothed (Gaussian, sigma one CT voxel); the lesion's HU is the median inside
   the mask, the background's the median of a shell 5-15 mm outside it (other lesions
   excluded). Below ``min_contrast_hu`` of difference the lesion has no CT correlate and no
   long axis (``None``);
3. the correlate is every voxel within 10 mm of the mask that lies beyond half the contrast
   (the CT analogue of a 50 % iso-contour), in the connected components touching the mask;
4. its long axis is the largest in-plane (axial) distance between two of its voxels, plus
   one pixel (each voxel's own extent), over every axial slice.

The CT of a PET/CT is usually low-dose and without contrast medium: RECIST needs a
diagnostic CT, which the caller has to declare.
"""

from __future__ import annotations

from collections.abc import Iterable

import highdicom as hd
import numpy as np
from numpy.typing import NDArray
from scipy import ndimage
from scipy.spatial.distance import pdist

from nenscope.imaging import resample_to

__all__ = ["ct_long_axes_mm"]

_SEARCH_MM = 10.0
_SHELL_MM = (5.0, 15.0)


def _crop(ct: hd.Volume, box_lps: NDArray) -> hd.Volume | None:
    """The CT voxels inside an LPS box (rows: low and high corner), with their affine."""
    corners = np.array(
        [[x, y, z] for x in box_lps[:, 0] for y in box_lps[:, 1] for z in box_lps[:, 2]]
    )
    inv = np.linalg.inv(ct.affine)
    idx = corners @ inv[:3, :3].T + inv[:3, 3]
    lo = np.maximum(np.floor(idx.min(axis=0)).astype(int), 0)
    hi = np.minimum(np.ceil(idx.max(axis=0)).astype(int) + 1, ct.spatial_shape)
    if np.any(hi - lo < 2):
        return None
    sl = tuple(slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True))
    affine = ct.affine.copy()
    affine[:3, 3] = ct.affine[:3, :3] @ lo + ct.affine[:3, 3]
    arr = np.asarray(ct.array[sl], dtype=np.float32)
    return hd.Volume(arr, affine, "PATIENT", frame_of_reference_uid=ct.frame_of_reference_uid)


def _axial_axis(affine: NDArray) -> int:
    """Array axis closest to the patient's z (head-feet) axis."""
    return int(np.argmax(np.abs(affine[2, :3]) / np.linalg.norm(affine[:3, :3], axis=0)))


def _long_axis(correlate: NDArray[np.bool_], affine: NDArray) -> float:
    axis = _axial_axis(affine)
    spacing = np.linalg.norm(affine[:3, :3], axis=0)
    in_plane = [a for a in range(3) if a != axis]
    best = 0.0
    for k in range(correlate.shape[axis]):
        plane = np.take(correlate, k, axis=axis)
        if not plane.any():
            continue
        edge = plane & ~ndimage.binary_erosion(plane)
        pts = np.argwhere(edge) * spacing[in_plane]
        extent = float(pdist(pts).max()) if len(pts) > 1 else 0.0
        best = max(best, extent + float(spacing[in_plane].mean()))
    return best


def _one_lesion(crop: hd.Volume, mask: NDArray, others: NDArray, min_contrast_hu: float):
    spacing = np.linalg.norm(crop.affine[:3, :3], axis=0)
    hu = ndimage.gaussian_filter(np.asarray(crop.array, dtype=np.float32), 1.0)
    dist = ndimage.distance_transform_edt(~mask, sampling=spacing)
    shell = (dist > _SHELL_MM[0]) & (dist <= _SHELL_MM[1]) & ~others
    if not mask.any() or not shell.any():
        return None
    core, background = float(np.median(hu[mask])), float(np.median(hu[shell]))
    contrast = core - background
    if abs(contrast) < min_contrast_hu:
        return None
    beyond = np.sign(contrast) * (hu - background) > abs(contrast) / 2.0
    candidate = beyond & (dist <= _SEARCH_MM)
    comps, _ = ndimage.label(candidate)
    keep = np.unique(comps[mask & candidate])
    keep = keep[keep > 0]
    if keep.size == 0:
        return None
    return _long_axis(np.isin(comps, keep), crop.affine)


def ct_long_axes_mm(
    labels: hd.Volume,
    ct: hd.Volume,
    lesion_ids: Iterable[int],
    *,
    min_contrast_hu: float = 15.0,
) -> dict[int, float | None]:
    """Axial long axis (mm) of each lesion's CT correlate; ``None`` without a correlate.

    Args:
        labels: lesion label map (lesion id per voxel) on the emission grid.
        ct: the same study's CT (same frame of reference), any grid.
        lesion_ids: the lesions to measure.
        min_contrast_hu: smallest lesion-to-background HU difference that counts as a CT
            correlate.
    """
    lab = np.asarray(labels.array)
    boxes = ndimage.find_objects(lab.astype(np.int32))
    out: dict[int, float | None] = {}
    margin = _SHELL_MM[1] + 2.0
    for lesion_id in lesion_ids:
        box = boxes[lesion_id - 1] if 0 < lesion_id <= len(boxes) else None
        if box is None:
            out[lesion_id] = None
            continue
        ijk = np.array([[b.start for b in box], [b.stop - 1 for b in box]], dtype=float)
        lps = ijk @ labels.affine[:3, :3].T + labels.affine[:3, 3]
        span = np.sort(lps, axis=0) + np.array([[-margin], [margin]])
        crop = _crop(ct, span)
        if crop is None:
            out[lesion_id] = None
            continue
        on_ct = np.asarray(resample_to(labels, crop, order=0).array)
        out[lesion_id] = _one_lesion(
            crop, on_ct == lesion_id, (on_ct > 0) & (on_ct != lesion_id), min_contrast_hu
        )
    return out
