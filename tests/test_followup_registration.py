"""Prior-to-current registration on analytic CT phantoms with a known motion.

The phantom (body, two lungs, a spine, a liver and small cold spheres on a 4 mm grid) is
evaluated analytically at every voxel of each study, so the "prior" CT is the same anatomy
under an exactly known transform, without resampling artefacts. The test checks that the
rigid step recovers the mapping of points (to 2 mm, half a voxel), that the local CT
similarity reads near 1 for a rigid motion, and that a non-rigid motion (the lower half of
the body 12 mm further caudal) reads as a poor rigid fit and is improved by the B-spline step.
"""

from __future__ import annotations

import highdicom as hd
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from nenscope.followup.registration import NCC_THRESHOLD, register_prior

N, VOXEL = 56, 4.0


def _affine() -> np.ndarray:
    a = np.diag([VOXEL, VOXEL, VOXEL, 1.0])
    a[:3, 3] = -(N - 1) / 2.0 * VOXEL
    return a


def _points() -> np.ndarray:
    ijk = np.indices((N, N, N)).reshape(3, -1).T.astype(float)
    return ijk @ _affine()[:3, :3].T + _affine()[:3, 3]


def _anatomy(p: np.ndarray) -> np.ndarray:
    """HU at LPS points (N, 3) of an analytic trunk."""
    x, y, z = p.T

    def ell(c, r):
        return (((p - c) / r) ** 2).sum(axis=1) <= 1.0

    hu = np.full(len(p), -1000.0)
    hu[ell((0, 0, 0), (90, 70, 200))] = 40.0
    hu[ell((-40, 0, 50), (30, 35, 45))] = -850.0
    hu[ell((40, 0, 50), (30, 35, 45))] = -850.0
    hu[ell((-30, -5, -30), (40, 35, 30))] = 60.0
    hu[(x**2 + (y - 45) ** 2 <= 12**2) & (np.abs(z) < 100)] = 700.0
    for c in ((30, -20, -40), (-50, 20, -60), (10, 30, 20), (-20, -30, 70)):
        hu[ell(c, (9, 9, 9))] = -60.0
    return hu


def _study(hu: np.ndarray, uid: str, seed: int) -> hd.Volume:
    rng = np.random.default_rng(seed)
    arr = (hu.reshape(N, N, N) + rng.normal(0, 10, (N, N, N))).astype(np.float32)
    return hd.Volume(arr, _affine(), "PATIENT", frame_of_reference_uid=uid)


ROT = Rotation.from_euler("xyz", [1.0, -2.0, 4.0], degrees=True)
SHIFT = np.array([8.0, -6.0, 12.0])


def _to_prior(q: np.ndarray, *, lower_half_mm: float = 0.0) -> np.ndarray:
    """Known map: current point -> prior point (rigid, plus a caudal shift of the lower
    half of the body that fades in over 40 mm)."""
    p = ROT.apply(q) + SHIFT
    if lower_half_mm:
        w = np.clip((-q[:, 2] + 20.0) / 40.0, 0.0, 1.0)
        p[:, 2] += lower_half_mm * w
    return p


def _pair(lower_half_mm: float = 0.0):
    q = _points()
    current = _study(_anatomy(q), "1.2.3.1", 1)
    prior = _study(_anatomy(_inverse(q, lower_half_mm)), "1.2.3.2", 2)
    return current, prior


def _inverse(p: np.ndarray, lower_half_mm: float) -> np.ndarray:
    """Prior-study anatomy sampled at prior points: where each prior point sits in the
    current study (fixed-point inverse of :func:`_to_prior`)."""
    q = ROT.inv().apply(p - SHIFT)
    for _ in range(5):
        q = q + (p - _to_prior(q, lower_half_mm=lower_half_mm)) @ ROT.as_matrix()
    return q


def test_rigid_motion_is_recovered_and_fits_well():
    current, prior = _pair()
    reg = register_prior(current, prior, current_ct=current, prior_ct=prior)
    assert reg.method == "rigid (CT)"
    assert reg.ncc_rigid > NCC_THRESHOLD
    probes = np.array([[30.0, -20.0, -40.0], [-50.0, 20.0, -60.0], [0.0, 45.0, 60.0]])
    err = np.linalg.norm(reg.current_to_prior(probes) - _to_prior(probes), axis=1)
    assert err.max() < 2.0, err


def test_same_frame_needs_no_registration():
    current, _ = _pair()
    reg = register_prior(current, current, current_ct=current, prior_ct=current)
    assert reg.method == "same frame" and reg.transform is None
    assert np.allclose(reg.current_to_prior([[1.0, 2.0, 3.0]]), [[1.0, 2.0, 3.0]])


@pytest.mark.slow
def test_non_rigid_motion_reads_as_a_poor_fit_and_the_bspline_improves_it():
    current, prior = _pair(lower_half_mm=12.0)
    rigid = register_prior(current, prior, current_ct=current, prior_ct=prior, deformable=False)
    assert rigid.ncc_rigid < NCC_THRESHOLD
    reg = register_prior(current, prior, current_ct=current, prior_ct=prior)
    assert reg.method == "rigid + B-spline (CT)"
    assert reg.ncc_final > reg.ncc_rigid
    probe = np.array([[30.0, -20.0, -40.0]])  # a cold sphere in the displaced half
    truth = _to_prior(probe, lower_half_mm=12.0)
    assert np.linalg.norm(reg.current_to_prior(probe) - truth) < np.linalg.norm(
        rigid.current_to_prior(probe) - truth
    )
