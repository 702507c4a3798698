"""A kidney that the automatic liver mask took in, found from its partner.

The automatic liver mask grows through blocks of liver-like uptake
(:mod:`nenscope.analysis.reference`: within 2.5 robust SD + 5 % of the liver core's block
means). A right kidney with uptake only 1.2-1.3 x the liver's lies within that tolerance and
is taken in (independent family seed 18: 1261 of 1279 kidney voxels); its noise peaks above
the in-liver threshold then come out as "liver lesions", and without the kidney as an anchor
the adrenal gland at its upper pole does too.

The kidneys are a pair at the same level with like uptake. When the physiological veto
(:class:`~nenscope.analysis.organs.PhysiologicalVeto`) recognised a kidney on one side
only, :func:`kidney_in_liver` looks for the other inside the liver mask: the detection
image smoothed once more (10 mm FWHM, so the liver's noise stays well below the gap between
the two uptakes), thresholded midway between the liver mean and the recognised kidney's
plateau, gives a component mostly inside the liver mask on the other side that must pass
the kidney's position prior (:func:`~nenscope.analysis.physiology.at_kidney_place`), hold at
least 20 ml (only the kidney's part above the midway level is in it), lie within
50 mm of the partner's level, and be no hotter than a kidney (its smoothed maximum at most
the organ factor x (median + 2 robust SD) of the partner, the level above which a kidney's
piece is split off as a lesion). A liver metastasis is a focus hotter than a kidney or
smaller than one; a hot lesion fused with the region leaves it unrecognised (the analysis
then stays as it was without this search).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import cc3d
import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from nenscope.analysis._geometry import median_robust_sd, padded_box
from nenscope.analysis.physiology import ComponentInfo, at_kidney_place, component_table
from nenscope.analysis.segmentation import label_max
from nenscope.imaging.geometry import fwhm_to_sigma

__all__ = ["HiddenKidney", "kidney_in_liver"]

# the extra smoothing of the search (mm FWHM): the liver's noise on the detection image
# (5-7 % SD) drops to ~2 %, well below the 10 % that separates the midway level from the
# liver mean when the kidney is 1.2 x the liver
_SEARCH_FWHM_MM = 10.0
# the kidney's plateau must exceed the liver mean by this fraction to be told from it
_MIN_CONTRAST = 0.10
# the smallest part of a kidney above the midway level (ml), and its largest distance in
# level from the partner (mm; the right kidney lies 1-2 cm below the left)
_MIN_VOLUME_ML = 20.0
_MAX_LEVEL_OFFSET_MM = 50.0
# the share of the region that lies inside the liver mask (else it was found as a component)
_MIN_LIVER_SHARE = 0.5


@dataclass(frozen=True)
class HiddenKidney:
    """A kidney found inside the automatic liver mask.

    Attributes:
        info: its position and size (label 0), an anchor of the gland priors.
        region: its voxels on the grid of the search (the part above the midway level).
        lesion_above_suv: a focus in it whose smoothed maximum exceeds this value is a
            lesion, not the kidney's noise (organ factor x (median + 2 robust SD)).
    """

    info: ComponentInfo
    region: NDArray[np.bool_]
    lesion_above_suv: float

    def covered(self, smooth: NDArray, labels: NDArray[np.int32]) -> set[int]:
        """The components that are the kidney's own uptake: at least half of each in the
        region, and not hotter than the kidney."""
        n = int(labels.max()) + 1
        inside = np.bincount(labels[self.region], minlength=n)
        total = np.bincount(labels.ravel(), minlength=n)
        peak = label_max(smooth, labels, n - 1)
        return {
            lab
            for lab in np.flatnonzero(inside).tolist()
            if lab > 0 and 2 * inside[lab] >= total[lab] and peak[lab] <= self.lesion_above_suv
        }


def _plateau_suv(smooth: NDArray, comp: NDArray[np.bool_]) -> float:
    """A kidney's uptake: the median of its component's voxels above half its maximum (the
    component at the extrahepatic threshold holds its blurred shoulder too)."""
    vals = smooth[comp]
    return float(np.median(vals[vals > 0.5 * vals.max()]))


def kidney_in_liver(
    smooth: NDArray,
    labels: NDArray[np.int32],
    kidneys: list[ComponentInfo],
    liver_mask: NDArray[np.bool_],
    liver_suv: float,
    liver_z_range_mm: tuple[float, float],
    affine: NDArray,
    body_centroid_ijk: NDArray,
    spacing: tuple[float, float, float],
    organ_factor: float,
) -> HiddenKidney | None:
    """The partner of a lone recognised kidney inside the liver mask, or ``None``.

    Args:
        smooth: the detection image; labels: the candidate components on it.
        kidneys: the kidney components the veto recognised (labels in ``labels``).
        liver_mask: the automatic liver mask; liver_suv: its mean on ``smooth``.
        liver_z_range_mm, affine, body_centroid_ijk: the frame of the priors.
        spacing: voxel spacing (mm); organ_factor: see :class:`HiddenKidney`.
    """
    sides = {float(np.sign(k.x_mm)) for k in kidneys}
    if len(sides) != 1 or liver_suv <= 0:
        return None
    partner = max(kidneys, key=lambda k: k.volume_ml)
    comp = labels == partner.label
    plateau = _plateau_suv(smooth, comp)
    if plateau < (1.0 + _MIN_CONTRAST) * liver_suv:
        return None  # the kidneys' uptake is the liver's: no level tells them apart
    med, rsd = median_robust_sd(smooth[comp])
    lesion_above = organ_factor * (med + 2.0 * rsd)
    box = padded_box(liver_mask, [int(np.ceil(20.0 / s)) for s in spacing])
    if box is None:
        return None
    search = ndimage.gaussian_filter(
        np.asarray(smooth[box], dtype=np.float32), fwhm_to_sigma(_SEARCH_FWHM_MM, spacing)
    )
    parts = cc3d.connected_components(search > 0.5 * (liver_suv + plateau), connectivity=26)
    offset = np.array([s.start for s in box], dtype=float)
    a = np.asarray(affine, dtype=float).copy()
    a[:3, 3] = a[:3, :3] @ offset + a[:3, 3]
    comps = component_table(smooth[box], parts, a, np.asarray(body_centroid_ijk) - offset)
    inside = np.bincount(parts[liver_mask[box]], minlength=int(parts.max()) + 1)
    voxel_ml = float(np.prod(spacing)) / 1000.0
    cands = [
        c
        for c in comps
        if c.volume_ml >= _MIN_VOLUME_ML
        and inside[c.label] * voxel_ml >= _MIN_LIVER_SHARE * c.volume_ml
        and np.sign(c.x_mm) == -np.sign(partner.x_mm)
        and abs(c.z_mm - partner.z_mm) <= _MAX_LEVEL_OFFSET_MM
        and c.suv_max <= lesion_above
        and at_kidney_place(c, liver_z_range_mm)
    ]
    if not cands:
        return None
    best = max(cands, key=lambda c: c.volume_ml)
    region = np.zeros(smooth.shape, dtype=bool)
    region[box] = parts == best.label
    return HiddenKidney(replace(best, label=0), region, lesion_above)
