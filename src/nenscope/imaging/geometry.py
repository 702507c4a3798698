"""One home for geometry and the small numeric helpers every room uses.

Volumes cross package borders as ``highdicom.Volume`` (affine: array index -> DICOM patient
LPS, mm). Inside a package, functions take ``array, spacing_mm`` (scikit-image style).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["FWHM_PER_SIGMA", "MAD_TO_SD", "fwhm_to_sigma", "robust_sd"]

#: FWHM of a Gaussian in units of its standard deviation, 2 sqrt(2 ln 2) = 2.35482; kept at
#: the 2.3548 every stage was tuned and validated with (the difference is 8e-6 relative).
FWHM_PER_SIGMA = 2.3548
#: Consistency factor of the median absolute deviation for a normal distribution,
#: 1 / Phi^-1(3/4) (Rousseeuw & Croux, JASA 1993;88:1273).
MAD_TO_SD = 1.4826


def fwhm_to_sigma(fwhm_mm: float, spacing_mm: Iterable[float] | None = None):
    """Gaussian sigma for a FWHM: in mm, or per axis in voxels when ``spacing_mm`` is given.

    Example: ``fwhm_to_sigma(8.0, (4.0, 4.0, 2.0))`` is ``[0.849, 0.849, 1.699]`` voxels.
    """
    if spacing_mm is None:
        return fwhm_mm / FWHM_PER_SIGMA
    return [fwhm_mm / FWHM_PER_SIGMA / s for s in spacing_mm]


def robust_sd(values: ArrayLike) -> float:
    """Robust standard deviation: ``MAD_TO_SD`` x the median absolute deviation from the median."""
    v = np.asarray(values)
    return float(MAD_TO_SD * np.median(np.abs(v - np.median(v))))
