"""CT long axis of a lesion (RECIST 1.1) on an analytic CT: an ellipsoid of known axes."""

from __future__ import annotations

import highdicom as hd
import numpy as np

from nenscope.followup.ctaxis import ct_long_axes_mm

UID = "1.2.3.4"


def _grid(n: int, spacing: float) -> np.ndarray:
    a = np.array(
        [[0, 0, spacing, 0], [0, spacing, 0, 0], [-spacing, 0, 0, 0], [0, 0, 0, 1.0]], float
    )
    a[:3, 3] = [-(n - 1) / 2 * spacing, -(n - 1) / 2 * spacing, (n - 1) / 2 * spacing]
    return a


def _lps(shape, affine) -> np.ndarray:
    ijk = np.indices(shape).reshape(3, -1).T.astype(float)
    return (ijk @ affine[:3, :3].T + affine[:3, 3]).reshape(*shape, 3)


def _inside(p, centre, semi):
    return ((((p - centre) / semi) ** 2).sum(axis=-1)) <= 1.0


def _case(contrast_hu: float):
    """CT at 1 mm (60 mm cube, liver-like 55 HU, noise 8 HU) with an ellipsoid lesion of
    axes 30 x 18 x 14 mm (x, y, z); the PET label map at 4 mm."""
    rng = np.random.default_rng(0)
    ct_aff, pet_aff = _grid(60, 1.0), _grid(15, 4.0)
    centre, semi = np.array([2.0, -1.0, 0.5]), np.array([15.0, 9.0, 7.0])
    p_ct = _lps((60, 60, 60), ct_aff)
    hu = 55.0 + contrast_hu * _inside(p_ct, centre, semi) + rng.normal(0, 8, (60, 60, 60))
    ct = hd.Volume(hu.astype(np.float32), ct_aff, "PATIENT", frame_of_reference_uid=UID)
    labels = _inside(_lps((15, 15, 15), pet_aff), centre, semi * 0.9).astype(np.int32)
    return hd.Volume(labels, pet_aff, "PATIENT", frame_of_reference_uid=UID), ct


def test_long_axis_of_a_hypodense_ellipsoid():
    labels, ct = _case(-40.0)
    axis = ct_long_axes_mm(labels, ct, [1])[1]
    assert axis is not None and abs(axis - 30.0) <= 2.0, axis


def test_no_ct_correlate_gives_no_long_axis_and_unknown_ids_none():
    labels, ct = _case(0.0)
    assert ct_long_axes_mm(labels, ct, [1, 7]) == {1: None, 7: None}
