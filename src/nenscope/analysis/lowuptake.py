"""Foci below the liver's uptake: lesions only when they stand out from organs or show on CT.

A focus whose maximum is below the liver (Krenning 1 territory) is told from physiological
uptake (the pancreas at half the liver's uptake, bowel, the blurred edge of a kidney) by
contrast alone. :class:`LowUptakeFilter` is a component filter of
:func:`~nenscope.analysis.segmentation.segment_lesions` that keeps such a focus only if

- its maximum (smoothed SUV) reaches the organ level where it peaks (the organ factor x the
  local background, up to (1 - band) x the liver mean; ``ThresholdPlan.organ_level_map``),
  and
- with a CT, it has an anatomic correlate (its mean CT number differs from the median of a
  two-voxel shell around it by ``ct_contrast_hu`` or more, or it is of bone density): SSTR-RADS
  1.0 calls equivocal (Krenning 1-2) uptake a finding only in a lesion seen on anatomic
  imaging (3A soft tissue, 3B bone; Werner RA et al., J Nucl Med 2018;59:1085-1091), or it
  stands out from the tissue with uptake around it as a lesion in an organ mask must
  (:func:`stands_out`: a pancreatic NET isoattenuating on unenhanced CT).

Foci at the liver's level or above are judged by the thresholds only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from nenscope.analysis._geometry import median_robust_sd, padded_box
from nenscope.analysis.segmentation import label_max

__all__ = ["DEFAULT_SHOULDER_MM", "LowUptakeFilter", "stands_out"]

_BONE_HU = 200.0
# the reach of a hot organ's blurred shoulder beyond its component at the detection
# threshold, about one FWHM of the detection image, when the image's blur is not measured
DEFAULT_SHOULDER_MM = 10.0


def stands_out(
    smooth: NDArray,
    focus: NDArray[np.bool_],
    spacing: tuple[float, float, float],
    floor_suv: float,
    organ_factor: float,
    liver_mask: NDArray[np.bool_] | None = None,
    other_organs: NDArray[np.bool_] | None = None,
    shoulder_mm: float = DEFAULT_SHOULDER_MM,
) -> bool:
    """Whether a focus stands out from the tissue with uptake around it, as a lesion inside
    an organ mask must: its maximum exceeds ``organ_factor`` x (median + 2 robust SD) of the
    smoothed SUV above ``floor_suv`` within 30 mm (the focus and two voxels around it, and
    the liver, whose uptake is the reference and not the focus's organ, left out). In cold
    surroundings (fewer than 20 such voxels) it does.

    ``other_organs``: recognised organs other than the focus's own (a kidney or an adrenal
    gland beside a pancreatic focus); they and their blurred shoulders (the voxels within
    ``shoulder_mm``, the image's blur FWHM, of them) are left out too, unless the focus
    peaks within 1.5 x ``shoulder_mm`` of them (on such a shoulder itself) or they leave
    fewer than 20 voxels; the tissue left is then the focus's own organ with its blurred
    edges, and the focus must exceed ``organ_factor`` x (upper quartile + robust SD).
    """
    box = padded_box(focus, [int(np.ceil(30.0 / s)) for s in spacing])
    if box is None:
        return True
    sm, f = smooth[box], focus[box]
    around = ~ndimage.binary_dilation(f, iterations=2) & (sm > floor_suv)
    if liver_mask is not None:
        around &= ~liver_mask[box]
    if other_organs is not None and other_organs[box].any():
        dist = ndimage.distance_transform_edt(~other_organs[box], sampling=spacing)
        apart = around & (dist > shoulder_mm)
        peak = np.unravel_index(int(np.argmax(np.where(f, sm, -np.inf))), f.shape)
        if dist[peak] > 1.5 * shoulder_mm and apart.sum() >= 20:
            # what is left is the focus's own organ and its blurred edges, whose low tail
            # pulls the median down: the organ's level is its upper quartile (a thin organ,
            # as in nenscope.analysis.thresholds), the robust SD already spans the edges
            _, rsd = median_robust_sd(sm[apart])
            level = float(np.percentile(sm[apart], 75)) + rsd
            return bool(float(sm[f].max()) > organ_factor * level)
    if around.sum() < 20:
        return True
    med, rsd = median_robust_sd(sm[around])
    return bool(float(sm[f].max()) > organ_factor * (med + 2.0 * rsd))


@dataclass(eq=False)
class LowUptakeFilter:
    """Component filter for foci below the liver (see the module docstring).

    Attributes:
        smooth: the smoothed SUV on which lesions are detected.
        below_suv: foci whose smoothed maximum is below this value are judged ((1 - band) x
            the liver mean on ``smooth``).
        organ_level: the organ level per voxel, or ``None``.
        ct_hu: CT (HU) on the same grid, or ``None``.
        ct_contrast_hu: the CT contrast of an anatomic correlate.
        spacing: voxel spacing (mm); floor_suv, organ_factor, liver_mask, shoulder_mm: of
            :func:`stands_out`.
    """

    smooth: NDArray[np.float32]
    below_suv: float
    organ_level: NDArray[np.float32] | None
    ct_hu: NDArray | None
    ct_contrast_hu: float
    spacing: tuple[float, float, float]
    floor_suv: float
    organ_factor: float
    liver_mask: NDArray[np.bool_] | None = None
    shoulder_mm: float = DEFAULT_SHOULDER_MM

    def _ct_correlate(self, labels: NDArray[np.int32], lab: int, sl: tuple[slice, ...]) -> bool:
        assert self.ct_hu is not None
        box = tuple(
            slice(max(0, s.start - 2), min(d, s.stop + 2))
            for s, d in zip(sl, labels.shape, strict=True)
        )
        m = labels[box] == lab
        shell = ndimage.binary_dilation(m, iterations=2) & (labels[box] == 0)
        ct = self.ct_hu[box]
        mean = float(ct[m].mean())
        if mean >= _BONE_HU:
            return True
        return bool(shell.any()) and abs(mean - float(np.median(ct[shell]))) >= self.ct_contrast_hu

    def __call__(
        self, labels: NDArray[np.int32], other_organs: NDArray[np.bool_] | None = None
    ) -> NDArray[np.int32]:
        """``labels`` without the low foci that neither reach the organ level nor show on the
        CT nor stand out from the tissue around them (``other_organs``, e.g. the kidneys the
        physiological veto recognised, are not that tissue)."""
        n = int(labels.max())
        if n == 0:
            return labels
        lmax = label_max(self.smooth, labels)
        low = (lmax < self.below_suv) & np.isfinite(lmax)
        low[0] = False
        lut = np.arange(n + 1, dtype=np.int32)
        if self.organ_level is not None and low.any():
            flat = np.flatnonzero((labels > 0) & (self.smooth >= lmax[labels]))
            lab_at, first = np.unique(labels.ravel()[flat], return_index=True)
            peak_level = np.full(n + 1, -np.inf)
            peak_level[lab_at] = self.organ_level.ravel()[flat[first]]
            lut[low & (lmax < peak_level)] = 0
        if self.ct_hu is not None:
            objs = ndimage.find_objects(labels)
            for lab in np.flatnonzero(low & (lut > 0)):
                sl = objs[lab - 1]
                if sl is None or self._ct_correlate(labels, int(lab), sl):
                    continue
                if not stands_out(
                    self.smooth,
                    labels == lab,
                    self.spacing,
                    self.floor_suv,
                    self.organ_factor,
                    self.liver_mask,
                    other_organs,
                    self.shoulder_mm,
                ):
                    lut[lab] = 0
        return lut[labels]
