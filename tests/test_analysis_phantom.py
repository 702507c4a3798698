"""Synthetic whole-trunk SSTR/FDG phantom used by the analysis tests (and its own checks).

Analytic anatomy in DICOM patient coordinates (LPS, mm): an elliptic body with lungs, a liver
on the patient's right (negative x), a posterior spleen on the left, two kidneys, a bladder,
and spherical lesions with known SUV. The activity is blurred with a Gaussian PSF and given
multiplicative Gaussian noise, like a reconstructed PET.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import highdicom as hd
import numpy as np
from scipy import ndimage

SSTR_UPTAKE = {
    "body": 0.8,
    "lung": 0.3,
    "liver": 8.0,
    "spleen": 22.0,
    "kidney": 12.0,
    "bladder": 40.0,
    "heart": 1.6,
    "brain": 0.3,
}
FDG_UPTAKE = {
    "body": 0.7,
    "lung": 0.4,
    "liver": 2.5,
    "spleen": 2.0,
    "kidney": 3.0,
    "bladder": 25.0,
    "heart": 5.0,
    "brain": 8.0,
}
HU = {
    "body": 20.0,
    "lung": -800.0,
    "liver": 55.0,
    "spleen": 45.0,
    "kidney": 35.0,
    "bladder": 5.0,
    "heart": 40.0,
    "brain": 35.0,
}


@dataclass
class Lesion:
    center_mm: tuple[float, float, float]
    diameter_mm: float
    suv: float
    hu: float = 70.0


@dataclass
class Phantom:
    suv: hd.Volume
    ct: hd.Volume
    organs: dict[str, np.ndarray]
    lesions: list[Lesion]
    lesion_masks: list[np.ndarray] = field(default_factory=list)


def affine_for(shape, spacing_mm, *, flip_z: bool = True) -> np.ndarray:
    """Axis 0 = slice (towards the feet when flip_z), 1 = row (+y, P), 2 = column (+x, L)."""
    sz, sy, sx = spacing_mm
    nz, ny, nx = shape
    aff = np.eye(4)
    aff[:3, 0] = (0.0, 0.0, -sz if flip_z else sz)
    aff[:3, 1] = (0.0, sy, 0.0)
    aff[:3, 2] = (sx, 0.0, 0.0)
    # centre the grid on (0, 0, 0)
    centre_index = (np.array(shape) - 1) / 2.0
    aff[:3, 3] = -aff[:3, :3] @ centre_index
    return aff


def _coords(shape, aff):
    idx = np.indices(shape, dtype=np.float32)
    return [
        aff[r, 0] * idx[0] + aff[r, 1] * idx[1] + aff[r, 2] * idx[2] + aff[r, 3] for r in range(3)
    ]


def _ellipsoid(x, y, z, c, r):
    return ((x - c[0]) / r[0]) ** 2 + ((y - c[1]) / r[1]) ** 2 + ((z - c[2]) / r[2]) ** 2 <= 1.0


def make_phantom(
    lesions: list[Lesion] | None = None,
    *,
    uptake: dict[str, float] | None = None,
    shape=(110, 80, 100),
    spacing_mm=(4.0, 4.0, 4.0),
    noise: float = 0.08,
    fwhm_mm: float = 7.0,
    seed: int = 0,
    flip_z: bool = True,
    with_brain: bool = False,
) -> Phantom:
    """Build the phantom; organ centres (mm): liver (-70, -10, 40), spleen (95, 45, 70)."""
    uptake = dict(SSTR_UPTAKE if uptake is None else uptake)
    lesions = list(lesions or [])
    aff = affine_for(shape, spacing_mm, flip_z=flip_z)
    x, y, z = _coords(shape, aff)
    organs = {
        "body": ((x / 170.0) ** 2 + (y / 115.0) ** 2 <= 1.0),
        "lung": _ellipsoid(x, y, z, (-75, 0, 160), (55, 70, 70))
        | _ellipsoid(x, y, z, (75, 0, 160), (55, 70, 70)),
        "heart": _ellipsoid(x, y, z, (20, -30, 120), (45, 40, 45)),
        "liver": _ellipsoid(x, y, z, (-70, -10, 40), (85, 75, 65)),
        "spleen": _ellipsoid(x, y, z, (95, 45, 70), (35, 35, 55)),
        "kidney_left": _ellipsoid(x, y, z, (70, 70, -40), (28, 25, 50)),
        "kidney_right": _ellipsoid(x, y, z, (-70, 70, -50), (28, 25, 50)),
        "urinary_bladder": _ellipsoid(x, y, z, (0, -40, -190), (35, 30, 25)),
    }
    if with_brain:
        organs["brain"] = _ellipsoid(x, y, z, (0, 0, 190), (60, 70, 25))
    act = np.zeros(shape, np.float32)
    ct = np.full(shape, -1000.0, np.float32)
    for name in [
        "body",
        "lung",
        "heart",
        "liver",
        "spleen",
        "kidney_left",
        "kidney_right",
        "urinary_bladder",
        "brain",
    ]:
        if name not in organs:
            continue
        key = (
            name.split("_")[0]
            if name.startswith("kidney")
            else ("bladder" if name == "urinary_bladder" else name)
        )
        act[organs[name]] = uptake[key]
        ct[organs[name]] = HU[key]
    masks = []
    for les in lesions:
        m = _ellipsoid(x, y, z, les.center_mm, (les.diameter_mm / 2,) * 3)
        act[m] = les.suv
        ct[m] = les.hu
        masks.append(m)
    sig = [fwhm_mm / 2.3548 / s for s in spacing_mm]
    blurred = ndimage.gaussian_filter(act, sig)
    rng = np.random.default_rng(seed)
    noisy = blurred * (1.0 + noise * rng.standard_normal(shape).astype(np.float32))
    noisy = np.clip(noisy, 0.0, None).astype(np.float32)
    ct = ct + rng.normal(0.0, 8.0, shape).astype(np.float32)
    suv = hd.Volume(noisy, aff, "PATIENT", frame_of_reference_uid="1.2.3.4")
    ctv = hd.Volume(ct, aff, "PATIENT", frame_of_reference_uid="1.2.3.4")
    return Phantom(suv=suv, ct=ctv, organs=organs, lesions=lesions, lesion_masks=masks)


def test_phantom_geometry_and_uptake():
    ph = make_phantom([Lesion((-60, -10, 40), 20.0, 30.0)], noise=0.0)
    # the liver lies on the patient's right: negative LPS x
    idx = np.argwhere(ph.organs["liver"]).mean(axis=0)
    x_mm = (ph.suv.affine[:3, :3] @ idx + ph.suv.affine[:3, 3])[0]
    assert x_mm < -40
    # lesion centre value near its true SUV (20 mm sphere, 7 mm FWHM: recovery > 0.9)
    assert 27.0 < ph.suv.array[ph.lesion_masks[0]].max() <= 30.0
