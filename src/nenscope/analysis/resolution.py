"""The blur of an image, measured on its own liver edge (no scanner model needed).

Detection needs to know how far the liver's uptake spills into its neighbourhood (the
threshold over the liver's blurred edge, :mod:`~nenscope.analysis.thresholds`). Without a
calibrated scanner resolution it is read from the image: across the edge of the liver mask the
median SUV at signed distance ``d`` from the mask boundary follows an edge-spread function,

    v(d) = b + (L - b) * erfc((d - d0) / (sqrt(2) s)) / 2,

``L`` the liver mean, ``b`` the background outside, ``s`` the Gaussian sigma of the blur
(FWHM = 2 sqrt(2 ln 2) s) and ``d0`` the edge offset; (``b``, ``s``, ``d0``) are fitted by
least squares to the per-distance medians (SciPy ``least_squares``), which are robust to the
neighbours (kidney, lung, lesions) that touch the liver over part of its surface. This is the
edge-spread method of resolution measurement (e.g. IEC 61675-1 uses line sources; the ESF of
an organ edge is its in-vivo counterpart). It serves detection only; the partial-volume
correction of ``suv_pvc`` still needs a calibrated resolution.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage
from scipy.optimize import least_squares
from scipy.special import erfc

from nenscope.analysis._geometry import padded_box
from nenscope.imaging.geometry import GAUSSIAN_FWHM_PER_SIGMA

__all__ = ["edge_fwhm_mm"]

_REACH_MM = 25.0
_MIN_BIN_VOXELS = 20


def _signed_distance(mask: NDArray[np.bool_], spacing: tuple[float, float, float]) -> NDArray:
    """Signed distance (mm) to the mask boundary: negative inside, positive outside."""
    half = 0.5 * float(np.mean(spacing))
    inside = ndimage.distance_transform_edt(mask, sampling=spacing)
    outside = ndimage.distance_transform_edt(~mask, sampling=spacing)
    return np.where(mask, -(inside - half), outside - half)


def edge_fwhm_mm(
    suv: NDArray,
    liver_mask: NDArray[np.bool_],
    liver_mean: float,
    spacing: tuple[float, float, float],
    body: NDArray[np.bool_] | None = None,
) -> float | None:
    """FWHM (mm) of the Gaussian blur of ``suv`` measured across the liver mask's edge.

    Returns ``None`` when the edge cannot be fitted (no liver, too few voxels, no contrast).
    """
    if liver_mean <= 0 or not liver_mask.any():
        return None
    pad = [int(math.ceil(_REACH_MM / s)) + 1 for s in spacing]
    box = padded_box(liver_mask, pad)
    if box is None:
        return None
    d = _signed_distance(liver_mask[box], spacing)
    v = np.asarray(suv[box], dtype=np.float64)
    use = (np.abs(d) <= _REACH_MM) & (v <= 1.2 * liver_mean)
    if body is not None:
        use &= body[box]
    step = float(min(spacing))
    bins = np.round(d[use] / step).astype(int)
    vals = v[use]
    centres, medians = [], []
    for b in np.unique(bins):
        sel = vals[bins == b]
        if sel.size >= _MIN_BIN_VOXELS:
            centres.append(b * step)
            medians.append(float(np.median(sel)))
    if len(centres) < 6:
        return None
    dc, vm = np.array(centres), np.array(medians)

    def resid(p: NDArray) -> NDArray:
        bg, sigma, d0 = p
        return bg + (liver_mean - bg) * 0.5 * erfc((dc - d0) / (math.sqrt(2.0) * sigma)) - vm

    outside = vm[dc > 10.0]
    bg0 = float(np.median(outside)) if outside.size else 0.2 * liver_mean
    sigma0 = 8.0 / GAUSSIAN_FWHM_PER_SIGMA
    try:
        fit = least_squares(
            resid,
            [bg0, sigma0, 0.0],
            bounds=([0.0, 0.5, -10.0], [0.9 * liver_mean, 10.0, 10.0]),
            max_nfev=200,
        )
    except ValueError:
        return None
    if not fit.success or fit.x[0] > 0.8 * liver_mean:
        return None
    return float(fit.x[1]) * GAUSSIAN_FWHM_PER_SIGMA
