"""Bring a second study (FDG) onto the SSTR grid and match lesions across the two.

Same frame of reference (same DICOM FrameOfReferenceUID, e.g. one PET/CT session or a
simulator pair): the patient coordinates agree, so the FDG volume is resampled through the
two affines. Different frames: a rigid registration (:func:`nenscope.imaging.registration.
register`: SimpleITK, Mattes mutual information, multi-resolution), CT to CT when both have a
CT (anatomy is shared between tracers), otherwise PET to PET. The CTs are registered on a
working grid of :data:`CT_WORKING_VOXEL_MM` cropped to the body (above :data:`BODY_HU`): about
one emission voxel, which is the accuracy lesion matching needs, at a small part of the cost of
the CT's own grid (docs/performance.md gives the measured difference).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import highdicom as hd
import numpy as np
import SimpleITK as sitk
from numpy.typing import NDArray
from scipy import ndimage

from nenscope.analysis._geometry import indices_to_lps, resample_array
from nenscope.imaging.geometry import lps_to_indices
from nenscope.imaging.registration import register, resample_with

__all__ = [
    "BODY_HU",
    "CT_WORKING_VOXEL_MM",
    "FDG_FINEST_SHARE",
    "Alignment",
    "align_to",
    "same_frame",
]

#: voxel size (mm) of the working grid on which two CTs are registered
CT_WORKING_VOXEL_MM = 4.0
#: CT values above this (HU) are the body (air is -1000 HU, lung about -850 to -700 HU)
BODY_HU = -500.0
#: the FDG CT's registration samples a quarter of the usual voxels at its finest pyramid
#: level (25,000 instead of 100,000 at clinical size): 1.5-1.8 -> 0.85-1.1 s on the
#: clinical-size fixture, where a known rigid motion (13 mm and 4 degrees; 35 mm and 8
#: degrees) was recovered to 0.05 mm (0.03-0.04 mm with every sample) at points in the body;
#: 0.3-0.4 mm on the synthetic CT pair of tests/test_imaging_registration.py. Stopping the
#: pyramid one level coarser instead was as fast but missed the large motion by 2 mm there.
FDG_FINEST_SHARE = 0.25


@dataclass
class Alignment:
    """How the moving study was put on the fixed grid.

    Attributes:
        method: ``"same frame"`` or ``"rigid registration (CT)"`` / ``"(PET)"``.
        transform: SimpleITK transform (fixed physical point -> moving physical point), or
            ``None`` for the identity.
        metric: final registration metric value (Mattes MI, lower is better), or ``None``.
    """

    method: str
    transform: sitk.Transform | None = None
    metric: float | None = None

    def resample(self, moving: hd.Volume, fixed: hd.Volume, *, order: int = 1) -> NDArray:
        """Resample ``moving`` (any grid) onto ``fixed``'s grid; outside the FOV is 0."""
        if self.transform is None:
            return resample_array(
                np.asarray(moving.array),
                moving.affine,
                fixed.affine,
                fixed.spatial_shape,
                order=order,
            )
        labels = np.asarray(moving.array)
        if order == 0 and labels.dtype.kind in "iu" and (labels.size == 0 or labels.min() >= 0):
            return self._resample_labels(moving, fixed)
        return np.asarray(resample_with(moving, fixed, self.transform, order=order).array)

    def _resample_labels(self, moving: hd.Volume, fixed: hd.Volume) -> NDArray:
        """Nearest-neighbour resampling of a label volume (non-negative integers) through the
        transform, label by label: each label's box (plus a voxel) resampled onto the part of
        ``fixed`` it maps to, and only its own voxels kept; the same values as resampling the
        whole grid (zero where no label maps), at a small part of its cost for a few lesions."""
        assert self.transform is not None
        arr = np.asarray(moving.array)
        out = np.zeros(fixed.spatial_shape, dtype=arr.dtype)
        inverse = self.transform.GetInverse()  # fixed -> moving, so moving -> fixed
        shape = arr.shape
        for value, box in enumerate(ndimage.find_objects(arr), start=1):
            if box is None:
                continue
            box = tuple(
                slice(max(b.start - 1, 0), min(b.stop + 1, n))
                for b, n in zip(box, shape, strict=True)
            )
            edges = [(b.start - 0.5, b.stop - 0.5) for b in box]  # the box's outer faces
            corners = indices_to_lps(moving.affine, list(itertools.product(*edges)))
            ijk = lps_to_indices(
                fixed.affine, [inverse.TransformPoint(tuple(map(float, c))) for c in corners]
            )
            lo = np.maximum(np.floor(ijk.min(axis=0)).astype(int) - 1, 0)
            hi = np.minimum(np.ceil(ijk.max(axis=0)).astype(int) + 2, fixed.spatial_shape)
            if np.any(hi <= lo):
                continue  # maps outside the fixed grid
            target = tuple(slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True))
            part = np.asarray(
                resample_with(moving[box], fixed[target], self.transform, order=0).array
            )
            out[target][part == value] = value
        return out


def same_frame(a: hd.Volume, b: hd.Volume) -> bool:
    """True when both volumes share a (non-empty) FrameOfReferenceUID."""
    fa, fb = a.frame_of_reference_uid, b.frame_of_reference_uid
    return bool(fa) and fa == fb


def align_to(
    fixed: hd.Volume,
    moving: hd.Volume,
    *,
    fixed_ct: hd.Volume | None = None,
    moving_ct: hd.Volume | None = None,
    force_registration: bool = False,
) -> Alignment:
    """Find how ``moving`` maps onto ``fixed`` (identity for the same frame of reference)."""
    if not force_registration and same_frame(fixed, moving):
        return Alignment(method="same frame")
    if fixed_ct is not None and moving_ct is not None:
        tx, metric = register(
            fixed_ct,
            moving_ct,
            voxel_mm=CT_WORKING_VOXEL_MM,
            crop_above=BODY_HU,
            finest_share=FDG_FINEST_SHARE,
            what="FDG CT",
        )
        return Alignment(method="rigid registration (CT)", transform=tx, metric=metric)
    tx, metric = register(fixed, moving, what="FDG PET")
    return Alignment(method="rigid registration (PET)", transform=tx, metric=metric)
