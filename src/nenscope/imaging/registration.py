"""Rigid (or affine) registration of two volumes with SimpleITK, shared by the FDG-to-SSTR
lesion matching (analysis) and the time-point alignment of PRRT dosimetry.

Mattes mutual information on a random sample of at least 100 000 voxels (fixed seed:
reproducible), regular-step gradient descent, a multi-resolution pyramid (shrink 8, 4, 2, 1)
whose coarsest levels keep >= 16 voxels per axis and which stops at half resolution for volumes
above 4 million voxels: PET/SPECT lesion matching needs about one emission voxel of accuracy,
and a full-resolution level on a whole-body CT would cost more than the rest of the analysis.

Optionally both volumes are first cropped to what lies above a threshold (the body on a CT:
``crop_above=-500`` HU, with a 20 mm margin) and block-averaged to a working grid of about
``voxel_mm`` (``SimpleITK.BinShrink``: integer factors per axis, the physical extent kept); the
pyramid then runs on that grid. On a whole-body CT pair at 4 mm this is one to two orders of
magnitude faster than the full grid, for a lesion-matching accuracy still well under one PET
voxel (docs/performance.md).
"""

from __future__ import annotations

import highdicom as hd
import numpy as np
import SimpleITK as sitk

from nenscope.errors import NenscopeError

__all__ = ["register", "resample_with", "working_image"]


#: margin kept around the thresholded region when cropping (mm)
CROP_MARGIN_MM = 20.0


def _image(volume: hd.Volume) -> sitk.Image:
    return sitk.Cast(volume.to_simpleitk(), sitk.sitkFloat32)


def _crop(volume: hd.Volume, above: float) -> hd.Volume:
    """``volume`` cropped to the bounding box of its voxels above ``above`` plus
    :data:`CROP_MARGIN_MM` (the whole volume when no voxel is above)."""
    inside = np.asarray(volume.array) > above
    spacing = volume.spacing
    box = []
    for axis in range(3):
        hit = np.flatnonzero(inside.any(axis=tuple(a for a in range(3) if a != axis)))
        if hit.size == 0:
            return volume
        pad = int(np.ceil(CROP_MARGIN_MM / spacing[axis]))
        box.append(slice(max(0, hit[0] - pad), min(inside.shape[axis], hit[-1] + pad + 1)))
    return volume[tuple(box)]


def working_image(
    volume: hd.Volume, *, voxel_mm: float | None = None, crop_above: float | None = None
) -> sitk.Image:
    """``volume`` as a float32 SimpleITK image, cropped to its voxels above ``crop_above``
    (plus :data:`CROP_MARGIN_MM`) and block-averaged by integer factors per axis to voxels of
    about ``voxel_mm`` (None: neither)."""
    if crop_above is not None:
        volume = _crop(volume, crop_above)
    image = _image(volume)
    if voxel_mm is not None:
        factors = [max(1, int(round(voxel_mm / s))) for s in image.GetSpacing()]
        if max(factors) > 1:
            image = sitk.BinShrink(image, factors)
    return image


def _pyramid(size: tuple[int, ...]) -> tuple[int, ...]:
    finest = 2 if int(np.prod(size)) > 4_000_000 else 1
    levels = tuple(f for f in (8, 4, 2, 1) if f >= finest and min(size) / f >= 16)
    return levels or (1,)


def register(
    fixed: hd.Volume,
    moving: hd.Volume,
    *,
    affine: bool = False,
    sampling_fraction: float = 0.05,
    shrink_factors: tuple[int, ...] | None = None,
    iterations: int = 150,
    seed: int = 1234,
    voxel_mm: float | None = None,
    crop_above: float | None = None,
    finest_share: float = 1.0,
    what: str = "moving volume",
) -> tuple[sitk.Transform, float]:
    """Transform mapping ``fixed`` physical points to ``moving`` ones, and the final metric.

    Parameters
    ----------
    fixed, moving : volumes in PATIENT coordinates (any grids; CTs register best).
    affine : 12-parameter affine instead of rigid (6-parameter Euler) motion.
    sampling_fraction : smallest share of fixed voxels sampled for the metric (raised so
        that at least 100 000 voxels are sampled).
    shrink_factors : pyramid levels (smoothing sigma = shrink / 2 voxels); default by size.
    iterations : maximum optimizer iterations per level.
    voxel_mm : register on a working grid of about this voxel size (mm), block-averaged from
        each volume's own grid (:func:`working_image`); None: each volume's own grid.
    crop_above : crop each volume to its voxels above this value first (e.g. -500 HU: the
        body on a CT); None: no cropping. The geometric centres of the cropped volumes then
        initialise the translation.
    finest_share : share of the sampled voxels kept at the finest pyramid level, where each
        sample costs most (0.25: a quarter; the coarser levels keep theirs; see
        :data:`nenscope.analysis.matching.FDG_FINEST_SHARE`).
    what : name of ``moving`` for the error message.

    Raises
    ------
    NenscopeError : the optimizer failed (e.g. no overlap between the volumes).
    """
    f = working_image(fixed, voxel_mm=voxel_mm, crop_above=crop_above)
    m = working_image(moving, voxel_mm=voxel_mm, crop_above=crop_above)
    n_voxels = int(np.prod(f.GetSize()))
    if shrink_factors is None:
        shrink_factors = _pyramid(f.GetSize())
    sampling = float(np.clip(100_000 / max(n_voxels, 1), sampling_fraction, 1.0))
    init = sitk.CenteredTransformInitializer(
        f,
        m,
        sitk.AffineTransform(3) if affine else sitk.Euler3DTransform(),
        sitk.CenteredTransformInitializerFilter.GEOMETRY,
    )
    reg = sitk.ImageRegistrationMethod()
    reg.SetMetricAsMattesMutualInformation(numberOfHistogramBins=48)
    reg.SetMetricSamplingStrategy(reg.RANDOM)
    if finest_share < 1.0:
        levels = [sampling] * (len(shrink_factors) - 1) + [sampling * max(finest_share, 1e-3)]
        reg.SetMetricSamplingPercentagePerLevel(levels, seed)
    else:
        reg.SetMetricSamplingPercentage(sampling, seed)
    reg.SetInterpolator(sitk.sitkLinear)
    reg.SetOptimizerAsRegularStepGradientDescent(
        learningRate=2.0, minStep=1e-3, numberOfIterations=iterations, relaxationFactor=0.6
    )
    reg.SetOptimizerScalesFromPhysicalShift()
    reg.SetShrinkFactorsPerLevel(list(shrink_factors))
    reg.SetSmoothingSigmasPerLevel([s / 2.0 for s in shrink_factors])
    reg.SmoothingSigmasAreSpecifiedInPhysicalUnitsOff()
    reg.SetInitialTransform(init, inPlace=False)
    try:
        transform = reg.Execute(f, m)
    except RuntimeError as exc:
        raise NenscopeError(f"registration of the {what} failed: {exc}") from exc
    return transform, float(reg.GetMetricValue())


def resample_with(
    moving: hd.Volume, fixed: hd.Volume, transform: sitk.Transform, *, order: int = 1
) -> hd.Volume:
    """``moving`` resampled onto ``fixed``'s grid through ``transform`` (outside: 0)."""
    interp = sitk.sitkLinear if order else sitk.sitkNearestNeighbor
    mov = moving.to_simpleitk()
    # the fixed grid as highdicom's to_simpleitk gives it (size = array shape, its spacing,
    # direction and position), without copying the fixed volume's voxels into an image
    out = sitk.Resample(
        mov,
        [int(n) for n in fixed.spatial_shape],
        transform,
        interp,
        [float(c) for c in fixed.position],
        [float(v) for v in fixed.spacing],
        [float(d) for d in np.asarray(fixed.direction).ravel()],
        0.0,
        mov.GetPixelID(),
    )
    # highdicom's SimpleITK round trip keeps the fixed volume's axis order
    return fixed.with_array(np.asarray(hd.Volume.from_simpleitk(out).array))
