"""One home for geometry and the small numeric helpers every room uses.

Volumes cross package borders as ``highdicom.Volume`` (affine: array index -> DICOM patient
LPS, mm). Inside a package, functions take ``array, spacing_mm`` (scikit-image style) or
``array, affine``. What ``highdicom.Volume`` already provides is used from it, not copied:

* voxel spacing of a volume: ``volume.spacing`` (:func:`spacing_from_affine` gives the same
  numbers, bit for bit, for a bare affine);
* SimpleITK images: ``volume.to_simpleitk()`` and ``hd.Volume.from_simpleitk`` (LPS both);
  resampling through a SimpleITK transform: :func:`nenscope.imaging.registration.resample_with`;
* reorientation: ``volume.to_patient_orientation``.

Here live the pieces highdicom lacks: index <-> LPS mapping of bare arrays, the patient axis of
each array axis, resampling onto another grid in one SciPy pass (:func:`resample_array` for
arrays, :func:`resample_to` for volumes), exact placement of a crop or flip of a grid
(:func:`place_on_grid`), voxelised spheres (:func:`sphere_weights`,
:func:`sphere_fractions`, :func:`ball_mask`), and the Gaussian-FWHM and robust-SD factors.
The array functions have the names and semantics of ``nenscope.analysis._geometry``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import highdicom as hd
import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray
from scipy import ndimage

from nenscope.errors import NenscopeError
from nenscope.parallel import axis0_blocks, thread_map

# below this many target voxels one call is quicker than starting threads
_THREADED_VOXELS = 1_000_000

__all__ = [
    "FWHM_PER_SIGMA",
    "GAUSSIAN_FWHM_PER_SIGMA",
    "MAD_TO_SD",
    "SIGMA_PER_FWHM",
    "ball_mask",
    "fwhm_to_sigma",
    "indices_to_lps",
    "labels_on_grid",
    "lps_to_indices",
    "patient_axes",
    "place_on_grid",
    "resample_array",
    "resample_to",
    "robust_sd",
    "spacing_from_affine",
    "sphere_fractions",
    "sphere_weights",
]

#: FWHM of a Gaussian in units of its standard deviation, 2 sqrt(2 ln 2) = 2.35482; kept at
#: the 2.3548 every analysis stage was tuned and validated with (8e-6 relative below it).
FWHM_PER_SIGMA = 2.3548
#: The exact factor 2 sqrt(2 ln 2), used by the scanner simulators, the sphere recovery model
#: and the geometric transfer matrix.
GAUSSIAN_FWHM_PER_SIGMA = 2.0 * math.sqrt(2.0 * math.log(2.0))
#: Its reciprocal, 1 / (2 sqrt(2 ln 2)) = 0.424661 (sigma = FWHM x this; the simulators'
#: form, kept so that simulated images stay bit for bit the same).
SIGMA_PER_FWHM = 1.0 / GAUSSIAN_FWHM_PER_SIGMA
#: Consistency factor of the median absolute deviation for a normal distribution,
#: 1 / Phi^-1(3/4) (Rousseeuw & Croux, JASA 1993;88:1273).
MAD_TO_SD = 1.4826


def fwhm_to_sigma(
    fwhm_mm: float, spacing_mm: Iterable[float] | None = None, *, exact: bool = False
) -> float | list[float]:
    """Gaussian sigma for a FWHM: in mm, or per axis in voxels when ``spacing_mm`` is given.

    ``exact`` divides by :data:`GAUSSIAN_FWHM_PER_SIGMA` instead of the validated
    :data:`FWHM_PER_SIGMA` (2.3548).

    Example: ``fwhm_to_sigma(8.0, (4.0, 4.0, 2.0))`` is ``[0.849, 0.849, 1.699]`` voxels.
    """
    per_sigma = GAUSSIAN_FWHM_PER_SIGMA if exact else FWHM_PER_SIGMA
    if spacing_mm is None:
        return fwhm_mm / per_sigma
    return [fwhm_mm / per_sigma / s for s in spacing_mm]


def robust_sd(values: ArrayLike) -> float:
    """Robust standard deviation: ``MAD_TO_SD`` x the median absolute deviation from the median."""
    v = np.asarray(values)
    return float(MAD_TO_SD * np.median(np.abs(v - np.median(v))))


def spacing_from_affine(affine: ArrayLike) -> tuple[float, float, float]:
    """Voxel spacing (mm) along array axes 0, 1, 2 from a 4x4 index -> LPS affine.

    The column norms of the affine's 3x3 part: the same numbers as ``hd.Volume.spacing``.
    """
    a = np.asarray(affine, dtype=float)
    return tuple(float(v) for v in np.linalg.norm(a[:3, :3], axis=0))  # type: ignore[return-value]


def indices_to_lps(affine: ArrayLike, ijk: ArrayLike) -> NDArray[np.float64]:
    """Map (N, 3) array indices (float allowed) to (N, 3) patient LPS coordinates in mm."""
    ijk = np.atleast_2d(np.asarray(ijk, dtype=float))
    a = np.asarray(affine, dtype=float)
    return ijk @ a[:3, :3].T + a[:3, 3]


def lps_to_indices(affine: ArrayLike, xyz: ArrayLike) -> NDArray[np.float64]:
    """Map (N, 3) patient LPS coordinates (mm) to (N, 3) continuous array indices."""
    inv = np.linalg.inv(np.asarray(affine, dtype=float))
    return np.atleast_2d(np.asarray(xyz, dtype=float)) @ inv[:3, :3].T + inv[:3, 3]


def patient_axes(affine: ArrayLike) -> tuple[int, int, int]:
    """Array axis that runs mostly along patient x (L), y (P) and z (S) respectively."""
    d = np.abs(np.asarray(affine, dtype=float)[:3, :3])
    d = d / np.linalg.norm(d, axis=0)
    order = []
    used: set[int] = set()
    for row in range(3):  # LPS component x, y, z -> the array axis with the largest share
        ranked = [int(a) for a in np.argsort(-d[row]) if int(a) not in used]
        order.append(ranked[0])
        used.add(ranked[0])
    return order[0], order[1], order[2]


def resample_array(
    array: NDArray,
    source_affine: ArrayLike,
    target_affine: ArrayLike,
    target_shape: tuple[int, ...],
    *,
    order: int = 1,
    cval: float = 0.0,
    mode: str = "constant",
    prefilter: bool = False,
    output: DTypeLike | None = None,
) -> NDArray:
    """Resample ``array`` (on ``source_affine``) onto a target grid in one pass.

    The target index -> source index map is ``inv(A_source) @ A_target``; SciPy's
    ``affine_transform`` interpolates (``order`` 0 for masks/labels, 1 for images). The edges
    follow ``mode``: ``"constant"`` (default) gives ``cval`` beyond the outer voxel centres,
    ``"grid-constant"`` lets nearest-neighbour sampling cover each source voxel's full extent.
    ``output`` is the result dtype (default: the input's). On the same grid (affines equal
    to 1e-4, same shape) ``array`` itself is returned.
    """
    src = np.asarray(source_affine, dtype=float)
    tgt = np.asarray(target_affine, dtype=float)
    if np.allclose(src, tgt, atol=1e-4) and tuple(array.shape) == tuple(target_shape):
        return array
    m = np.linalg.inv(src) @ tgt
    linear = m[:3, :3]
    step0 = linear[:, 0].copy()  # source index change per target slice
    if order > 0 and not np.any(linear - np.diag(np.diag(linear))):
        # axis-aligned grids (a CT and its PET): SciPy's per-axis path, half the time of the
        # general matrix for the same trilinear weights
        linear = np.diag(linear)
    shape = tuple(target_shape)
    out = np.empty(shape, dtype=output if output is not None else array.dtype)

    def block(rows: slice) -> None:
        # blocks of target slices on threads (SciPy releases the GIL while it interpolates)
        ndimage.affine_transform(
            array,
            linear,
            offset=m[:3, 3] + step0 * rows.start,
            output_shape=out[rows].shape,
            output=out[rows],
            order=order,
            mode=mode,
            cval=cval,
            prefilter=prefilter,
        )

    threaded = out.size >= _THREADED_VOXELS and not (prefilter and order > 1)
    thread_map(block, axis0_blocks(shape[0]) if threaded else [slice(0, shape[0])])
    return out


def resample_to(
    volume: hd.Volume, reference: hd.Volume, order: int = 1, *, fill_value: float = 0.0
) -> hd.Volume:
    """Resample ``volume`` onto the grid of ``reference`` (both in PATIENT coordinates).

    Each reference voxel centre is mapped through ``inv(volume.affine) @ reference.affine``
    to a continuous index of ``volume`` and interpolated there (:func:`resample_array`, one
    pass over the output; no intermediate grid). Nearest-neighbour sampling covers each
    source voxel's full extent (a point up to half a voxel outside the outer centres still
    takes the edge value); higher orders use ``fill_value`` beyond the outer voxel centres.

    Args:
        volume: the volume to resample.
        reference: the volume whose grid (shape, affine, frame of reference) is wanted.
        order: spline order: 0 nearest neighbour (labels, masks: dtype kept), 1 trilinear
            (default), 3 cubic.
        fill_value: value outside ``volume`` (e.g. -1000 for CT in HU).

    Returns:
        A ``highdicom.Volume`` on ``reference``'s grid; float32 unless ``order`` is 0 (or the
        grids are the same: then a copy of ``volume``'s array).

    Raises:
        NenscopeError: the two volumes lie in different frames of reference (known UIDs that
            differ), or ``order`` is out of range.
    """
    if order not in (0, 1, 2, 3, 4, 5):
        raise NenscopeError(f"interpolation order must be 0..5, got {order}")
    fa, fb = volume.frame_of_reference_uid, reference.frame_of_reference_uid
    if fa and fb and fa != fb:
        raise NenscopeError(
            f"volumes are in different frames of reference ({fa} vs {fb}): they cannot "
            "be resampled onto each other without a registration"
        )
    shape = reference.spatial_shape
    arr = volume.array
    if volume.spatial_shape == shape and np.allclose(volume.affine, reference.affine, atol=1e-4):
        out = np.array(arr, copy=True)
    elif order == 0:
        out = resample_array(
            arr,
            volume.affine,
            reference.affine,
            shape,
            order=0,
            cval=fill_value,
            mode="grid-constant",
        )
    else:
        src = arr if arr.dtype in (np.float32, np.float64) else arr.astype(np.float32)
        out = resample_array(
            src,
            volume.affine,
            reference.affine,
            shape,
            order=order,
            cval=fill_value,
            prefilter=order > 1,
            output=np.float32,
        )
    return hd.Volume(
        out,
        reference.affine.copy(),
        "PATIENT",
        frame_of_reference_uid=reference.frame_of_reference_uid or volume.frame_of_reference_uid,
    )


#: Largest offset (in voxels), at any corner of a volume, between its voxel centres and those
#: of another grid that still counts as the same lattice: the 5 % the series loader allows
#: slices off a regular grid (:data:`nenscope.imaging.series.REGULAR_TOLERANCE`).
SAME_LATTICE_TOLERANCE_VOXEL = 0.05


def place_on_grid(
    volume: hd.Volume,
    reference: hd.Volume,
    *,
    atol_voxel: float = SAME_LATTICE_TOLERANCE_VOXEL,
) -> hd.Volume | None:
    """``volume`` on ``reference``'s grid without interpolation, when its voxel centres are
    voxel centres of ``reference`` (the same grid, or a crop, flip or axis permutation of it:
    ``inv(reference.affine) @ volume.affine`` is a signed permutation with an integer shift,
    to ``atol_voxel`` at every corner of ``volume``); ``None`` otherwise. Voxels of
    ``reference`` outside ``volume`` are 0.

    Raises:
        NenscopeError: a non-zero voxel of ``volume`` lies outside ``reference``.
    """
    m = np.linalg.inv(reference.affine) @ volume.affine
    rot = np.round(m[:3, :3]).astype(int)
    if not (np.all(np.abs(rot).sum(axis=0) == 1) and np.all(np.abs(rot).sum(axis=1) == 1)):
        return None
    extent = np.array(volume.spatial_shape) - 1
    corners = np.array(np.meshgrid(*[[0, e] for e in extent], indexing="ij")).reshape(3, -1)
    mapped = m[:3, :3] @ corners + m[:3, 3:4]
    if np.abs(mapped - (rot @ corners + np.round(m[:3, 3:4]))).max() > atol_voxel:
        return None
    shift = m[:3, 3]
    axes = [int(np.flatnonzero(rot[a])[0]) for a in range(3)]  # volume axis of each ref axis
    arr = np.transpose(np.asarray(volume.array), axes)
    offset = np.round(shift).astype(int)
    for a in range(3):
        if rot[a, axes[a]] < 0:  # runs against the reference axis: flip, move the origin
            arr = np.flip(arr, axis=a)
            offset[a] -= arr.shape[a] - 1
    out = np.zeros(reference.spatial_shape, dtype=arr.dtype)
    dst, src = [], []
    for a in range(3):
        lo, hi = max(offset[a], 0), min(offset[a] + arr.shape[a], out.shape[a])
        if hi <= lo:
            lo = hi = 0
        dst.append(slice(lo, hi))
        src.append(slice(lo - offset[a], hi - offset[a]))
    inside = np.zeros(arr.shape, dtype=bool)
    inside[tuple(src)] = True
    if np.any(arr[~inside]):
        raise NenscopeError(
            "the mask reaches beyond the image: non-zero voxels lie outside its field of view"
        )
    out[tuple(dst)] = arr[tuple(src)]
    return hd.Volume(
        out,
        reference.affine.copy(),
        "PATIENT",
        frame_of_reference_uid=reference.frame_of_reference_uid or volume.frame_of_reference_uid,
    )


def labels_on_grid(labels: hd.Volume, reference: hd.Volume, what: str) -> hd.Volume:
    """``labels`` on ``reference``'s grid when the grids are the same or map exactly (a crop,
    flip or axis permutation: :func:`place_on_grid`).

    Raises:
        NenscopeError: any other grid (a mask is never resampled silently: a resampled mask
            measures other voxels), or a different frame of reference.
    """
    fa, fb = labels.frame_of_reference_uid, reference.frame_of_reference_uid
    if fa and fb and fa != fb:
        raise NenscopeError(
            f"{what}: the mask is in another frame of reference ({fa}) than the image ({fb})"
        )
    placed = place_on_grid(labels, reference)
    if placed is None:
        shown = "; ".join(
            f"{name} {'×'.join(map(str, v.spatial_shape))} voxels of "
            f"{'×'.join(f'{x:.4g}' for x in v.spacing)} mm"
            for name, v in (("mask", labels), ("image", reference))
        )
        raise NenscopeError(
            f"{what}: the mask is not on the image grid ({shown}) nor on a crop or flip of it; "
            "resample it onto the image (nearest neighbour) and check it before use"
        )
    return placed


def sphere_weights(
    radius_mm: float, spacing_mm: tuple[float, float, float], *, supersample: int = 9
) -> NDArray[np.float64]:
    """Partial-voxel weights of a sphere centred on a voxel centre, normalised to sum 1.

    Each weight is the fraction of the voxel inside the sphere, estimated on a regular
    ``supersample``^3 sub-grid (error of the total volume < 1 % for radius >= 1.5 voxels).
    The unnormalised sum times the voxel volume is the sphere volume, e.g. 998 mm^3 for the
    6.2 mm radius of the SUVpeak sphere (Wahl et al., J Nucl Med 2009;50:122S, PERCIST 1.0).
    """
    sp = np.asarray(spacing_mm, dtype=float)
    half = np.ceil(radius_mm / sp - 0.5).astype(int) + 1
    sub = (np.arange(supersample) + 0.5) / supersample - 0.5  # sub-voxel offsets, in voxels
    axes = []
    for a in range(3):
        centres = np.arange(-half[a], half[a] + 1)
        # (n_voxels, supersample) positions in mm along this axis
        axes.append(((centres[:, None] + sub[None, :]) * sp[a]) ** 2)
    # squared distance over the 6-D grid (vox_i, sub_i, vox_j, sub_j, vox_k, sub_k)
    d2 = (
        axes[0][:, :, None, None, None, None]
        + axes[1][None, None, :, :, None, None]
        + axes[2][None, None, None, None, :, :]
    )
    inside = (d2 <= radius_mm**2).mean(axis=(1, 3, 5))
    return inside / inside.sum()


def sphere_fractions(
    radius_mm: float, spacing_mm: tuple[float, float, float], *, supersample: int = 9
) -> NDArray[np.float64]:
    """Unnormalised partial-voxel fractions; ``sum * voxel volume`` = sphere volume (mm^3)."""
    w = sphere_weights(radius_mm, spacing_mm, supersample=supersample)
    c = tuple(n // 2 for n in w.shape)
    # the centre voxel lies wholly inside whenever radius >= half its diagonal
    return w / w[c]


def ball_mask(radius_mm: float, spacing_mm: tuple[float, float, float]) -> NDArray[np.bool_]:
    """Boolean ball of voxel centres within ``radius_mm`` (structuring element)."""
    sp = np.asarray(spacing_mm, dtype=float)
    half = np.floor(radius_mm / sp).astype(int)
    grids = np.ogrid[tuple(slice(-h, h + 1) for h in half)]
    d2 = sum((g * s) ** 2 for g, s in zip(grids, sp, strict=True))
    return d2 <= radius_mm**2
