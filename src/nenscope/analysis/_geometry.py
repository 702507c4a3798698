"""Geometry helpers shared by the analysis modules (array + affine, LPS millimetres).

The analysis functions work on plain arrays plus ``spacing_mm`` inside the package; the
``highdicom.Volume`` affine (array index -> DICOM patient LPS mm) is what crosses the border.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from nenscope.imaging.geometry import MAD_TO_SD

__all__ = [
    "spacing_from_affine",
    "indices_to_lps",
    "resample_array",
    "patient_axes",
    "sphere_weights",
    "sphere_fractions",
    "ball_mask",
    "padded_box",
    "median_robust_sd",
]


def spacing_from_affine(affine: NDArray) -> tuple[float, float, float]:
    """Voxel spacing (mm) along array axes 0, 1, 2 from a 4x4 index->LPS affine."""
    a = np.asarray(affine, dtype=float)
    return tuple(float(v) for v in np.linalg.norm(a[:3, :3], axis=0))  # type: ignore[return-value]


def indices_to_lps(affine: NDArray, ijk: NDArray) -> NDArray:
    """Map (N, 3) array indices (float allowed) to (N, 3) patient LPS coordinates in mm."""
    ijk = np.atleast_2d(np.asarray(ijk, dtype=float))
    a = np.asarray(affine, dtype=float)
    return ijk @ a[:3, :3].T + a[:3, 3]


def patient_axes(affine: NDArray) -> tuple[int, int, int]:
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
    source_affine: NDArray,
    target_affine: NDArray,
    target_shape: tuple[int, ...],
    *,
    order: int = 1,
    cval: float = 0.0,
) -> NDArray:
    """Resample ``array`` (on ``source_affine``) onto a target grid in one pass.

    The target index -> source index map is ``inv(A_source) @ A_target``; SciPy's
    ``affine_transform`` does the interpolation (``order`` 0 for masks/labels, 1 for images).
    """
    src = np.asarray(source_affine, dtype=float)
    tgt = np.asarray(target_affine, dtype=float)
    if np.allclose(src, tgt, atol=1e-4) and tuple(array.shape) == tuple(target_shape):
        return array
    m = np.linalg.inv(src) @ tgt
    return ndimage.affine_transform(
        array,
        m[:3, :3],
        offset=m[:3, 3],
        output_shape=tuple(target_shape),
        order=order,
        mode="constant",
        cval=cval,
        prefilter=False,
    )


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


def padded_box(mask: NDArray[np.bool_], pad_voxels: int | list[int]) -> tuple[slice, ...] | None:
    """Bounding box of ``mask`` grown by ``pad_voxels`` per axis (clipped), or ``None``."""
    objs = ndimage.find_objects(mask.astype(np.uint8))
    if not objs or objs[0] is None:
        return None
    pads = [pad_voxels] * mask.ndim if isinstance(pad_voxels, int) else pad_voxels
    return tuple(
        slice(max(0, b.start - p), min(d, b.stop + p))
        for b, p, d in zip(objs[0], pads, mask.shape, strict=True)
    )


def median_robust_sd(values: NDArray) -> tuple[float, float]:
    """Median and robust SD (``MAD_TO_SD`` x the median absolute deviation) as floats.

    The product is taken in float64 (:func:`nenscope.imaging.geometry.robust_sd` keeps the
    precision of a float32 input): the organ thresholds were tuned and recorded this way.
    """
    med = float(np.median(values))
    return med, MAD_TO_SD * float(np.median(np.abs(values - med)))
