"""Shared rigid registration: a known shift and rotation are recovered."""

from __future__ import annotations

import highdicom as hd
import numpy as np
import pytest
from scipy import ndimage

from nenscope.errors import NenscopeError
from nenscope.imaging.registration import register, resample_with


def _body(shape=(60, 64, 64)) -> np.ndarray:
    z, y, x = np.indices(shape, dtype=float)
    ct = np.full(shape, -1000.0)
    ct[((y - 32) / 22) ** 2 + ((x - 32) / 26) ** 2 < 1] = 40.0  # soft tissue
    ct[((y - 26) / 6) ** 2 + ((x - 20) / 5) ** 2 < 1] = 700.0  # a bone, off-centre
    ct[((z - 30) / 10) ** 2 + ((y - 38) / 8) ** 2 + ((x - 40) / 8) ** 2 < 1] = -800.0  # lung
    return ndimage.gaussian_filter(ct, 1.0).astype(np.float32)


def test_recovers_a_known_rigid_motion():
    spacing = 4.0
    affine = np.diag([spacing, spacing, spacing, 1.0])
    affine[:3, 3] = [-100.0, -120.0, -300.0]
    fixed = hd.Volume(_body(), affine, "PATIENT")
    shift_mm = np.array([6.0, -8.0, 4.0])  # moving patient coordinates = fixed + shift
    moved_affine = affine.copy()
    moved_affine[:3, 3] += shift_mm
    moving = hd.Volume(_body(), moved_affine, "PATIENT")
    tx, metric = register(fixed, moving)
    point = np.array([-20.0, 0.0, -180.0])
    assert np.allclose(np.array(tx.TransformPoint(tuple(point))) - point, shift_mm, atol=1.0)
    assert metric < 0  # Mattes MI is negative when the images share information
    back = resample_with(moving, fixed, tx)
    inner = (slice(8, -8),) * 3
    err = np.abs(back.array[inner] - fixed.array[inner]).mean()
    assert err < 0.1 * np.abs(fixed.array[inner] - moving.array[inner]).mean() + 5.0


def test_no_overlap_is_a_clear_error():
    fixed = hd.Volume(_body((20, 20, 20)), np.eye(4), "PATIENT")
    far = np.eye(4)
    far[:3, 3] = [5000.0, 5000.0, 5000.0]
    moving = hd.Volume(np.zeros((20, 20, 20), np.float32), far, "PATIENT")
    with pytest.raises(NenscopeError, match="registration of the"):
        register(fixed, moving)
