"""Geometry helpers shared by the analysis modules (array + affine, LPS millimetres).

The analysis functions work on plain arrays plus ``spacing_mm`` inside the package; the
``highdicom.Volume`` affine (array index -> DICOM patient LPS mm) is what crosses the border.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from nenscope.imaging.geometry import (
    MAD_TO_SD,
    ball_mask,
    indices_to_lps,
    patient_axes,
    resample_array,
    spacing_from_affine,
    sphere_fractions,
    sphere_weights,
)

__all__ = [
    "spacing_from_affine",
    "indices_to_lps",
    "resample_array",
    "patient_axes",
    "sphere_weights",
    "sphere_fractions",
    "ball_mask",
    "padded_box",
    "median_robust_sd",
]


def padded_box(mask: NDArray[np.bool_], pad_voxels: int | list[int]) -> tuple[slice, ...] | None:
    """Bounding box of ``mask`` grown by ``pad_voxels`` per axis (clipped), or ``None``."""
    objs = ndimage.find_objects(mask.astype(np.uint8))
    if not objs or objs[0] is None:
        return None
    pads = [pad_voxels] * mask.ndim if isinstance(pad_voxels, int) else pad_voxels
    return tuple(
        slice(max(0, b.start - p), min(d, b.stop + p))
        for b, p, d in zip(objs[0], pads, mask.shape, strict=True)
    )


def median_robust_sd(values: NDArray) -> tuple[float, float]:
    """Median and robust SD (``MAD_TO_SD`` x the median absolute deviation) as floats.

    The product is taken in float64 (:func:`nenscope.imaging.geometry.robust_sd` keeps the
    precision of a float32 input): the organ thresholds were tuned and recorded this way.
    """
    med = float(np.median(values))
    return med, MAD_TO_SD * float(np.median(np.abs(values - med)))
