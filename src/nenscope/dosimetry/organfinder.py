"""Kidneys and spleen delineated on a 177Lu SPECT SUV image (``--auto-masks``).

The simulator's CT (and many low-dose SPECT/CT CTs) do not separate the kidneys from the
surrounding soft tissue, so the organs are taken from the emission image itself, as in
SPECT-based kidney dosimetry with 177Lu-DOTATATE (Sandström M et al., J Nucl Med
2010;51:1599-1607) and the quantitative 177Lu SPECT/VOI practice of MIRD Pamphlet 26
(Ljungberg M et al., J Nucl Med 2016;57:151-162):

1. Split everything hotter than the liver mean (on the SUV smoothed with an 8 mm Gaussian;
   noise of a 177Lu SPECT voxel is 10-30 %) into watershed basins of a copy smoothed with a
   16 mm Gaussian, one per maximum that stands at least one liver-mean SUV above its saddle:
   a kidney (~5 cm across) then has one maximum, whereas with 8 mm noise split kidneys into
   two basins in one of two simulated noise realisations.
2. Delineate each basin half-way (``fraction`` 0.5) between its *plateau* (mean smoothed SUV
   of the basin's voxels above half its maximum; the maximum itself is biased by noise) and the
   body background (median of the body): the blurred edge of a uniformly filled object several
   FWHM wide lies half-way up its step. On the simulated patient (FWHM 12 mm) the kidneys come
   out −12…0 % of their true mass at three imaging schedules
   (``tests/test_dosimetry_schedules.py``), the spleen −15…−22 %. The organ's own level may
   reach past its basin when a hotter neighbour floods part of it: the mask grows into voxels
   above that level that no other region claims. Lesions given by the analysis, with a rim of
   one smoothing FWHM, are filled with the mean of their surroundings first (a hot tumour
   touching a kidney would otherwise take the kidney's basin) and belong to no organ.
3. Recognise the kidneys with the analysis layer's own anatomical prior
   (:func:`nenscope.analysis.classify_physiological`, detector ``kidney``: >= 40 ml,
   posterior, lateral, from 200 mm below to the top of the liver), in the analysis's frame
   (:class:`nenscope.analysis.OrganAnchors`: its body centroid and liver z range). That
   prior also accepts the spleen, so the left kidney is the left candidate that best mirrors
   the right kidney (same height and depth, retroperitoneal pair, within ``PAIR_MM``; none
   when nothing mirrors it, e.g. after a left nephrectomy), or without a right kidney the
   most posterior left candidate (a lone candidate centred above the middle of the liver's z
   range is taken for the spleen: the kidneys' centroids lie at L1-L2, below the hepatic
   centre; the spleen's at T10-T12).
4. Spleen: a remaining component on the left (x > 25 mm from the body centre), not anterior
   (y > -20 mm), centred within the liver's z range +/- 50 mm, 80-600 ml, its plateau above
   1.5 x the liver mean (splenic SSTR uptake exceeds the hepatic one with 177Lu-DOTATATE).

Components mostly inside the analysis's liver mask are never organs here (hepatic lesions).
Positions are patient LPS (+x left, +y posterior, +z superior) relative to the body centroid.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from nenscope.analysis import ComponentInfo, OrganAnchors, classify_physiological, component_table
from nenscope.imaging.geometry import fwhm_to_sigma

__all__ = ["OrganFinding", "find_kidneys_and_spleen"]

PAIR_MM = 75.0
"""Largest L1 distance (mm) between the left kidney's centroid and the mirrored right one's.

The kidneys lie at about the same height (the right 1-2 cm lower) and depth; on the
simulated patient the pair is 21 mm apart, the spleen 137 mm from the mirrored right kidney.
"""


@dataclass
class OrganFinding:
    """Masks found (``kidney_left``, ``kidney_right``, ``spleen``) and notes on what was not."""

    masks: dict[str, NDArray[np.bool_]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


@dataclass(eq=False)
class _Regions:
    """Watershed regions of the uptake above the liver's, each delineated at ``level[label]``
    = background + ``fraction`` x (plateau − background), the plateau being the mean
    smoothed SUV above half the basin's maximum."""

    smooth: NDArray[np.float32]
    labels: NDArray[np.int32]
    plateau: NDArray[np.float64]
    level: NDArray[np.float64]


def _regions(
    arr: NDArray[np.float32],
    spacing: NDArray,
    liver_suv: float,
    smooth_fwhm_mm: float,
    marker_fwhm_mm: float,
    fraction: float,
) -> _Regions | None:
    """Steps 1-2: basins of the strongly smoothed copy, each delineated at its plateau;
    ``None`` when nothing outside the liver is hotter than it."""
    from skimage.morphology import h_maxima
    from skimage.segmentation import watershed

    sm = ndimage.gaussian_filter(arr, fwhm_to_sigma(smooth_fwhm_mm, spacing))
    smm = ndimage.gaussian_filter(arr, fwhm_to_sigma(marker_fwhm_mm, spacing))
    markers, n = ndimage.label(h_maxima(smm, liver_suv) & (smm > 1.5 * liver_suv))
    if n == 0:
        return None
    basins = watershed(-smm, markers, mask=sm > liver_suv)
    idx = np.arange(1, n + 1)
    peak = ndimage.maximum(sm, basins, idx)
    regions = np.zeros(arr.shape, np.int32)
    plateau = np.zeros(n + 1)
    level = np.zeros(n + 1)
    # background: the median of the body (soft tissue dominates it), below every organ
    bg = float(np.median(sm[sm > 0.2 * liver_suv]))
    # each basin inside its bounding box only (no whole-volume pass per basin)
    for i, pk, sl in zip(idx, peak, ndimage.find_objects(basins, n), strict=True):
        if sl is None:
            continue
        b, s_b = basins[sl] == i, sm[sl]
        plateau[i] = float(s_b[b & (s_b >= 0.5 * pk)].mean())
        level[i] = bg + fraction * (plateau[i] - bg)
        r, k = ndimage.label(b & (s_b >= level[i]))
        if k > 1:  # the connected piece holding most of the region
            r = r == int(np.argmax(np.bincount(r.ravel())[1:])) + 1
        regions[sl][r > 0] = i
    return _Regions(sm, regions, plateau, level)


def _without_lesions(arr: NDArray[np.float32], lesions: NDArray[np.bool_]) -> NDArray[np.float32]:
    """``arr`` with each lesion region filled with the mean of the two voxels around it: a
    hot tumour against an organ would otherwise take the organ's basin (its maximum floods
    the organ's own) and set its plateau."""
    out = arr.copy()
    lab, n = ndimage.label(lesions)
    for i, sl in enumerate(ndimage.find_objects(lab), start=1):
        if sl is None:
            continue
        big = tuple(slice(max(s.start - 3, 0), s.stop + 3) for s in sl)
        m = lab[big] == i
        ring = ndimage.binary_dilation(m, iterations=2) & ~m & (lab[big] == 0)
        if ring.any():
            out[big][m] = float(arr[big][ring].mean())
    return out


def _kidney_pair(
    kid: list[ComponentInfo], liver_z_mm: tuple[float, float]
) -> tuple[ComponentInfo | None, ComponentInfo | None]:
    """Step 3: (left, right) kidney among the components the kidney prior accepts."""
    right = max((c for c in kid if c.x_mm < 0), key=lambda c: c.volume_ml, default=None)
    lefts = [c for c in kid if c.x_mm > 0]
    if right is not None:

        def mirror(c):  # L1 distance (mm) of c from the right kidney mirrored to the left
            return abs(c.z_mm - right.z_mm) + abs(c.y_mm - right.y_mm) + abs(c.x_mm + right.x_mm)

        return min((c for c in lefts if mirror(c) <= PAIR_MM), key=mirror, default=None), right
    left = max(lefts, key=lambda c: c.y_mm, default=None)
    if left is not None and len(lefts) == 1 and left.z_mm >= 0.5 * (liver_z_mm[0] + liver_z_mm[1]):
        left = None  # a lone candidate level with the liver's centre is the spleen
    return left, None


def _spleen(
    comps: list[ComponentInfo],
    used: set[int],
    liver_z_mm: tuple[float, float],
    plateau: NDArray[np.float64],
    liver_suv: float,
) -> ComponentInfo | None:
    """Step 4: the largest remaining component on the left, not anterior, at the liver's
    level, 80-600 ml, with a plateau above 1.5 x the liver mean."""
    spl = [
        c
        for c in comps
        if c.label not in used
        and c.x_mm > 25.0
        and c.y_mm > -20.0
        and liver_z_mm[0] - 50.0 <= c.z_mm <= liver_z_mm[1] + 50.0
        and 80.0 <= c.volume_ml <= 600.0
        and plateau[c.label] > 1.5 * liver_suv
    ]
    return max(spl, key=lambda c: c.volume_ml, default=None)


def find_kidneys_and_spleen(
    suv: NDArray,
    affine: NDArray,
    liver_mask: NDArray[np.bool_],
    liver_suv_mean: float,
    anchors: OrganAnchors,
    *,
    lesions: NDArray[np.bool_] | None = None,
    want_spleen: bool = True,
    smooth_fwhm_mm: float = 8.0,
    marker_fwhm_mm: float = 16.0,
    fraction: float = 0.5,
) -> OrganFinding:
    """Kidney (and spleen) masks on ``suv``'s grid from the SPECT uptake pattern.

    Args:
        suv: SUV array (any consistent uptake unit works: only ratios to the liver matter).
        affine: 4x4 voxel-to-patient (LPS, mm) affine of ``suv``.
        liver_mask: the analysis's liver mask on the same grid (the anatomical anchor).
        liver_suv_mean: liver reference mean in the units of ``suv``.
        anchors: the analysis's body centroid and liver z range
            (``VolumeAnalysis.anchors`` of :func:`nenscope.analysis.analyze_volume`).
        lesions: lesion voxels (removed from the organ masks: a tumour stays a tumour).
        want_spleen: also look for the spleen.
        smooth_fwhm_mm: Gaussian FWHM (mm) of the smoothing before delineation.
        marker_fwhm_mm: stronger Gaussian FWHM (mm) of the copy whose maxima and watershed
            basins separate the organs (noise maxima inside one kidney merge).
        fraction: delineation threshold as a fraction of each organ's plateau.
    """
    out = OrganFinding()
    arr = np.asarray(suv, dtype=np.float32)
    aff = np.asarray(affine, dtype=float)
    lz = anchors.liver_z_range_mm
    liv = float(liver_suv_mean)
    if lz is None or not liv > 0:
        out.notes.append("no liver to anchor the kidney and spleen priors on")
        return out
    spacing = np.linalg.norm(aff[:3, :3], axis=0)
    near_lesion = None
    if lesions is not None and np.any(lesions):
        # a tumour's voxels and its blurred rim (one smoothing FWHM) belong to no organ
        it = max(1, int(round(smooth_fwhm_mm / float(np.mean(spacing)))))
        near_lesion = ndimage.binary_dilation(np.asarray(lesions, bool), iterations=it)
        arr = _without_lesions(arr, near_lesion)
    reg = _regions(arr, spacing, liv, smooth_fwhm_mm, marker_fwhm_mm, fraction)
    if reg is None:
        out.notes.append("no uptake above the liver's outside it")
        return out
    comps = component_table(reg.smooth, reg.labels, aff, anchors.body_centroid_ijk)
    total = np.bincount(reg.labels.ravel(), minlength=len(reg.plateau))
    in_liver = np.bincount(reg.labels[np.asarray(liver_mask, bool)], minlength=len(reg.plateau))
    comps = [c for c in comps if in_liver[c.label] < 0.5 * total[c.label]]
    found = classify_physiological(comps, {"kidney"}, liver_z_range_mm=lz)
    left, right = _kidney_pair([c for c in comps if found.get(c.label) == "kidney (auto)"], lz)
    chosen = {"kidney_left": left, "kidney_right": right}
    if want_spleen:
        used = {c.label for c in (left, right) if c is not None}
        chosen["spleen"] = _spleen(comps, used, lz, reg.plateau, liv)
    taken = np.zeros(arr.shape, bool) if near_lesion is None else near_lesion.copy()
    for name, c in chosen.items():
        if c is None:
            out.notes.append(f"no {name.replace('_', ' ')} found on the SPECT")
            continue
        # the organ's own threshold may reach past its basin (a hotter neighbour's maximum
        # floods part of the organ): grow into voxels no other region claims
        core = reg.labels == c.label
        grow, _ = ndimage.label((reg.smooth >= reg.level[c.label]) & ((reg.labels == 0) | core))
        ids = np.unique(grow[core])
        m = np.isin(grow, ids[ids > 0]) & ~taken
        if m.any():
            out.masks[name] = m
            taken |= m
    return out
