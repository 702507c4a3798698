"""Shared rigid registration: a known shift and rotation are recovered."""

from __future__ import annotations

import functools

import highdicom as hd
import numpy as np
import pytest
from scipy import ndimage

from nenscope.analysis.matching import FDG_FINEST_SHARE
from nenscope.errors import NenscopeError
from nenscope.imaging.registration import register, resample_with, working_image


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


def _body_hu(points_mm: np.ndarray) -> np.ndarray:
    """HU of an asymmetric trunk at (N, 3) LPS points (mm): soft-tissue ellipse, a spine and a
    rib-like bone off the midline, one lung, a kidney, air outside."""
    x, y, z = points_mm.T
    hu = np.full(len(x), -1000.0)
    hu[(x / 150) ** 2 + (y / 100) ** 2 < 1] = 40.0
    hu[((x - 60) / 55) ** 2 + ((y + 10) / 50) ** 2 + ((z - 60) / 90) ** 2 < 1] = -820.0
    hu[((x + 5) / 15) ** 2 + ((y - 70) / 15) ** 2 < 1] = 700.0
    hu[((x + 90) / 8) ** 2 + ((y - 20) / 40) ** 2 + ((z + 30) / 60) ** 2 < 1] = 900.0
    hu[((x + 50) / 25) ** 2 + ((y - 45) / 20) ** 2 + ((z + 80) / 35) ** 2 < 1] = 150.0  # enhanced
    return hu


@functools.lru_cache(maxsize=1)
def _unmoved_ct() -> hd.Volume:
    """The fixed CT of the registration tests, built once (1-2 s)."""
    return _ct_volume(np.eye(3), np.zeros(3))


def _ct_volume(rotation: np.ndarray, shift_mm: np.ndarray) -> hd.Volume:
    """A clinical-like CT grid (1.5 mm pixels, 2.5 mm slices, air around the body) of the
    trunk moved by ``x -> rotation @ x + shift_mm``."""
    shape = (96, 240, 240)
    affine = np.array(
        [[0, 0, 1.5, -179.25], [0, 1.5, 0, -179.25], [2.5, 0, 0, -118.75], [0, 0, 0, 1.0]]
    )
    ijk = np.indices(shape, dtype=float).reshape(3, -1).T
    moved = ijk @ affine[:3, :3].T + affine[:3, 3]
    body = _body_hu((moved - shift_mm) @ rotation)  # inverse motion: rotation is orthonormal
    hu = ndimage.gaussian_filter(body.reshape(shape), 1.0).astype(np.float32)
    return hd.Volume(hu, affine, "PATIENT")


@pytest.mark.parametrize(
    ("degrees", "shift_mm", "finest_share"),
    [
        (3.0, (7.0, -5.0, 6.0), 1.0),
        (8.0, (20.0, -15.0, 25.0), FDG_FINEST_SHARE),  # the FDG pairing's sparser finest level
    ],
)
def test_working_grid_recovers_a_known_rotation_and_shift(degrees, shift_mm, finest_share):
    """CT pair registered on a 4 mm working grid cropped to the body: the motion is recovered
    to well under one PET voxel (4 mm) at the corners of the body's bounding box, also with
    a quarter of the samples at the finest level (measured: 0.3-0.4 mm)."""
    th = np.radians(degrees)
    rotation = np.array([[np.cos(th), -np.sin(th), 0], [np.sin(th), np.cos(th), 0], [0, 0, 1]])
    shift_mm = np.array(shift_mm)
    moving = _ct_volume(rotation, shift_mm)
    tx, _ = register(
        _unmoved_ct(), moving, voxel_mm=4.0, crop_above=-500.0, finest_share=finest_share
    )
    corners = np.array([[x, y, z] for x in (-150, 150) for y in (-100, 100) for z in (-110, 110)])
    found = np.array([tx.TransformPoint(tuple(map(float, p))) for p in corners])
    assert np.abs(found - (corners @ rotation.T + shift_mm)).max() < 1.0


def test_working_image_crops_to_the_body_and_block_averages():
    """Cropped to the body plus 20 mm and block-averaged by integer factors to about 4 mm
    (2.5 mm slices by 2, 1.5 mm pixels by 3)."""
    fixed = _unmoved_ct()
    image = working_image(fixed, voxel_mm=4.0, crop_above=-500.0)
    assert image.GetSpacing() == pytest.approx((5.0, 4.5, 4.5))
    # body: x in +-150 mm, y in +-100 mm (plus the 20 mm margin, within the 1.5 mm lattice)
    size_mm = np.array(image.GetSize()) * np.array(image.GetSpacing())
    assert size_mm[2] == pytest.approx(340.0, abs=6.0)
    assert size_mm[1] == pytest.approx(240.0, abs=6.0)
    assert size_mm[0] == pytest.approx(240.0, abs=6.0)  # no air above/below: whole axial range
