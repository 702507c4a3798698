"""A lesion the physician adds by a click: grown from the seed point, measured like the others.

Delineation follows the pipeline's SSTR rule for each detected lesion (EARL "A50"): on the
SUV smoothed by the analysis' detection filter (``detect_smooth_fwhm_mm``, 4 mm), the lesion
is the connected region around the hottest voxel within ``SEARCH_MM`` of the click that lies
above background + ``CONTRAST_FRACTION`` x (maximum - background), the background being the
median of a 2-voxel shell around the region (two refinements), within ``GROW_RADIUS_MM`` of
the maximum and outside every lesion already in the reviewed list. The fixed analysis
threshold is not used: a lesion the analysis missed usually lies below it. The region is
then measured by the same :func:`~nenscope.analysis.metrics.measure_lesions` as automatic
lesions (SUVmax/peak/mean, volume, partial-volume-corrected uptake, CT correlate) and, on
SSTR imaging, scored on the Krenning scale with the analysis' liver and spleen references.
"""

from __future__ import annotations

from typing import Any

import highdicom as hd
import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from nenscope.analysis import ReferenceRegion, ReferenceRegions
from nenscope.analysis.metrics import measure_lesions
from nenscope.analysis.pvc import effective_fwhm_mm
from nenscope.analysis.rules import score_rules
from nenscope.analysis.scores import krenning_score
from nenscope.errors import NenscopeError
from nenscope.imaging.geometry import fwhm_to_sigma

__all__ = ["CONTRAST_FRACTION", "GROW_RADIUS_MM", "SEARCH_MM", "grow_lesion"]

#: Largest distance (mm) from the click to the lesion's maximum (at least 1.5 voxels).
SEARCH_MM = 10.0
#: Largest distance (mm) of a lesion voxel from the lesion's maximum.
GROW_RADIUS_MM = 60.0
#: Delineation level between background (0) and maximum (1): EARL A50.
CONTRAST_FRACTION = 0.5


def _seed_index(affine: NDArray, seed_lps: tuple[float, float, float], shape) -> NDArray:
    ijk = np.rint(np.linalg.solve(affine, np.array([*seed_lps, 1.0]))[:3]).astype(int)
    if np.any(ijk < 0) or np.any(ijk >= np.asarray(shape)):
        raise NenscopeError("the seed point lies outside the image")
    return ijk


def _distance_mm(shape, centre, spacing) -> NDArray[np.float32]:
    grids = np.ogrid[tuple(slice(0, n) for n in shape)]
    return np.sqrt(
        sum(((g - c) * s) ** 2 for g, c, s in zip(grids, centre, spacing, strict=True))
    ).astype(np.float32)


def _region(smooth, free, peak, level) -> NDArray[np.bool_]:
    comps, _ = ndimage.label((smooth >= level) & free)
    return comps == comps[tuple(peak)]


def _delineate(smooth: NDArray, free: NDArray[np.bool_], seed, spacing) -> NDArray[np.bool_]:
    near = (_distance_mm(smooth.shape, seed, spacing) <= max(SEARCH_MM, 1.5 * max(spacing))) & free
    if not near.any():
        raise NenscopeError("the seed point lies inside a lesion of the reviewed list")
    peak = np.unravel_index(np.argmax(np.where(near, smooth, -np.inf)), smooth.shape)
    free = free & (_distance_mm(smooth.shape, peak, spacing) <= GROW_RADIUS_MM)
    vmax = float(smooth[peak])
    bg = float(np.median(smooth[free]))
    region = _region(smooth, free, peak, bg + CONTRAST_FRACTION * (vmax - bg))
    for _ in range(2):
        shell = ndimage.binary_dilation(region, iterations=2) & ~region & free
        if not shell.any():
            break
        bg = float(np.median(smooth[shell]))
        if vmax <= bg:
            raise NenscopeError("no uptake above the local background at the seed point")
        region = _region(smooth, free, peak, bg + CONTRAST_FRACTION * (vmax - bg))
    return region


def _reference(findings: dict[str, Any]) -> ReferenceRegions:
    """The stored liver/spleen references (the numbers measure_lesions needs)."""
    regions = {}
    for name in ("liver", "spleen"):
        row = findings["reference"].get(name)
        if row:
            regions[name] = ReferenceRegion(
                name=name,
                suv_mean=float(row["suv_mean"]),
                suv_sd=float(row["suv_sd"]),
                voi_volume_ml=float(row["voi_volume_ml"]),
                center_mm=tuple(row["center_mm"]),
                origin=str(row["origin"]),
            )
    return ReferenceRegions(**regions)


def grow_lesion(
    suv: hd.Volume,
    ct: hd.Volume | None,
    taken: NDArray[np.bool_],
    seed_lps: tuple[float, float, float],
    findings: dict[str, Any],
    *,
    smooth_fwhm_mm: float,
    radionuclide: str | None,
) -> dict[str, Any]:
    """Grow and measure a lesion from ``seed_lps`` (LPS mm) on the SUV grid.

    ``taken`` marks the voxels of lesions already in the reviewed list. Returns the lesion
    record (``Lesion.to_dict`` keys, ``krenning`` on SSTR imaging) with ``voxels``: flat
    indices of its mask on the grid.
    """
    arr = np.asarray(suv.array, dtype=np.float32)
    affine = np.asarray(suv.affine, dtype=float)
    spacing = tuple(float(s) for s in np.linalg.norm(affine[:3, :3], axis=0))
    seed = _seed_index(affine, seed_lps, arr.shape)
    reach = [int(np.ceil(GROW_RADIUS_MM / s)) + 3 for s in spacing]
    box = tuple(
        slice(max(0, c - r), min(n, c + r + 1))
        for c, r, n in zip(seed, reach, arr.shape, strict=True)
    )
    smooth = ndimage.gaussian_filter(arr[box], fwhm_to_sigma(smooth_fwhm_mm, spacing))
    local = seed - np.array([b.start for b in box])
    region = _delineate(smooth, ~taken[box], local, spacing)
    labels = np.zeros(arr.shape, dtype=np.int32)
    labels[box][region] = 1
    ct_arr = None if ct is None else np.asarray(ct.array, dtype=np.float32)
    psf = effective_fwhm_mm(radionuclide)
    lesion = measure_lesions(
        arr,
        labels,
        spacing,
        affine,
        _reference(findings),
        ct_hu=ct_arr,
        site_masks={},
        psf_fwhm_mm=psf,
        smooth_fwhm_mm=smooth_fwhm_mm,
    )[0]
    if findings["study"].get("agent_class") == "sstr":
        metric = getattr(lesion, score_rules()["krenning"]["metric"], None)
        ref = findings["reference"]
        lesion.krenning = krenning_score(
            lesion.suv_max if metric is None else metric,
            ref.get("liver_suv_mean"),
            ref.get("spleen_suv_mean"),
        )
    out = lesion.to_dict()
    out["voxels"] = np.flatnonzero(labels).tolist()
    return out
