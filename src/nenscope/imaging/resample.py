"""Resample one volume onto another's grid (e.g. CT onto PET, a mask onto CT)."""

from __future__ import annotations

import highdicom as hd
import numpy as np
from scipy import ndimage

from nenscope.errors import NenscopeError


def resample_to(
    volume: hd.Volume, reference: hd.Volume, order: int = 1, *, fill_value: float = 0.0
) -> hd.Volume:
    """Resample ``volume`` onto the grid of ``reference`` (both in PATIENT coordinates).

    Each reference voxel centre is mapped through ``inv(volume.affine) @ reference.affine``
    to a continuous index of ``volume`` and interpolated there with
    ``scipy.ndimage.affine_transform`` (one pass over the output; no intermediate grid).
    Nearest-neighbour sampling covers each source voxel's full extent (a point up to half a
    voxel outside the outer centres still takes the edge value); higher orders use
    ``fill_value`` beyond the outer voxel centres.

    Args:
        volume: the volume to resample.
        reference: the volume whose grid (shape, affine, frame of reference) is wanted.
        order: spline order: 0 nearest neighbour (labels, masks: dtype kept), 1 trilinear
            (default), 3 cubic.
        fill_value: value outside ``volume`` (e.g. -1000 for CT in HU).

    Returns:
        A ``highdicom.Volume`` on ``reference``'s grid; float32 unless ``order`` is 0.

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
    if volume.spatial_shape == shape and np.allclose(volume.affine, reference.affine, atol=1e-4):
        out = np.array(volume.array, copy=True)
    else:
        m = np.linalg.inv(volume.affine) @ reference.affine
        arr = volume.array
        if order == 0:
            out = ndimage.affine_transform(
                arr,
                m[:3, :3],
                offset=m[:3, 3],
                output_shape=shape,
                order=0,
                mode="grid-constant",
                cval=fill_value,
                prefilter=False,
            )
        else:
            src = arr if arr.dtype in (np.float32, np.float64) else arr.astype(np.float32)
            out = ndimage.affine_transform(
                src,
                m[:3, :3],
                offset=m[:3, 3],
                output_shape=shape,
                output=np.float32,
                order=order,
                mode="constant",
                cval=fill_value,
                prefilter=order > 1,
            )
    return hd.Volume(
        out,
        reference.affine.copy(),
        "PATIENT",
        frame_of_reference_uid=reference.frame_of_reference_uid or volume.frame_of_reference_uid,
    )
