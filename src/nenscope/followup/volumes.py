"""Lesion volumes measured the same way at both time points (local adaptive threshold).

The analyses delineate each study on its own (a threshold tied to the liver, a lesion split
from a neighbour, a lesion below one study's threshold left out), so their volumes are not
comparable between the two time points: growth and shrinkage measured from two independent
segmentations carry the differences of the two delineations. For follow-up, each lesion is
therefore delineated again in both studies with one local method, in a volume of interest
(VOI) carried through the registration: the voxels above

    background + fraction x (SUVmax - background)

connected to the lesion, with the lesion's own maximum and the median SUV of a shell around
it as background (an adaptive, background-corrected threshold relative to the lesion
maximum: Erdi YE et al., Cancer 1997;80:2505; Boellaard R et al., Eur J Nucl Med Mol Imaging
2015;42:328, 41-50 % of the maximum; background-corrected form: Daisne JF et al., Radiother
Oncol 2003;69:247). The shell is re-centred on the delineation a few times (the threshold
depends on the background and the background on where the lesion ends).

At a site where one analysis found nothing (a new or disappeared lesion, or one the other
analysis missed), the lesion is measured at the registered position when the image there
shows a focus: a maximum at least :data:`PRESENT_CONTRAST` times the local background;
otherwise its volume there is 0.

A threshold volume depends on the lesion size relative to the resolution (a fixed fraction
of the maximum takes in too much of a small lesion and too little of a mid-sized one), so
each delineated volume is corrected for the resolution with the blurred-sphere model
(:func:`sphere_volume_ml`: the sphere whose blurred image has that volume above the same
threshold; :func:`nenscope.analysis.pvc.blurred_sphere_profile` at the radionuclide's
effective FWHM, :func:`nenscope.analysis.pvc.effective_fwhm_mm`). Where a delineation runs
into a neighbouring structure (it reaches the edge of its search region), both time points
of that lesion keep the analyses' sphere fits
(:func:`nenscope.followup.changes.corrected_volume_ml`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage
from scipy.optimize import brentq

from nenscope.analysis.pvc import blurred_sphere_profile, effective_fwhm_mm
from nenscope.followup.changes import change_pct, sphere_fit_ml
from nenscope.followup.matching import Match
from nenscope.followup.registration import PriorToCurrent
from nenscope.followup.sides import StudySide

__all__ = [
    "FRACTION",
    "PRESENT_CONTRAST",
    "LocalVolume",
    "image_fwhm_mm",
    "local_volume",
    "mask_to_grid",
    "measure_entries",
    "sphere_volume_ml",
]

#: Threshold as the fraction of (SUVmax - background) above the background.
FRACTION = 0.5
#: A focus counts as a lesion where its maximum is at least this multiple of the background.
PRESENT_CONTRAST = 1.5
_SEARCH_MM = 10.0  # how far around the VOI the lesion maximum is sought
_REACH_MM = 20.0  # how far beyond the VOI the delineation may extend
_SHELL_MM = (8.0, 16.0)  # background shell: distance from the delineation
_ITERATIONS = 4


@dataclass(frozen=True)
class LocalVolume:
    """One lesion delineated in one study.

    Attributes:
        volume_ml: delineated volume (ml); 0 when no focus is present, NaN when the
            delineation ran into a neighbouring structure.
        suv_max: the lesion maximum (SUV) in the search region.
        background_suv: median SUV of the shell around the delineation.
        present: the maximum stands out from the background (``PRESENT_CONTRAST``).
    """

    volume_ml: float
    suv_max: float
    background_suv: float
    present: bool


def _ball(radius_mm: float, spacing_mm: NDArray) -> NDArray[np.bool_]:
    r = np.ceil(radius_mm / spacing_mm).astype(int)
    grid = np.ogrid[tuple(slice(-n, n + 1) for n in r)]
    dist2 = sum((g * s) ** 2 for g, s in zip(grid, spacing_mm, strict=True))
    return dist2 <= radius_mm**2


def _within(mask: NDArray[np.bool_], radius_mm: float, spacing_mm: NDArray) -> NDArray[np.bool_]:
    """Voxels within ``radius_mm`` of ``mask`` (Euclidean, anisotropic voxels)."""
    return ndimage.distance_transform_edt(~mask, sampling=spacing_mm) <= radius_mm


def _background(
    suv: NDArray, region: NDArray[np.bool_], allowed: NDArray[np.bool_], spacing_mm: NDArray
) -> float:
    dist = ndimage.distance_transform_edt(~region, sampling=spacing_mm)
    shell = (dist > _SHELL_MM[0]) & (dist <= _SHELL_MM[1]) & allowed
    return float(np.median(suv[shell])) if shell.any() else float(np.median(suv[~region]))


def local_volume(
    suv: NDArray,
    voi: NDArray[np.bool_],
    spacing_mm,
    *,
    own: NDArray[np.bool_] | None = None,
    others: NDArray[np.bool_] | None = None,
    fraction: float = FRACTION,
) -> LocalVolume:
    """Delineate the lesion in ``voi`` on ``suv`` with the local adaptive threshold.

    Args:
        suv: SUV volume of one study.
        voi: where the lesion is in this study: its own delineation and the other study's,
            mapped through the registration.
        spacing_mm: voxel size (mm) along the array axes.
        own: this study's analysis delineation of the lesion (``None``: none, the lesion is
            sought around ``voi``); the components touching it are kept (a split lesion).
        others: voxels of this study's other lesions (kept out of the delineation and of
            the background).
        fraction: threshold fraction of (SUVmax - background).

    Returns:
        The :class:`LocalVolume`; ``volume_ml`` 0 when no focus stands out.
    """
    spacing = np.asarray(spacing_mm, dtype=float)
    pad = np.ceil((_REACH_MM + _SEARCH_MM + _SHELL_MM[1]) / spacing).astype(int) + 1
    idx = np.argwhere(voi)
    lo = np.maximum(idx.min(axis=0) - pad, 0)
    hi = np.minimum(idx.max(axis=0) + pad + 1, voi.shape)
    box = tuple(slice(a, b) for a, b in zip(lo, hi, strict=True))
    image = np.asarray(suv[box], dtype=float)
    seed = np.asarray(voi[box], dtype=bool)
    allowed = np.ones_like(seed) if others is None else ~np.asarray(others[box], dtype=bool)
    keep = seed if own is None else np.asarray(own[box], dtype=bool)
    search = (_within(seed, _SEARCH_MM, spacing) if own is None else seed) & allowed
    reach = _within(seed, _REACH_MM + (_SEARCH_MM if own is None else 0.0), spacing) & allowed
    peak = np.unravel_index(np.argmax(np.where(search, image, -np.inf)), image.shape)
    suv_max = float(image[peak])
    region = seed.copy()
    bg = _background(image, region, allowed, spacing)
    edge = reach & ~ndimage.binary_erosion(reach)
    for _ in range(_ITERATIONS):
        if own is None and suv_max < PRESENT_CONTRAST * bg:
            return LocalVolume(0.0, suv_max, bg, False)
        above = (image >= bg + fraction * (suv_max - bg)) & reach
        labels, _n = ndimage.label(above)
        ids = set(np.unique(labels[keep & above]).tolist()) | {int(labels[peak])}
        ids.discard(0)
        region = np.isin(labels, list(ids))
        if (region & edge).any():  # leaks into a neighbouring structure
            return LocalVolume(float("nan"), suv_max, bg, True)
        new_bg = _background(image, region, allowed, spacing)
        if abs(new_bg - bg) < 1e-3 * max(bg, 1e-6):
            break
        bg = new_bg
    voxel_ml = float(np.prod(spacing)) / 1000.0
    return LocalVolume(float(region.sum()) * voxel_ml, suv_max, bg, True)


def mask_to_grid(
    mask: NDArray[np.bool_], source_affine: NDArray, target_affine: NDArray, target_shape, mapping
) -> NDArray[np.bool_]:
    """Carry a voxel mask to another grid through ``mapping`` (points, source LPS mm ->
    target LPS mm): each voxel centre is mapped and its nearest target voxel set; the result
    is closed by one voxel (the two grids' voxels need not line up)."""
    out = np.zeros(tuple(target_shape), dtype=bool)
    idx = np.argwhere(mask)
    if idx.size == 0:
        return out
    points = idx @ np.asarray(source_affine)[:3, :3].T + np.asarray(source_affine)[:3, 3]
    mapped = np.asarray(mapping(points), dtype=float)
    inv = np.linalg.inv(np.asarray(target_affine))
    ijk = np.rint(mapped @ inv[:3, :3].T + inv[:3, 3]).astype(int)
    ok = np.all((ijk >= 0) & (ijk < np.asarray(target_shape)), axis=1)
    out[tuple(ijk[ok].T)] = True
    return ndimage.binary_closing(out, iterations=1) | out


def _threshold_radius_mm(diameter_mm: float, fwhm_mm: float, fraction: float) -> float:
    """Radius (mm) at which a blurred sphere falls to ``fraction`` of its centre above the
    background."""
    centre = float(blurred_sphere_profile(np.array([0.0]), diameter_mm, fwhm_mm)[0])

    def excess(r: float) -> float:
        return (
            float(blurred_sphere_profile(np.array([r]), diameter_mm, fwhm_mm)[0]) / centre
            - fraction
        )

    return float(brentq(excess, 1e-3, diameter_mm / 2.0 + 4.0 * fwhm_mm))


def sphere_volume_ml(
    threshold_volume_ml: float, fwhm_mm: float, fraction: float = FRACTION
) -> float:
    """Volume (ml) of the uniform sphere whose blurred image has ``threshold_volume_ml`` above
    ``fraction`` of its maximum (background-corrected): the recovery correction of a
    threshold volume for the resolution (blurred-sphere model,
    :func:`nenscope.analysis.pvc.blurred_sphere_profile`)."""
    if not threshold_volume_ml > 0:
        return 0.0
    r_meas = (3.0 * threshold_volume_ml * 1000.0 / (4.0 * np.pi)) ** (1.0 / 3.0)
    lo, hi = 0.5, 400.0
    if r_meas <= _threshold_radius_mm(lo, fwhm_mm, fraction):
        return 0.0
    if r_meas >= _threshold_radius_mm(hi, fwhm_mm, fraction):
        return threshold_volume_ml
    d = brentq(lambda d: _threshold_radius_mm(d, fwhm_mm, fraction) - r_meas, lo, hi)
    return float(np.pi / 6.0 * d**3 / 1000.0)


def image_fwhm_mm(fwhm_mm: float, spacing_mm) -> float:
    """Resolution (FWHM, mm) of an image of voxel averages: the scanner's FWHM and the
    voxel box (variance a^2/12 per axis, mean over the axes) added in quadrature."""
    box_var = float(np.mean(np.asarray(spacing_mm, dtype=float) ** 2)) / 12.0
    return float(np.sqrt(fwhm_mm**2 + 8.0 * np.log(2.0) * box_var))


def _measure(side: StudySide, voi: NDArray[np.bool_], own: NDArray[np.bool_] | None) -> float:
    """Recovery-corrected local volume (ml) of one lesion in one study (NaN: leaked)."""
    if not voi.any():
        return 0.0  # outside this study's field of view
    labels = np.asarray(side.labels.array)
    others = (labels > 0) if own is None else (labels > 0) & ~own
    spacing = np.linalg.norm(side.suv.affine[:3, :3], axis=0)
    lv = local_volume(np.asarray(side.suv.array), voi, spacing, own=own, others=others)
    if not np.isfinite(lv.volume_ml):
        return float("nan") if own is not None else 0.0
    return sphere_volume_ml(
        lv.volume_ml, image_fwhm_mm(effective_fwhm_mm(side.radionuclide), spacing)
    )


def _fits_trusted(match: Match, current: StudySide, prior: StudySide) -> bool:
    """Both analyses found the lesion and have a trusted sphere fit for each of its parts."""
    if not (match.prior_ids and match.current_ids):
        return False
    lesions = [prior.lesions[i] for i in match.prior_ids]
    lesions += [current.lesions[i] for i in match.current_ids]
    return all(sphere_fit_ml(les) is not None for les in lesions)


def measure_entries(
    entries: Sequence[dict[str, Any]],
    matches: Sequence[Match],
    current: StudySide,
    prior: StudySide,
    reg: PriorToCurrent,
    prior_on_current: NDArray,
) -> None:
    """Measure the entries the analyses' sphere fits cannot (see the module docstring).

    An entry whose lesions both analyses found, each with a trusted sphere fit
    (:func:`nenscope.followup.changes.sphere_fit_ml`), keeps those fits
    (``volume_method: "sphere fit"``). Every other entry (a new or disappeared lesion, one
    missed by an analysis, a fit that failed or was not trusted) is delineated in both
    studies with the local threshold (``"local threshold"``); where that leaks, the
    analyses' volumes stay (``"sphere fit"``). Sets ``volume_pvc_ml_prior``,
    ``volume_pvc_ml_current``, ``volume_pvc_change_pct`` and ``volume_method`` in place.
    """
    cur_lab, pri_lab = np.asarray(current.labels.array), np.asarray(prior.labels.array)
    for m, entry in zip(matches, entries, strict=True):
        entry["volume_method"] = "sphere fit"
        if _fits_trusted(m, current, prior):
            continue
        own_c = np.isin(cur_lab, m.current_ids) if m.current_ids else None
        own_p = np.isin(pri_lab, m.prior_ids) if m.prior_ids else None
        voi_c = np.isin(prior_on_current, m.prior_ids)
        voi_p = np.zeros(pri_lab.shape, dtype=bool) if own_p is None else own_p.copy()
        if own_c is not None:
            voi_c |= own_c
            voi_p |= mask_to_grid(
                own_c,
                current.labels.affine,
                prior.labels.affine,
                pri_lab.shape,
                reg.current_to_prior,
            )
        vol_p, vol_c = _measure(prior, voi_p, own_p), _measure(current, voi_c, own_c)
        if np.isnan(vol_p) or np.isnan(vol_c):
            continue
        entry["volume_method"] = "local threshold"
        entry["volume_pvc_ml_prior"] = round(vol_p, 3) if own_p is not None or vol_p else None
        entry["volume_pvc_ml_current"] = round(vol_c, 3)
        entry["volume_pvc_change_pct"] = change_pct(entry["volume_pvc_ml_prior"], vol_c)
