"""Put the prior study on the current one: CT to CT, rigid, then B-spline where rigid is poor.

Both CTs are first resampled onto their own emission grid (the same session's PET/CT shares
one frame of reference), so the registration runs on the coarse PET grid: lesions are
matched at emission resolution, and a whole-body CT at full resolution would cost far more
than the rest of the comparison.

1. Rigid: :func:`nenscope.imaging.registration.register` (Euler 3-D, Mattes mutual
   information, multi-resolution) of the prior CT onto the current CT.
2. Fit: the local normalised cross-correlation of the two CTs after the rigid step
   (:func:`ct_similarity`: HU clipped to [-400, 400], smoothed, NCC in 64 mm blocks of the
   body that carry structure, 10th percentile). Where it is below ``ncc_threshold`` (default
   0.95) the rigid fit is poor and a B-spline transform (control points every ~100 mm, mean
   squares of the clipped HU, L-BFGS-B, half the emission resolution) is added on top of
   the rigid one; it is kept only if it raises the similarity. The threshold was set on
   analytic phantoms (``tests/test_followup_registration.py``): a rigid motion leaves 0.97,
   the lower half of the trunk moved 12 mm against the upper half 0.94; the virtual patient
   pairs of the validation read 0.945-0.965 after the rigid step (their CT hardly shows the
   breathing shift of the liver, whose HU differ from the neighbouring soft tissue by ~15 HU;
   the spread comes from the voxel-sized steps of the moved phantom's organ edges).

Without a CT on either side the emission volumes (SUV) are registered rigidly instead. Two
volumes in the same frame of reference (same FrameOfReferenceUID) need no registration.
"""

from __future__ import annotations

from dataclasses import dataclass

import highdicom as hd
import numpy as np
import SimpleITK as sitk
from numpy.typing import NDArray
from scipy import ndimage

from nenscope.errors import NenscopeError
from nenscope.imaging import resample_to
from nenscope.imaging.registration import register, resample_with

__all__ = ["NCC_THRESHOLD", "PriorToCurrent", "ct_similarity", "register_prior"]

#: NCC below which the rigid fit counts as poor and a B-spline step is tried.
NCC_THRESHOLD = 0.95
_HU_WINDOW = (-400.0, 400.0)
_BODY_HU = -500.0
_LIFT_HU = 3000.0
_BLOCK_MM = 64.0
_MIN_BLOCK_SD_HU = 40.0
_BSPLINE_SPACING_MM = 100.0


@dataclass
class PriorToCurrent:
    """How prior-study points map onto the current study.

    Attributes:
        method: ``"same frame"``, ``"rigid (CT)"``, ``"rigid + B-spline (CT)"`` or
            ``"rigid (PET)"``.
        transform: SimpleITK transform taking a current physical point (LPS mm) to the prior
            one (``None``: identity).
        ncc_rigid: CT similarity after the rigid step (``None`` without CTs).
        ncc_final: CT similarity of the transform kept.
    """

    method: str
    transform: sitk.Transform | None = None
    ncc_rigid: float | None = None
    ncc_final: float | None = None

    def current_to_prior(self, points_mm) -> NDArray[np.float64]:
        """Current LPS points (N, 3) -> the same anatomy in prior LPS coordinates."""
        pts = np.atleast_2d(np.asarray(points_mm, dtype=float))
        if self.transform is None:
            return pts.copy()
        return np.array([self.transform.TransformPoint(tuple(map(float, p))) for p in pts])

    def prior_on_current(self, prior: hd.Volume, current: hd.Volume, *, order: int) -> NDArray:
        """``prior`` resampled onto ``current``'s grid (order 0: labels; outside: 0)."""
        if self.transform is None:
            return np.asarray(resample_to(prior, current, order).array)
        return np.asarray(resample_with(prior, current, self.transform, order=order).array)

    def to_dict(self) -> dict:
        return {
            "method": self.method,
            "ncc_rigid": None if self.ncc_rigid is None else round(self.ncc_rigid, 4),
            "ncc_final": None if self.ncc_final is None else round(self.ncc_final, 4),
            "ncc_threshold": NCC_THRESHOLD,
        }


def _clipped(volume: hd.Volume) -> sitk.Image:
    arr = np.clip(np.asarray(volume.array, dtype=np.float32), *_HU_WINDOW)
    return sitk.Cast(volume.with_array(arr).to_simpleitk(), sitk.sitkFloat32)


def _block_sums(x: NDArray, block: tuple[int, int, int]) -> NDArray:
    """Sum of ``x`` over non-overlapping blocks (edges zero-padded)."""
    pad = [(0, (-n) % b) for n, b in zip(x.shape, block, strict=True)]
    x = np.pad(x, pad)
    s = x.shape
    return x.reshape(
        s[0] // block[0], block[0], s[1] // block[1], block[1], s[2] // block[2], block[2]
    ).sum(axis=(1, 3, 5))


def ct_similarity(fixed_ct: hd.Volume, moving_ct: hd.Volume, transform: sitk.Transform) -> float:
    """Local fit of ``moving_ct`` mapped through ``transform`` onto ``fixed_ct``.

    Both CTs are clipped to [-400, 400] HU and smoothed (Gaussian, sigma 1 voxel); the
    normalised cross-correlation (NCC) is computed in 64 mm blocks that lie mostly in the
    fixed body (HU > -500) and in the moved field of view and carry structure (SD >= 40 HU);
    the result is the 10th percentile of the block NCCs, so that a region left misaligned
    (a liver displaced by breathing) shows although the rest of the body fits.
    """
    fixed = np.clip(np.asarray(fixed_ct.array, dtype=np.float32), *_HU_WINDOW)
    # offset so that every moved voxel inside the prior field of view is > 0 (outside: 0)
    lifted = moving_ct.with_array(np.asarray(moving_ct.array, dtype=np.float32) + _LIFT_HU)
    moved = np.asarray(resample_with(lifted, fixed_ct, transform, order=1).array)
    mask = ((np.asarray(fixed_ct.array) > _BODY_HU) & (moved > _LIFT_HU / 2.0)).astype(np.float32)
    a = ndimage.gaussian_filter(fixed, 1.0) * mask
    b = ndimage.gaussian_filter(np.clip(moved - _LIFT_HU, *_HU_WINDOW), 1.0) * mask
    spacing = np.linalg.norm(fixed_ct.affine[:3, :3], axis=0)
    block = tuple(max(2, int(round(_BLOCK_MM / s))) for s in spacing)
    n = _block_sums(mask, block)
    sa, sb = _block_sums(a, block), _block_sums(b, block)
    saa, sbb, sab = _block_sums(a * a, block), _block_sums(b * b, block), _block_sums(a * b, block)
    with np.errstate(invalid="ignore", divide="ignore"):
        var_a = saa / n - (sa / n) ** 2
        var_b = sbb / n - (sb / n) ** 2
        ncc = (sab / n - sa * sb / n**2) / np.sqrt(var_a * var_b)
    use = (n >= 0.5 * np.prod(block)) & (var_a >= _MIN_BLOCK_SD_HU**2) & (var_b > 0)
    if use.sum() < 4:
        raise NenscopeError("the prior and current CTs do not overlap after registration")
    return float(np.percentile(ncc[use], 10))


def _body_crop(volume: hd.Volume, margin_mm: float = 20.0) -> hd.Volume:
    """``volume`` cropped to the box of its body voxels (HU > -500) plus a margin."""
    body = np.asarray(volume.array) > _BODY_HU
    if not body.any():
        return volume
    spacing = np.linalg.norm(volume.affine[:3, :3], axis=0)
    idx = np.argwhere(body)
    pad = np.ceil(margin_mm / spacing).astype(int)
    lo = np.maximum(idx.min(axis=0) - pad, 0)
    hi = np.minimum(idx.max(axis=0) + pad + 1, volume.spatial_shape)
    affine = volume.affine.copy()
    affine[:3, 3] = volume.affine[:3, :3] @ lo + volume.affine[:3, 3]
    arr = np.asarray(volume.array)[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]]
    return hd.Volume(arr, affine, "PATIENT", frame_of_reference_uid=volume.frame_of_reference_uid)


def _bspline(
    fixed_ct: hd.Volume, moving_ct: hd.Volume, rigid: sitk.Transform
) -> sitk.Transform | None:
    """B-spline refinement on top of ``rigid`` (None when the optimiser fails).

    Mean squares of the clipped HU on the fixed body's box, one level at half the emission
    resolution, 10 % of the voxels sampled (fixed seed), control points every ~100 mm, at
    most 20 L-BFGS-B iterations (43 s for a whole body at 4 mm on the shared two-core test
    machine under load).
    """
    fixed, moving = _clipped(_body_crop(fixed_ct)), _clipped(moving_ct)
    extent = [sz * sp for sz, sp in zip(fixed.GetSize(), fixed.GetSpacing(), strict=True)]
    mesh = [max(1, int(round(e / _BSPLINE_SPACING_MM))) for e in extent]
    bspline = sitk.BSplineTransformInitializer(fixed, mesh, order=3)
    reg = sitk.ImageRegistrationMethod()
    reg.SetMetricAsMeanSquares()
    reg.SetMetricSamplingStrategy(reg.RANDOM)
    reg.SetMetricSamplingPercentage(0.1, 1234)
    reg.SetInterpolator(sitk.sitkLinear)
    reg.SetOptimizerAsLBFGSB(
        gradientConvergenceTolerance=1e-5,
        numberOfIterations=20,
        maximumNumberOfCorrections=5,
        maximumNumberOfFunctionEvaluations=40,
    )
    reg.SetShrinkFactorsPerLevel([2])
    reg.SetSmoothingSigmasPerLevel([1.0])
    reg.SetMovingInitialTransform(rigid)
    reg.SetInitialTransform(bspline, inPlace=True)
    try:
        reg.Execute(fixed, moving)
    except RuntimeError:
        return None
    # the B-spline acts first (current point -> rigidly aligned frame), then the rigid part
    return sitk.CompositeTransform([rigid, bspline])


def register_prior(
    current_emission: hd.Volume,
    prior_emission: hd.Volume,
    *,
    current_ct: hd.Volume | None,
    prior_ct: hd.Volume | None,
    ncc_threshold: float = NCC_THRESHOLD,
    deformable: bool = True,
) -> PriorToCurrent:
    """Register the prior study onto the current one (see the module docstring).

    Args:
        current_emission, prior_emission: the emission volumes (their grids are used).
        current_ct, prior_ct: the studies' CTs (any grid, same frame as their emission).
        ncc_threshold: CT similarity below which a B-spline step is tried.
        deformable: allow the B-spline step.

    Raises:
        NenscopeError: the registration failed or the studies do not overlap.
    """
    fa, fb = current_emission.frame_of_reference_uid, prior_emission.frame_of_reference_uid
    if fa and fa == fb:
        return PriorToCurrent(method="same frame")
    if current_ct is None or prior_ct is None:
        rigid, _ = register(current_emission, prior_emission, what="prior PET")
        return PriorToCurrent(method="rigid (PET)", transform=rigid)
    fixed = resample_to(current_ct, current_emission, 1, fill_value=-1000.0)
    moving = resample_to(prior_ct, prior_emission, 1, fill_value=-1000.0)
    rigid, _ = register(fixed, moving, what="prior CT")
    ncc_rigid = ct_similarity(fixed, moving, rigid)
    result = PriorToCurrent("rigid (CT)", rigid, ncc_rigid, ncc_rigid)
    if deformable and ncc_rigid < ncc_threshold:
        warped = _bspline(fixed, moving, rigid)
        if warped is not None:
            ncc = ct_similarity(fixed, moving, warped)
            if ncc > ncc_rigid:
                result = PriorToCurrent("rigid + B-spline (CT)", warped, ncc_rigid, ncc)
    return result
