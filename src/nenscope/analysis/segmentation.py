"""Lesion segmentation: threshold, physiological-uptake suppression, components, splitting.

Pipeline (one pass per step over the emission grid, everything else on lesion crops):

1. Threshold. ``"liver"``: SUV > factor x (liver SUVmean + k x SD), the liver-relative form
   of qPSMA (Gafita A et al., J Nucl Med 2019;60:1277-1283); ``"percist"``: 1.5 x liver mean +
   2 SD (Wahl RL et al., J Nucl Med 2009;50:122S); ``"suvmax_percent"``: candidates at the
   liver threshold, each trimmed to a fraction of its own SUVmax (41 %, EANM guideline 2.0);
   ``"fixed"``: one SUV value.
2. Suppress physiological uptake: voxels inside organ masks of the agent's rules (dilated by
   each rule's spill-over margin) are removed, as qPSMA's normal-uptake mask does; large
   components that the built-in detectors recognise as kidney, bladder, brain or heart (by
   size and position relative to the body and liver) are removed too.
3. Connected components (cc3d, 26-connectivity); components below the minimum volume go.
4. Touching lesions are split by a marker watershed (SimpleITK) on the smoothed SUV, with one
   marker per h-maximum (a peak that rises at least ``h`` SUV above its saddle), so noise
   does not split one lesion.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import cc3d
import numpy as np
import SimpleITK as sitk
from numpy.typing import NDArray
from scipy import ndimage

from nenscope.analysis._geometry import ball_mask, median_robust_sd
from nenscope.analysis.rules import UptakeRule
from nenscope.analysis.suvpeak import suv_peak_per_label

#: ``(mask, SUV)`` pairs: a threshold or detection level that applies inside the mask
Regions = list[tuple[NDArray[np.bool_], float]]

__all__ = [
    "SegmentationResult",
    "liver_threshold",
    "percist_threshold",
    "physiological_mask",
    "segment_lesions",
    "split_height",
    "split_touching",
]


@dataclass
class SegmentationResult:
    """Lesion labels on the emission grid and how they were obtained.

    Attributes:
        labels: int32 array, 0 background, 1..N lesions.
        threshold_suv: SUV threshold used for the candidates.
        method: threshold method name.
        suppressed: organs (and auto-detected structures) whose uptake was removed.
        n_small_removed: components dropped for being below the minimum volume.
    """

    labels: NDArray[np.int32]
    threshold_suv: float
    method: str
    suppressed: list[str] = field(default_factory=list)
    n_small_removed: int = 0

    @property
    def n_lesions(self) -> int:
        return int(self.labels.max()) if self.labels.size else 0


def liver_threshold(
    liver_suv_mean: float, liver_suv_sd: float, *, factor: float = 1.0, k_sd: float = 2.0
) -> float:
    """Liver-relative threshold ``factor * (mean + k_sd * sd)`` in SUV (qPSMA form)."""
    return float(factor * (liver_suv_mean + k_sd * liver_suv_sd))


def percist_threshold(liver_suv_mean: float, liver_suv_sd: float) -> float:
    """PERCIST 1.0 measurability threshold 1.5 x liver mean + 2 x liver SD (Wahl 2009)."""
    return float(1.5 * liver_suv_mean + 2.0 * liver_suv_sd)


def physiological_mask(
    shape: tuple[int, ...],
    masks: dict[str, NDArray[np.bool_]],
    rules: list[UptakeRule],
    spacing_mm: tuple[float, float, float],
) -> tuple[NDArray[np.bool_], list[str]]:
    """Union of the organ masks named by ``rules``, each dilated by its margin (mm)."""
    out = np.zeros(shape, dtype=bool)
    used: list[str] = []
    for rule in rules:
        for name, m in masks.items():
            if not rule.matches(name) or not m.any():
                continue
            if rule.dilation_mm > 0:
                # dilate only the organ's bounding box (plus the margin): cheap
                ball = ball_mask(rule.dilation_mm, spacing_mm)
                pad = np.array(ball.shape) // 2
                sl = ndimage.find_objects(m.astype(np.uint8))[0]
                lo = [max(0, s.start - p) for s, p in zip(sl, pad, strict=True)]
                hi = [min(d, s.stop + p) for s, p, d in zip(sl, pad, shape, strict=True)]
                box = tuple(slice(a, b) for a, b in zip(lo, hi, strict=True))
                out[box] |= ndimage.binary_dilation(m[box], structure=ball)
            else:
                out |= m
            used.append(f"{rule.organ} ({name})")
    return out, used


def label_max(values: NDArray, labels: NDArray, n: int | None = None) -> NDArray[np.float64]:
    """Maximum of ``values`` per label 1..n (index 0 unused; -inf for empty labels).

    Touches only the labelled voxels (``np.maximum.at``), unlike ``ndimage.maximum`` which
    sorts the whole volume.
    """
    n = int(labels.max()) if n is None else n
    out = np.full(n + 1, -np.inf)
    fg = labels > 0
    np.maximum.at(out, labels[fg], np.asarray(values[fg], dtype=np.float64))
    return out


def organ_thresholds(
    image: NDArray,
    masks: dict[str, NDArray[np.bool_]],
    rules: list[UptakeRule],
    spacing_mm: tuple[float, float, float],
    *,
    floor_suv: float,
    organ_factor: float,
) -> tuple[Regions, list[str]]:
    """Raised thresholds over organs with physiological uptake (suppression that keeps lesions).

    Inside each organ named by ``rules`` (its mask dilated by the rule's spill-over margin) a
    lesion must exceed ``organ_factor`` x (the organ's median + 2 robust SDs, ``MAD_TO_SD`` x
    MAD, on ``image``), and never less than ``floor_suv``: the organ's own physiological uptake
    is suppressed, a tumour clearly hotter than the organ (e.g. a pancreatic NET) is still
    found; median and MAD ignore the tumour inside the organ.
    """
    out: Regions = []
    used: list[str] = []
    for rule in rules:
        for name, m in masks.items():
            if not rule.matches(name) or not m.any():
                continue
            region, _ = physiological_mask(image.shape, {name: m}, [rule], spacing_mm)
            med, rsd = median_robust_sd(image[m])
            out.append((region, max(floor_suv, organ_factor * (med + 2.0 * rsd))))
            used.append(f"{rule.organ} ({name})")
    return out, used


def _relabel_sequential(labels: NDArray) -> NDArray[np.int32]:
    present = np.bincount(labels.ravel()) > 0
    present[0] = False
    ids = np.flatnonzero(present)
    lut = np.zeros(present.size, dtype=np.int32)
    lut[ids] = np.arange(1, ids.size + 1, dtype=np.int32)
    return lut[labels]


def _contrast_trim(suv: NDArray, labels: NDArray[np.int32], fraction: float) -> NDArray[np.int32]:
    """Background-corrected per-component threshold (see :func:`segment_lesions`)."""
    out = labels.copy()
    for idx, sl in enumerate(ndimage.find_objects(labels)):
        if sl is None:
            continue
        box = tuple(
            slice(max(0, s.start - 3), min(d, s.stop + 3))
            for s, d in zip(sl, labels.shape, strict=True)
        )
        lab = labels[box]
        comp = lab == idx + 1
        crop = suv[box]
        shell = ndimage.binary_dilation(comp, iterations=2) & (lab == 0)
        if not shell.any():
            continue
        bg = float(np.median(crop[shell]))
        vmax = float(crop[comp].max())
        cut = bg + fraction * (vmax - bg)
        drop = comp & (crop < cut)
        out[box][drop] = 0
    return out


def split_height(
    threshold_suv: float | NDArray, height_suv: float | None, height_fraction: float | None
) -> float:
    """The h-maxima height of :func:`split_touching` (SUV): ``height_suv`` if given, else a
    quarter of the lowest threshold with a relative test (``height_fraction``), half without."""
    if height_suv is not None:
        return float(height_suv)
    return (0.5 if height_fraction is None else 0.25) * float(np.min(threshold_suv))


def _h_maxima(img: sitk.Image, height: float) -> NDArray[np.bool_]:
    """Regional maxima of the h-maxima transform: peaks at least ``height`` above any saddle."""
    hmax = sitk.HMaxima(img, height)
    return sitk.GetArrayFromImage(
        sitk.RegionalMaxima(hmax, backgroundValue=0, foregroundValue=1, fullyConnected=True)
    ).astype(bool)


def split_touching(
    suv: NDArray,
    labels: NDArray[np.int32],
    spacing_mm: tuple[float, float, float],
    *,
    min_height_suv: float,
    min_height_fraction: float | None = None,
    min_volume_ml: float = 1.0,
    smooth_sigma_voxels: float = 1.0,
) -> NDArray[np.int32]:
    """Split components that hold several h-maxima with a marker watershed on SUV.

    Each component of at least ``min_volume_ml`` is cropped; its SUV is smoothed (Gaussian,
    sigma ``smooth_sigma_voxels``, one voxel by default; less for an image that was already
    smoothed for detection); markers are the regional maxima of the h-maxima transform with height
    ``min_height_suv`` (SimpleITK ``HMaxima``), i.e. peaks separated by a saddle at least that
    deep. With ``min_height_fraction`` a peak must also rise that fraction of its own value
    above the saddle (h-maxima of log SUV): OSEM noise grows with the uptake, so a fixed
    height either splits hot lesions into noise fragments or, set high enough for them, fuses
    a moderate lesion on the tail of a hot neighbour; a relative depth does neither.
    Components with two or more markers are cut along the watershed of -SUV (SimpleITK
    ``MorphologicalWatershedFromMarkers``). Returns new sequential labels.

    Example:
        >>> import numpy as np
        >>> x = np.zeros((9, 9, 30), np.float32)
        >>> x[4, 4, :] = np.r_[np.linspace(0, 30, 10), np.linspace(30, 6, 10), [9, 12, 9], np.linspace(6, 0, 7)]
        >>> lab = (x > 1).astype(np.int32)
        >>> int(split_touching(x, lab, (4, 4, 4), min_height_suv=1.0, min_height_fraction=0.1).max())
        2
    """
    voxel_ml = float(np.prod(spacing_mm)) / 1000.0
    out = labels.copy()
    next_label = int(labels.max()) + 1
    for idx, sl in enumerate(ndimage.find_objects(labels)):
        if sl is None:
            continue
        lab = idx + 1
        comp = labels[sl] == lab
        if comp.sum() * voxel_ml < min_volume_ml:
            continue
        crop = np.asarray(suv[sl], dtype=np.float32)
        if smooth_sigma_voxels > 0:
            crop = ndimage.gaussian_filter(crop, smooth_sigma_voxels)
        low = float(crop[comp].min())
        crop = np.where(comp, crop, low)
        img = sitk.GetImageFromArray(crop)
        peaks = _h_maxima(img, float(min_height_suv)) & comp
        markers, n = cc3d.connected_components(peaks, connectivity=26, return_N=True)
        if n >= 2 and min_height_fraction is not None:
            # keep the peaks that are also deep relative to their value (log SUV)
            log_img = sitk.GetImageFromArray(np.log(np.maximum(crop, 1e-3)).astype(np.float32))
            rel = _h_maxima(log_img, -float(np.log1p(-min_height_fraction))) & comp
            keep = np.unique(markers[rel])
            lut = np.zeros(n + 1, dtype=np.int32)
            keep = keep[keep > 0]
            lut[keep] = np.arange(1, keep.size + 1, dtype=np.int32)
            markers, n = lut[markers], int(keep.size)
        if n < 2:
            continue
        ws = sitk.MorphologicalWatershedFromMarkers(
            sitk.GetImageFromArray((crop.max() - crop).astype(np.float32)),
            sitk.GetImageFromArray(markers.astype(np.uint32)),
            markWatershedLine=False,
            fullyConnected=True,
        )
        parts = sitk.GetArrayFromImage(ws).astype(np.int64)
        view = out[sl]
        for p in range(2, n + 1):
            view[comp & (parts == p)] = next_label
            next_label += 1
    return _relabel_sequential(out)


def _detect_levels(
    detect_suv: float,
    region_detect: Regions | None,
    positions: NDArray[np.intp],
) -> NDArray[np.float64]:
    """Detection level per component: ``detect_suv``, or a region's value where the
    component's position (``(n, 3)`` voxel indices: its maximum or SUVpeak centre) lies in it."""
    det = np.full(len(positions), float(detect_suv))
    for region, d_region in region_detect or []:
        det[region[tuple(positions.T)]] = d_region
    return det


def segment_lesions(
    suv: NDArray,
    spacing_mm: tuple[float, float, float],
    threshold_suv: float | NDArray,
    *,
    detect_suv: float | None = None,
    region_detect: Regions | None = None,
    region_thresholds: Regions | None = None,
    raise_thresholds: Regions | None = None,
    exclude: NDArray[np.bool_] | None = None,
    min_volume_ml: float = 0.3,
    suvmax_fraction: float | None = None,
    split: bool = True,
    split_min_height_suv: float | None = None,
    split_min_height_fraction: float | None = None,
    split_smooth_sigma_voxels: float = 1.0,
    fill_holes: bool = True,
    contrast_fraction: float | None = None,
    detect_on_peak: bool = True,
    component_filter: Callable[[NDArray[np.int32]], NDArray[np.int32]] | None = None,
    piece_filter: Callable[[NDArray[np.int32]], NDArray[np.int32]] | None = None,
) -> NDArray[np.int32]:
    """Label lesions: SUV above ``threshold_suv``, outside ``exclude``, big enough.

    Args:
        suv: SUV array.
        spacing_mm: voxel spacing, mm.
        threshold_suv: delineation threshold in SUV (lesion extent); a scalar or an array
            broadcastable to ``suv`` (e.g. one value per slice).
        region_thresholds: ``(mask, threshold)`` pairs that replace ``threshold_suv``
            inside each mask (e.g. the liver: mean + 2 SD of its background); applied within
            the mask's bounding box only.
        raise_thresholds: ``(mask, threshold)`` pairs that add a requirement inside each
            mask (the highest applies where masks overlap): physiological organs.
        detect_suv: detection threshold in SUV: components whose SUVmax stays below it are
            dropped (hysteresis thresholding); ``None``: same as ``threshold_suv``.
        region_detect: ``(mask, value)`` pairs that replace ``detect_suv`` for components
            whose maximum (SUVpeak centre with ``detect_on_peak``) lies inside the mask; e.g.
            FDG inside the liver, where a noise-calibrated level replaces PERCIST's.
        exclude: voxels never part of a lesion (physiological uptake).
        min_volume_ml: smallest lesion kept, ml.
        suvmax_fraction: if given, each component keeps only voxels >= this fraction of its
            own SUVmax (``"suvmax_percent"`` delineation).
        split: split touching lesions (:func:`split_touching`).
        split_min_height_suv: h-maxima height; default 50 % of the threshold (25 % with
            ``split_min_height_fraction``).
        split_min_height_fraction: a second peak must also rise this fraction of its value
            above the saddle (see :func:`split_touching`); ``None``: no relative test.
        split_smooth_sigma_voxels: Gaussian sigma (voxels) applied before the split; 1 for
            a raw SUV image, less when ``suv`` was already smoothed for detection.
        fill_holes: fill cold cores (e.g. necrosis) enclosed by a lesion.
        contrast_fraction: if given, trim each component to the voxels above
            ``bg + fraction * (SUVmax - bg)``, bg the median SUV of a 2-voxel shell around it
            (background-corrected "A50" delineation at 0.5; Boellaard R et al., EJNMMI
            2015;42:328, EARL); the threshold mask over-sizes hot lesions by the blur.
        detect_on_peak: keep a component only if its SUVpeak (1 cm^3 sphere) reaches the
            local threshold (and ``detect_suv``), as PERCIST defines measurable lesions by
            SULpeak; otherwise ``detect_suv`` is compared with the component's SUVmax.
        component_filter: called with the labels before splitting; returns the labels with
            unwanted components (e.g. recognised physiological structures) set to 0.
        piece_filter: the same for the pieces after splitting (a lesion kept in a gland
            whose uptake reaches the threshold: the gland's own pieces go).

    Returns:
        int32 labels 0..N, lesions ordered by descending SUVmax.
    """
    suv = np.asarray(suv, dtype=np.float32)
    cand = _candidates(suv, threshold_suv, region_thresholds, raise_thresholds)
    if exclude is not None:
        cand &= ~exclude
    labels = cc3d.connected_components(cand, connectivity=26).astype(np.int32)
    if (
        not detect_on_peak
        and detect_suv is not None
        and detect_suv > float(np.min(threshold_suv))
        and labels.max() > 0
    ):
        labels = _hysteresis(suv, labels, detect_suv, region_detect)
    if suvmax_fraction is not None and labels.max() > 0:
        lut = label_max(suv, labels) * suvmax_fraction
        lut[0] = np.inf
        keep = (labels > 0) & (suv >= lut[labels])
        labels = cc3d.connected_components(keep, connectivity=26).astype(np.int32)
    voxel_ml = float(np.prod(spacing_mm)) / 1000.0
    min_vox = max(1, int(np.ceil(min_volume_ml / voxel_ml)))
    if labels.max() > 0:
        labels = _drop_small(labels, min_vox)
    if detect_on_peak and labels.max() > 0:
        labels = _detect_on_peak(
            suv, labels, spacing_mm, threshold_suv, region_thresholds, detect_suv, region_detect
        )
    if component_filter is not None and labels.max() > 0:
        labels = _relabel_sequential(component_filter(labels))
    if split and labels.max() > 0:
        h = split_height(threshold_suv, split_min_height_suv, split_min_height_fraction)
        labels = split_touching(
            suv,
            labels,
            spacing_mm,
            min_height_suv=h,
            min_height_fraction=split_min_height_fraction,
            smooth_sigma_voxels=split_smooth_sigma_voxels,
        )
        if piece_filter is not None and labels.max() > 0:
            labels = _relabel_sequential(piece_filter(labels))
    if contrast_fraction is not None and labels.max() > 0:
        # after splitting, so that a hot lesion does not trim away a cooler neighbour
        labels = _contrast_trim(suv, labels, contrast_fraction)
    if fill_holes and labels.max() > 0:
        _fill_holes(labels)
    if labels.max() > 0:  # watershed pieces too small to be lesions go (trimmed cores stay)
        labels = _drop_small(labels, min_vox if contrast_fraction is None else 1)
    return _order_by_suvmax(suv, labels)


def _candidates(
    suv: NDArray[np.float32],
    threshold_suv: float | NDArray,
    region_thresholds: Regions | None,
    raise_thresholds: Regions | None,
) -> NDArray[np.bool_]:
    """Voxels above the threshold: replaced inside ``region_thresholds``, raised inside
    ``raise_thresholds`` (each applied within its mask's bounding box only)."""
    cand = suv > threshold_suv
    for region, t_region in region_thresholds or []:
        objs = ndimage.find_objects(region.astype(np.uint8))
        if not objs or objs[0] is None:
            continue
        box = objs[0]
        r = region[box]
        cand[box] = np.where(r, suv[box] > t_region, cand[box])
    for region, t_region in raise_thresholds or []:
        objs = ndimage.find_objects(region.astype(np.uint8))
        if not objs or objs[0] is None:
            continue
        box = objs[0]
        cand[box] &= ~region[box] | (suv[box] > t_region)
    return cand


def _hysteresis(
    suv: NDArray[np.float32],
    labels: NDArray[np.int32],
    detect_suv: float,
    region_detect: Regions | None,
) -> NDArray[np.int32]:
    """Keep the components whose maximum reaches the detection level where they peak."""
    lmax = label_max(suv, labels)
    n = lmax.size - 1
    at = np.zeros((n, suv.ndim), dtype=np.intp)
    if region_detect:
        # where each component peaks, in one vectorised pass (scipy's maximum_position
        # loops per label: 4x the whole segmentation's time on an FDG study)
        flat = np.flatnonzero((labels > 0) & (suv >= lmax[labels]))
        lab_at, first = np.unique(labels.ravel()[flat], return_index=True)
        at[lab_at - 1] = np.column_stack(np.unravel_index(flat[first], suv.shape))
    lut = np.concatenate([[False], lmax[1:] >= _detect_levels(detect_suv, region_detect, at)])
    return np.where(lut[labels], labels, 0).astype(np.int32)


def _detect_on_peak(
    suv: NDArray[np.float32],
    labels: NDArray[np.int32],
    spacing_mm: tuple[float, float, float],
    threshold_suv: float | NDArray,
    region_thresholds: Regions | None,
    detect_suv: float | None,
    region_detect: Regions | None,
) -> NDArray[np.int32]:
    """Keep the components whose SUVpeak reaches the local threshold and detection level.

    PERCIST measurability: noise clusters pass a voxel threshold by chance, their 1 cm^3
    mean does not.
    """
    peaks, centres = suv_peak_per_label(suv, labels, spacing_mm)
    need = np.full(peaks.size, float(np.min(threshold_suv)), dtype=np.float64)
    for region, t_region in region_thresholds or []:
        inside = region[tuple(centres.T)]
        need[inside] = t_region
    if detect_suv is not None:
        need = np.maximum(need, _detect_levels(detect_suv, region_detect, centres))
    keep = np.concatenate([[False], peaks >= need])
    return _relabel_sequential(np.where(keep[labels], labels, 0).astype(np.int32))


def _drop_small(labels: NDArray[np.int32], min_voxels: int) -> NDArray[np.int32]:
    """Components below ``min_voxels`` removed, the rest relabelled 1..N in their order (one
    count and one look-up over the volume)."""
    keep = np.bincount(labels.ravel()) >= max(1, min_voxels)
    keep[0] = False
    lut = np.zeros(keep.size, dtype=np.int32)
    lut[keep] = np.arange(1, int(keep.sum()) + 1, dtype=np.int32)
    return lut[labels]


def _fill_holes(labels: NDArray[np.int32]) -> None:
    """Fill the cold cores (necrosis) enclosed by each lesion, in place."""
    for idx, sl in enumerate(ndimage.find_objects(labels)):
        if sl is None:
            continue
        comp = labels[sl] == idx + 1
        filled = ndimage.binary_fill_holes(comp)
        holes = filled & ~comp & (labels[sl] == 0)
        if holes.any():
            labels[sl][holes] = idx + 1


def _order_by_suvmax(suv: NDArray[np.float32], labels: NDArray[np.int32]) -> NDArray[np.int32]:
    """Labels renumbered by descending SUVmax (stable ids for reports)."""
    n = int(labels.max())
    if n > 1:
        maxes = label_max(suv, labels, n)[1:]
        order = np.argsort(-maxes, kind="stable")
        lut = np.zeros(n + 1, dtype=np.int32)
        lut[order + 1] = np.arange(1, n + 1, dtype=np.int32)
        labels = lut[labels]
    return labels.astype(np.int32)
