"""The blood-pool reference in the descending thoracic aorta (PERCIST), CT-guided.

PERCIST measures the blood pool in a 1 cm diameter, 2 cm long cylinder in the descending
thoracic aorta (Wahl RL et al., J Nucl Med 2009;50 Suppl 1:122S-150S). The descending aorta
runs left-anterolateral to the vertebral bodies from the arch to the diaphragm, just above the
liver dome: in each transaxial slice from 10 to 150 mm above the liver's top it is the
warmest point (smoothed SUV) of a box 5-45 mm left of the midline and 15-45 mm in front of
the spine, that is soft tissue on the CT (-100 to 150 HU; not lung, not bone) and at least
10 mm from any lesion. The
spine is found on the CT (bone near the midline, posterior), else its depth is that of the
kidneys (they flank it) and the midline the body's. The points of consecutive slices form
the vessel's track (slices whose warmest point is clearly cooler than the others' hold no
vessel); those within 10 mm of its median position are kept, and the VOI is a 1 cm diameter
disc at the track's median position over its lowest 8 cm
(PERCIST's 2 cm hold too few independent noise samples for a 10 % reference).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from nenscope.analysis._geometry import indices_to_lps, padded_box, patient_axes
from nenscope.analysis.physiology import ComponentInfo
from nenscope.analysis.reference import ReferenceRegion
from nenscope.imaging.geometry import fwhm_to_sigma

__all__ = ["find_aorta_blood_pool"]

_SEARCH_MM = (-20.0, 150.0)  # from just below the liver's top (the dome) upwards
_LEFT_MM = (5.0, 45.0)  # left of the midline
_FRONT_MM = (15.0, 45.0)  # in front of the spine's centre
_VOI_RADIUS_MM = 5.0  # PERCIST: 1 cm diameter
# PERCIST's cylinder is 2 cm long; nenscope averages up to 8 cm of the tracked vessel, whose
# mean is steadier (a 1.6 ml VOI holds a handful of independent noise samples)
_VOI_LENGTH_MM = 80.0
_TRACK_MM = 10.0
# the vessel is located on a smoothed copy (a 2-3 cm vessel keeps its centre as the maximum;
# voxel noise would pull a lightly smoothed maximum towards warm noise)
_LOCATE_FWHM_MM = 8.0
# lesions are kept this far from the VOI (a lung or mediastinal lesion beside the aorta)
_LESION_MARGIN_MM = 10.0


@dataclass(frozen=True)
class _Slab:
    """Body-relative patient coordinates (mm) of every voxel of the search slab."""

    x: NDArray
    y: NDArray
    z: NDArray


def _coords(shape: tuple[int, ...], affine: NDArray, centre_ijk: NDArray) -> _Slab:
    a = np.asarray(affine, dtype=float)[:3, :3]
    idx = [np.arange(n, dtype=float) - c for n, c in zip(shape, centre_ijk, strict=True)]
    grids = np.meshgrid(*idx, indexing="ij", sparse=True)
    mm = [sum(a[r, k] * grids[k] for k in range(3)) for r in range(3)]
    return _Slab(*mm)


def _spine_depth(
    ct: NDArray | None, slab: _Slab, in_band: NDArray[np.bool_], kidneys: list[ComponentInfo]
) -> tuple[float, float] | None:
    """(midline x, spine y) in body-relative mm: bone near the midline on the CT, else the
    kidneys' depth and the body's midline."""
    if ct is not None:
        bone = in_band & (ct > 200.0) & (np.abs(slab.x) < 40.0) & (slab.y > 0.0)
        if bone.sum() >= 20:
            xs = np.broadcast_to(slab.x, bone.shape)[bone]
            ys = np.broadcast_to(slab.y, bone.shape)[bone]
            return float(np.median(xs)), float(np.median(ys))
    if kidneys:
        return 0.0, float(np.mean([k.y_mm for k in kidneys]))
    return None


def find_aorta_blood_pool(
    suv: NDArray,
    affine: NDArray,
    spacing: tuple[float, float, float],
    body: NDArray[np.bool_],
    body_centroid_ijk: NDArray,
    liver_z_range_mm: tuple[float, float] | None,
    *,
    ct_hu: NDArray | None = None,
    kidneys: list[ComponentInfo] | None = None,
    lesions: NDArray | None = None,
) -> ReferenceRegion | None:
    """The blood-pool reference in the descending aorta, or ``None`` when it is not found.

    Args:
        suv: SUV array; affine: index -> LPS mm; spacing: voxel spacing (mm).
        body: body mask; body_centroid_ijk: the body centroid (index) of the priors.
        liver_z_range_mm: body-relative z extent of the liver (the search starts above it).
        ct_hu: CT (HU) on the same grid, or ``None``.
        kidneys: recognised kidneys (the spine's depth without a CT).
        lesions: the lesion labels (kept away from the VOI), or ``None``.
    """
    if liver_z_range_mm is None:
        return None
    slab = _coords(suv.shape, affine, np.asarray(body_centroid_ijk, dtype=float))
    above = slab.z - liver_z_range_mm[1]
    in_band = (above >= _SEARCH_MM[0]) & (above <= _SEARCH_MM[1]) & body
    frame = _spine_depth(ct_hu, slab, in_band, list(kidneys or []))
    if frame is None:
        return None
    mid_x, spine_y = frame
    box = (
        in_band
        & (slab.x - mid_x >= _LEFT_MM[0])
        & (slab.x - mid_x <= _LEFT_MM[1])
        & (spine_y - slab.y >= _FRONT_MM[0])
        & (spine_y - slab.y <= _FRONT_MM[1])
    )
    if ct_hu is not None:
        box &= (ct_hu > -100.0) & (ct_hu < 150.0)
    if lesions is not None:
        box &= ~_near_lesions(lesions, box, spacing)
    if box.sum() < 10:
        return None
    smooth = ndimage.gaussian_filter(
        np.asarray(suv, dtype=np.float32), fwhm_to_sigma(_LOCATE_FWHM_MM, spacing)
    )
    return _track_voi(suv, smooth, box, affine, spacing)


def _near_lesions(
    lesions: NDArray, box: NDArray[np.bool_], spacing: tuple[float, float, float]
) -> NDArray[np.bool_]:
    """Voxels within :data:`_LESION_MARGIN_MM` of a lesion voxel, computed in the bounding
    box of ``box`` grown by that distance (the distances there are the whole grid's: a lesion
    voxel farther away is farther than the margin)."""
    near = np.zeros(box.shape, dtype=bool)
    sub = padded_box(box, [int(np.ceil(_LESION_MARGIN_MM / s)) + 1 for s in spacing])
    if sub is None or not lesions[sub].any():
        return near
    near[sub] = ndimage.distance_transform_edt(lesions[sub] == 0, sampling=spacing) <= (
        _LESION_MARGIN_MM
    )
    return near


def _track_voi(
    suv: NDArray,
    smooth: NDArray,
    box: NDArray[np.bool_],
    affine: NDArray,
    spacing: tuple[float, float, float],
) -> ReferenceRegion | None:
    """The warmest point of each slice, the vessel's track, the cylinder VOI.

    Slices whose warmest point is cooler than 0.8 x the 90th percentile of those points hold
    no vessel (above the arch, or a cut-off field of view) and are left out; the track is
    the median position of the rest (within 10 mm of it), the VOI its lowest slices, just
    above the diaphragm.
    """
    z_ax = patient_axes(affine)[2]
    points, values = [], []
    for k in range(suv.shape[z_ax]):
        sl = [slice(None)] * 3
        sl[z_ax] = slice(k, k + 1)
        b = box[tuple(sl)]
        if b.sum() < 3:
            continue
        vals = np.where(b, smooth[tuple(sl)], -np.inf)
        flat = int(np.argmax(vals))
        ijk = np.array(np.unravel_index(flat, vals.shape), dtype=float)
        ijk[z_ax] = k
        points.append(ijk)
        values.append(float(vals.ravel()[flat]))
    if len(points) < 3:
        return None
    pts, v = np.array(points), np.array(values)
    pts = pts[v >= 0.8 * float(np.percentile(v, 90))]
    xyz = indices_to_lps(affine, pts)
    med = np.median(xyz, axis=0)
    keep = np.linalg.norm((xyz - med)[:, :2], axis=1) <= _TRACK_MM
    pts, xyz = pts[keep], xyz[keep]
    if pts.shape[0] < 2:
        return None
    # the descending aorta is nearly vertical: the disc sits at the track's median in-plane
    # position (the warmest point of a single slice follows the noise)
    centre = np.median(pts, axis=0)
    n_slices = max(1, int(round(_VOI_LENGTH_MM / spacing[z_ax])))
    ks = pts[np.argsort(xyz[:, 2])[:n_slices], z_ax]
    grid = np.indices(suv.shape, sparse=True)
    d2 = sum(
        ((grid[ax] - centre[ax]) * spacing[ax] / _VOI_RADIUS_MM) ** 2
        for ax in range(3)
        if ax != z_ax
    )
    voi = (d2 <= 1.0) & np.isin(grid[z_ax], ks.astype(int))
    vals = np.asarray(suv, dtype=np.float64)[voi]
    if vals.size == 0:
        return None
    centre = indices_to_lps(affine, np.array(ndimage.center_of_mass(voi))[None, :])[0]
    return ReferenceRegion(
        name="blood_pool",
        suv_mean=float(vals.mean()),
        suv_sd=float(vals.std(ddof=1)) if vals.size > 1 else 0.0,
        voi_volume_ml=float(vals.size) * float(np.prod(spacing)) / 1000.0,
        center_mm=tuple(float(c) for c in centre),  # type: ignore[arg-type]
        origin="automatic (descending aorta)",
    )
