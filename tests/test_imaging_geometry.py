"""``nenscope.imaging.geometry``: spacing, index <-> LPS, resampling edges, the Gaussian and
MAD factors, checked against highdicom and analytic values."""

from __future__ import annotations

import math

import highdicom as hd
import numpy as np
import pytest

from nenscope.errors import NenscopeError
from nenscope.imaging.geometry import (
    FWHM_PER_SIGMA,
    GAUSSIAN_FWHM_PER_SIGMA,
    SIGMA_PER_FWHM,
    fwhm_to_sigma,
    indices_to_lps,
    lps_to_indices,
    patient_axes,
    resample_array,
    resample_to,
    robust_sd,
    spacing_from_affine,
)


def _oblique_affine() -> np.ndarray:
    """Axial slices (axis 0 feet-to-head steps of 3.27 mm) rotated 17 degrees about z."""
    th = math.radians(17.0)
    rot = np.array([[math.cos(th), -math.sin(th), 0], [math.sin(th), math.cos(th), 0], [0, 0, 1]])
    a = np.eye(4)
    a[:3, 0] = [0.0, 0.0, -3.27]
    a[:3, 1] = rot @ [0.0, 4.6875, 0.0]
    a[:3, 2] = rot @ [4.6875, 0.0, 0.0]
    a[:3, 3] = [-300.0, -250.0, 120.0]
    return a


def test_spacing_and_index_mapping_agree_with_highdicom():
    a = _oblique_affine()
    vol = hd.Volume(np.zeros((5, 6, 7), np.float32), a, "PATIENT")
    assert spacing_from_affine(a) == vol.spacing  # bit for bit
    assert spacing_from_affine(a) == pytest.approx((3.27, 4.6875, 4.6875), rel=1e-12)
    ijk = np.array([[0.0, 0.0, 0.0], [4.0, 5.0, 6.0], [1.5, 2.25, 0.5]])
    np.testing.assert_allclose(indices_to_lps(a, ijk), vol.map_indices_to_reference(ijk))
    np.testing.assert_allclose(lps_to_indices(a, indices_to_lps(a, ijk)), ijk, atol=1e-12)
    assert patient_axes(a) == (2, 1, 0)  # x along columns, y along rows, z along slices


def test_fwhm_and_mad_factors():
    assert GAUSSIAN_FWHM_PER_SIGMA == pytest.approx(2.0 * math.sqrt(2.0 * math.log(2.0)))
    assert GAUSSIAN_FWHM_PER_SIGMA * SIGMA_PER_FWHM == pytest.approx(1.0, rel=1e-15)
    assert FWHM_PER_SIGMA == pytest.approx(GAUSSIAN_FWHM_PER_SIGMA, rel=1e-5)
    assert fwhm_to_sigma(8.0, (4.0, 4.0, 2.0)) == pytest.approx([0.8494, 0.8494, 1.6987], 1e-4)
    assert fwhm_to_sigma(10.0, exact=True) == pytest.approx(4.246609, rel=1e-6)
    # a normal sample: the MAD-based SD approaches sigma
    x = np.random.default_rng(3).normal(5.0, 2.0, 200_000)
    assert robust_sd(x) == pytest.approx(2.0, rel=0.01)


def _grid(shape, spacing_mm, origin_mm, array=None, uid="1.2.3"):
    a = np.diag([*spacing_mm, 1.0])
    a[:3, 3] = origin_mm
    arr = np.zeros(shape, np.float32) if array is None else array
    return hd.Volume(arr, a, "PATIENT", frame_of_reference_uid=uid)


def test_resample_to_a_finer_grid_is_trilinear_and_labels_keep_their_dtype():
    ramp = np.arange(4, dtype=np.float32)[:, None, None] * np.ones((4, 4, 4), np.float32)
    src = _grid((4, 4, 4), (2.0, 2.0, 2.0), (0.0, 0.0, 0.0), ramp)
    ref = _grid((7, 4, 4), (1.0, 2.0, 2.0), (0.0, 0.0, 0.0))
    out = resample_to(src, ref)
    assert out.array.dtype == np.float32
    np.testing.assert_allclose(out.array[:, 0, 0], [0, 0.5, 1, 1.5, 2, 2.5, 3])
    labels = _grid((4, 4, 4), (2.0, 2.0, 2.0), (0.0, 0.0, 0.0), (ramp > 1).astype(np.uint8))
    assert resample_to(labels, ref, order=0).array.dtype == np.uint8


def test_resampling_edges():
    """Nearest neighbour of resample_to covers each source voxel's whole extent; resample_array
    (the analysis semantics) and higher orders stop at the outer voxel centres."""
    src = _grid((3, 3, 3), (2.0, 2.0, 2.0), (0.0, 0.0, 0.0), np.ones((3, 3, 3), np.float32))
    # the reference starts 0.8 mm (0.4 voxel) before the first source centre
    ref = _grid((3, 3, 3), (2.0, 2.0, 2.0), (-0.8, 0.0, 0.0))
    assert resample_to(src, ref, order=0).array[0, 1, 1] == 1.0
    assert resample_to(src, ref, order=1, fill_value=-5.0).array[0, 1, 1] == -5.0
    bare = resample_array(src.array, src.affine, ref.affine, (3, 3, 3), order=0, cval=-5.0)
    assert bare[0, 1, 1] == -5.0
    same = resample_array(src.array, src.affine, src.affine.copy(), (3, 3, 3))
    assert same is src.array


def test_resample_to_refuses_other_frames_and_orders():
    a = _grid((2, 2, 2), (1.0, 1.0, 1.0), (0.0, 0.0, 0.0), uid="1.2.3")
    b = _grid((2, 2, 2), (1.0, 1.0, 1.0), (0.0, 0.0, 0.0), uid="1.2.4")
    with pytest.raises(NenscopeError, match="different frames of reference"):
        resample_to(a, b)
    with pytest.raises(NenscopeError, match="order must be 0..5"):
        resample_to(a, a, order=7)
