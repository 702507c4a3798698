"""SUVpeak: 1 cm^3 partial-voxel sphere, checked against analytic values."""

from __future__ import annotations

import numpy as np
import pytest

from nenscope.analysis._geometry import sphere_fractions, sphere_weights
from nenscope.analysis.suvpeak import SUV_PEAK_RADIUS_MM, suv_peak_map, suv_peak_per_label


@pytest.mark.parametrize(
    "spacing", [(4.0, 4.0, 4.0), (2.0, 2.0, 2.0), (3.27, 4.6875, 4.6875), (1.0, 0.8, 0.8)]
)
def test_sphere_is_one_millilitre(spacing):
    vol_mm3 = sphere_fractions(SUV_PEAK_RADIUS_MM, spacing).sum() * np.prod(spacing)
    assert vol_mm3 == pytest.approx(1000.0, rel=0.006)
    w = sphere_weights(SUV_PEAK_RADIUS_MM, spacing)
    assert w.sum() == pytest.approx(1.0)
    # symmetric kernel: mirror images have equal weights
    np.testing.assert_allclose(w, w[::-1, ::-1, ::-1], atol=1e-12)


def test_peak_of_uniform_sphere_equals_its_value():
    sp = (2.0, 2.0, 2.0)
    z, y, x = np.indices((40, 40, 40)) * 2.0
    r = np.sqrt((z - 40) ** 2 + (y - 40) ** 2 + (x - 40) ** 2)
    suv = np.where(r <= 20.0, 10.0, 1.0).astype(np.float32)
    labels = (r <= 20.0).astype(np.int32)
    peak, centre = suv_peak_per_label(suv, labels, sp)
    assert peak[0] == pytest.approx(10.0, abs=1e-5)
    # the sphere mean is 10 only where the whole 6.2 mm sphere lies inside the lesion
    c_mm = centre[0] * 2.0
    assert np.linalg.norm(c_mm - 40.0) <= 20.0 - SUV_PEAK_RADIUS_MM + 1e-6


def test_linear_field_mean_equals_centre_value():
    # the mean of a linear function over a centred symmetric kernel is its centre value
    sp = (3.0, 2.5, 2.0)
    i, j, k = np.indices((30, 30, 30)).astype(np.float32)
    field = 2.0 + 0.3 * i * sp[0] - 0.1 * j * sp[1] + 0.05 * k * sp[2]
    m = suv_peak_map(field, sp)
    np.testing.assert_allclose(m[8:-8, 8:-8, 8:-8], field[8:-8, 8:-8, 8:-8], rtol=1e-5)


def test_peak_finds_hot_spot_and_partial_voxel_value():
    # a lesion with a hot core of radius 9 mm: every voxel the sphere touches (radius 6.2 mm
    # plus half a voxel diagonal) lies in the core, so SUVpeak is exactly the core value
    sp = (1.0, 1.0, 1.0)
    n = 61
    z, y, x = np.indices((n, n, n)).astype(float)
    r_big = np.sqrt((z - 30) ** 2 + (y - 30) ** 2 + (x - 30) ** 2)
    r_hot = np.sqrt((z - 36) ** 2 + (y - 30) ** 2 + (x - 26) ** 2)
    suv = np.full((n, n, n), 1.0, np.float32)
    suv[r_big <= 20] = 5.0
    suv[r_hot <= 9.0] = 20.0
    labels = (r_big <= 20).astype(np.int32)
    peak, centre = suv_peak_per_label(suv, labels, sp)
    # any centre whose sphere (plus half a voxel diagonal) stays inside the core is a maximum
    assert np.linalg.norm(centre[0] - np.array([36, 30, 26])) <= 9.0 - SUV_PEAK_RADIUS_MM
    assert peak[0] == pytest.approx(20.0, abs=1e-4)
    # a core smaller than the sphere is diluted by the partial-volume weights
    suv[r_hot <= 9.0] = 5.0
    suv[r_hot <= 3.0] = 20.0
    peak2, _ = suv_peak_per_label(suv, labels, sp)
    core_ml = (r_hot <= 3.0).sum() / 1000.0
    assert peak2[0] == pytest.approx(5.0 + 15.0 * core_ml / 1.0, rel=0.02)
