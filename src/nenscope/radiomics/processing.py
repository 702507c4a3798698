"""IBSI-1 image processing: interpolation, mask resampling, re-segmentation, discretisation.

Arrays are indexed (slice, row, column); ``spacing_mm`` follows the same order.
Reference: IBSI reference manual (arXiv:1612.07003), chapter 2.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from nenscope.errors import NenscopeError
from nenscope.radiomics._kernels import bounding_box
from nenscope.radiomics.settings import RadiomicsSettings

_MASK_DECIMALS = 6  # precision of the interpolated ROI mask before the partial-volume threshold


@dataclass
class ProcessedRoi:
    """Image and masks after interpolation and re-segmentation (cropped around the ROI).

    ``image`` keeps a margin of neighbours around the ROI (needed by local intensity features);
    ``morph_mask`` is the resampled ROI, ``int_mask`` the re-segmented intensity mask.
    """

    image: np.ndarray
    morph_mask: np.ndarray
    int_mask: np.ndarray
    spacing_mm: tuple[float, float, float]
    resegment_range: tuple[float, float]


def _check_inputs(
    image: np.ndarray, mask: np.ndarray, spacing_mm
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    image = np.asarray(image)
    mask = np.asarray(mask)
    if image.ndim != 3:
        raise NenscopeError(f"image must be 3D (slice, row, column), got shape {image.shape}")
    if mask.shape != image.shape:
        raise NenscopeError(f"mask shape {mask.shape} differs from image shape {image.shape}")
    spacing = np.asarray(spacing_mm, dtype=float)
    if spacing.shape != (3,) or np.any(spacing <= 0):
        raise NenscopeError(f"spacing_mm must be three positive numbers, got {spacing_mm}")
    mask = mask > 0.5 if mask.dtype != bool else mask
    if not mask.any():
        raise NenscopeError("the ROI mask is empty")
    return image.astype(np.float64, copy=False), mask, spacing


def _bbox(mask: np.ndarray, margin: np.ndarray) -> tuple[slice, ...]:
    lo, hi = bounding_box(np.ascontiguousarray(mask, dtype=np.bool_))
    lo = np.maximum(lo - margin, 0)
    hi = np.minimum(hi + margin, mask.shape)
    return tuple(slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True))


def interpolate(
    image: np.ndarray,
    mask: np.ndarray,
    spacing_mm,
    new_spacing_mm,
    *,
    order: int = 1,
    rounding: float | None = None,
    partial_volume: float = 0.5,
    margin_mm: float = 0.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Resample image and mask on a grid with ``new_spacing_mm`` (IBSI 2.4, "align grid centres").

    The new grid has ``ceil(n·s/s_new)`` points per axis and shares the centre of the original
    grid. Only the part of the new grid that covers the ROI bounding box (plus ``margin_mm``) is
    evaluated, so the cost scales with the lesion, not with the whole-body image. The image uses
    a spline of ``order`` (padded with the nearest boundary intensity), the mask (bi/tri)linear
    interpolation, rounded to 6 decimals, and the partial-volume threshold ``>= partial_volume``.
    Returns ``(image, mask, spacing_mm)``.
    """
    spacing = np.asarray(spacing_mm, dtype=float)
    new = np.array(
        [s if t is None else float(t) for s, t in zip(spacing, new_spacing_mm, strict=True)]
    )
    shape = np.array(image.shape)
    n_new = np.ceil(shape * spacing / new).astype(int)
    # index of new grid point k in old index units: x = offset + k * new/spacing
    offset = 0.5 * (shape - 1) - 0.5 * (n_new - 1) * new / spacing
    idx = np.nonzero(mask)
    lo_old = np.array([i.min() for i in idx]) - 1 - margin_mm / spacing
    hi_old = np.array([i.max() for i in idx]) + 1 + margin_mm / spacing
    k_lo = np.clip(np.floor((lo_old - offset) * spacing / new), 0, n_new - 1).astype(int)
    k_hi = np.clip(np.ceil((hi_old - offset) * spacing / new), 0, n_new - 1).astype(int)
    axes = [offset[a] + np.arange(k_lo[a], k_hi[a] + 1) * new[a] / spacing[a] for a in range(3)]
    coords = np.meshgrid(*axes, indexing="ij")
    img = ndimage.map_coordinates(image, coords, order=order, mode="nearest", prefilter=order > 1)
    if rounding:
        img = np.round(img / rounding) * rounding
    m = ndimage.map_coordinates(mask.astype(np.float64), coords, order=1, mode="constant", cval=0.0)
    # a grid point midway between ROI and background interpolates to 0.4999…, not 0.5: compare
    # at 6 decimals so it is kept, as IBSI-1 (5.2, notes on interpolation) asks
    return img, np.round(m, _MASK_DECIMALS) >= partial_volume, new


def resegment(
    image: np.ndarray,
    mask: np.ndarray,
    value_range: tuple[float | None, float | None] | None = None,
    outlier_sigma: float | None = None,
) -> np.ndarray:
    """Intensity mask after range and outlier re-segmentation (IBSI 2.6)."""
    out = mask.copy()
    if value_range is not None:
        lo, hi = value_range
        if lo is not None:
            out &= image >= lo
        if hi is not None:
            out &= image <= hi
    if outlier_sigma is not None:
        vals = image[mask]  # IBSI: mean and SD of the ROI before outlier filtering
        mu, sd = vals.mean(), vals.std()
        out &= (image >= mu - outlier_sigma * sd) & (image <= mu + outlier_sigma * sd)
    if not out.any():
        raise NenscopeError("re-segmentation removed every voxel of the ROI")
    return out


def discretise(
    values: np.ndarray,
    method: str,
    *,
    bin_number: int = 32,
    bin_width: float = 1.0,
    lower_bound: float | None = None,
    roi_values: np.ndarray | None = None,
) -> tuple[np.ndarray, int]:
    """Grey levels 1..Ng of ``values`` (IBSI 2.7). Returns ``(levels, Ng)``.

    fbn: ``floor(Ng (x - min)/(max - min)) + 1`` with the maximum in bin Ng (min/max over the
    ROI); fbs: ``floor((x - lower_bound)/w) + 1``; none: the values are already grey levels.
    """
    ref = values if roi_values is None else roi_values
    if method == "fbn":
        lo, hi = float(ref.min()), float(ref.max())
        if hi > lo:
            q = np.floor(bin_number * (values - lo) / (hi - lo)).astype(np.int64) + 1
        else:
            q = np.ones(values.shape, dtype=np.int64)
        return np.clip(q, 1, bin_number), int(bin_number)
    if method == "fbs":
        lo = float(ref.min()) if lower_bound is None else float(lower_bound)
        q = np.floor((values - lo) / bin_width).astype(np.int64) + 1
        q = np.maximum(q, 1)
        return q, int(q.max()) if q.size else 1
    if method == "none":
        q = np.rint(values).astype(np.int64)
        if q.size and (q.min() < 1 or not np.allclose(q, values)):
            raise NenscopeError(
                "discretisation 'none' needs positive integer intensities; use fbn or fbs"
            )
        return q, int(q.max()) if q.size else 1
    raise NenscopeError(f"unknown discretisation {method!r}")


def process_roi(
    image: np.ndarray, mask: np.ndarray, spacing_mm, settings: RadiomicsSettings
) -> ProcessedRoi:
    """Crop, interpolate, resample the mask and re-segment as ``settings`` say."""
    image, mask, spacing = _check_inputs(image, mask, spacing_mm)
    radius_mm = (3.0 * settings.local_intensity_volume_cm3 * 1000.0 / (4.0 * np.pi)) ** (1 / 3)
    if settings.filter:
        from nenscope.radiomics.filters import filter_reach_mm

        target = (
            spacing
            if settings.new_spacing_mm is None
            else np.array(
                [
                    s if t is None else float(t)
                    for s, t in zip(spacing, settings.new_spacing_mm, strict=True)
                ]
            )
        )
        radius_mm = max(radius_mm, filter_reach_mm(settings.filter, target))
    if settings.new_spacing_mm is not None:
        img, m, spacing = interpolate(
            image,
            mask,
            spacing,
            settings.new_spacing_mm,
            order=settings.interpolation_order,
            rounding=settings.intensity_rounding,
            partial_volume=settings.mask_partial_volume,
            margin_mm=radius_mm + 1.0,
        )
        if not m.any():
            raise NenscopeError("the ROI vanished after mask resampling (partial-volume threshold)")
    else:
        margin = np.ceil(radius_mm / spacing).astype(int) + 1
        box = _bbox(mask, margin)
        img, m = image[box], mask[box]
        if settings.intensity_rounding:
            img = np.round(img / settings.intensity_rounding) * settings.intensity_rounding
    int_mask = resegment(img, m, settings.resegment_range, settings.resegment_outlier_sigma)
    lo, hi = settings.resegment_range or (None, None)
    vals = img[int_mask]
    rng = (
        float(vals.min()) if lo is None else float(lo),
        float(vals.max()) if hi is None else float(hi),
    )
    return ProcessedRoi(img, m, int_mask, tuple(float(s) for s in spacing), rng)
