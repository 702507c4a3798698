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

from dataclasses import dataclass

import highdicom as hd
import numpy as np
import SimpleITK as sitk
from numpy.typing import NDArray

from nenscope.analysis._geometry import resample_array
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
        return np.asarray(resample_with(moving, fixed, self.transform, order=order).array)


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
