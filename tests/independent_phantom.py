"""An independent family of virtual NET patients, written for the tests alone.

Nothing here comes from :mod:`nenscope.simulation`: the anatomy is a handful of analytic
ellipsoids and cylinders (own organ table, own positions, varied body size and organ
offsets), the scanner is a plain Gaussian resolution (any FWHM, e.g. 4.5, 6.5 and 9 mm) on
any voxel size (2-5 mm, anisotropic allowed) with correlated multiplicative noise, and the
CT lies on its own, finer grid. Its purpose is to check the analysis on images whose
resolution, anatomy and noise the analysis was never tuned on.

The truth of each lesion includes an image-based Krenning grade: the lesion maximum of the
noise-free blurred image against the liver and spleen means of the same image (Krenning EP
et al., Eur J Nucl Med 1993;20:716; PET reading: lesion SUVmax against liver and spleen
SUVmean, Hope TA et al., J Nucl Med 2023;64:204), with the distance of that ratio from the
nearest grade boundary, so agreement can be judged where the truth is clear.

Example::

    p = make_patient(seed=3, fwhm_mm=6.5, voxel_mm=(3.0, 4.0, 4.0))
    findings = analyze(p.study)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import highdicom as hd
import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from nenscope.imaging import Patient, Study, SuvFactors

# --- anatomy: centre (x, y, z) mm in LPS (x to the patient's left, y posterior, z superior),
# semi-axes (mm), SSTR SUV (68Ga-DOTATATE, typical of the published normal ranges: liver 5-10,
# spleen 15-30, kidneys 10-15, adrenals 1.2-2.2 x liver), CT HU.
_ORGANS: dict[str, dict[str, Any]] = {
    "lung_right": dict(c=(-95, 5, -140), r=(62, 85, 120), suv=0.5, hu=-850),
    "lung_left": dict(c=(95, 5, -140), r=(58, 85, 120), suv=0.5, hu=-850),
    "heart": dict(c=(25, -25, -235), r=(52, 45, 55), suv=1.8, hu=40),
    "liver": dict(c=(-70, 0, -335), r=(95, 80, 80), suv=8.0, hu=60),
    "spleen": dict(c=(100, 45, -320), r=(42, 35, 55), suv=24.0, hu=50),
    "kidney_right": dict(c=(-75, 60, -440), r=(30, 25, 52), suv=12.0, hu=35),
    "kidney_left": dict(c=(75, 60, -425), r=(30, 25, 52), suv=12.0, hu=35),
    "adrenal_right": dict(c=(-55, 45, -378), r=(8, 7, 12), suv=13.0, hu=20),
    "adrenal_left": dict(c=(55, 45, -365), r=(8, 7, 12), suv=13.0, hu=20),
    "pancreas_head": dict(c=(-25, -5, -420), r=(20, 18, 22), suv=3.0, hu=40),
    "pancreas_body": dict(c=(20, 5, -405), r=(35, 14, 14), suv=3.0, hu=40),
    "pancreas_tail": dict(c=(70, 25, -390), r=(25, 14, 14), suv=3.0, hu=40),
    "bladder": dict(c=(0, -15, -650), r=(40, 35, 35), suv=40.0, hu=5),
}
_SPINE = dict(x=0.0, y=70.0, radius=22.0, suv=0.9, hu=450)
_AORTA = dict(x=25.0, y=40.0, radius=12.0, z=(-120.0, -470.0), suv=1.8, hu=40)
_BODY = dict(a=165.0, b=115.0, y0=5.0, suv=0.7, hu=20)
_FAT = dict(c=(0, -20, -480), r=(110, 60, 90), hu=-100)  # intra-abdominal fat (no uptake)
Z_RANGE_MM = (-40.0, -700.0)

# lesion sites: (organ or region to lie in, centre candidates as (x, y, z) ranges in mm)
_SITES: dict[str, tuple[tuple[float, float], tuple[float, float], tuple[float, float]]] = {
    "liver": ((-120, -30), (-40, 40), (-370, -300)),
    "pancreas": ((-25, 70), (-5, 20), (-420, -390)),
    "lymph node": ((-35, 35), (0, 35), (-500, -450)),
    "bone": ((-5, 5), (68, 72), (-560, -160)),
    "lung": ((-110, -80), (-10, 30), (-180, -100)),
    "mesentery": ((-40, 40), (-60, -35), (-520, -470)),
}
_LESION_HU = {
    "liver": 40,
    "pancreas": 45,
    "lymph node": 35,
    "bone": 800,
    "lung": 30,
    "mesentery": 35,
}


@dataclass
class TruthLesion:
    """One lesion of the truth: where, how large, how hot, and its image-based Krenning."""

    id: int
    site: str
    center_mm: tuple[float, float, float]
    diameter_mm: float
    suv: float
    image_max_suv: float = 0.0
    krenning_image: int = 0
    boundary_distance: float = 0.0  # relative distance of the ratio from the nearest boundary


@dataclass
class IndependentPatient:
    """A virtual patient of the independent family: the study, its truth and label maps."""

    study: Study
    lesions: list[TruthLesion]
    lesion_labels: NDArray[np.int32]
    organ_means: dict[str, float]  # noise-free blurred organ means (SUV), incl. "blood_pool"
    fwhm_mm: float
    voxel_mm: tuple[float, float, float]
    info: dict[str, Any] = field(default_factory=dict)


def krenning_from_image(
    lesion_max: float, liver: float, spleen: float, band: float = 0.10
) -> tuple[int, float]:
    """Image-based Krenning grade and the relative distance from the nearest boundary.

    Grade 1 below ``liver x (1 - band)``, 2 within ``band`` of the liver, 3 above it, 4 above
    the spleen.
    """
    edges = np.array([liver * (1 - band), liver * (1 + band), spleen])
    grade = 1 + int(np.searchsorted(edges, lesion_max, side="right"))
    distance = float(np.min(np.abs(lesion_max / edges - 1.0)))
    return grade, distance


def _grid(voxel_mm, scale):
    dz, dy, dx = voxel_mm
    half_x, half_y = 200.0 * scale, 150.0 * scale
    nx, ny = int(2 * half_x / dx), int(2 * half_y / dy)
    nz = int((Z_RANGE_MM[0] - Z_RANGE_MM[1]) / dz)
    affine = np.array(
        [
            [0, 0, dx, -half_x + dx / 2],
            [0, dy, 0, -half_y + dy / 2],
            [-dz, 0, 0, Z_RANGE_MM[0] - dz / 2],
            [0, 0, 0, 1],
        ],
        dtype=float,
    )
    return (nz, ny, nx), affine


def _coords(shape, affine):
    k, j, i = (np.arange(n, dtype=np.float32) for n in shape)
    z = affine[2, 3] + affine[2, 0] * k
    y = affine[1, 3] + affine[1, 1] * j
    x = affine[0, 3] + affine[0, 2] * i
    return z[:, None, None], y[None, :, None], x[None, None, :]


def _ellipsoid(zyx, c, r):
    z, y, x = zyx
    return ((x - c[0]) / r[0]) ** 2 + ((y - c[1]) / r[1]) ** 2 + ((z - c[2]) / r[2]) ** 2 <= 1.0


def _anatomy(zyx, rng, scale, shift):
    """Label-free maps of SUV and HU for the organs (drawn in order, later wins)."""
    z, y, x = zyx
    shape = np.broadcast_shapes(z.shape, y.shape, x.shape)
    suv = np.zeros(shape, np.float32)
    hu = np.full(shape, -1000.0, np.float32)
    body = ((x / (_BODY["a"] * scale)) ** 2 + ((y - _BODY["y0"]) / (_BODY["b"] * scale)) ** 2) <= 1
    body = np.broadcast_to(body, shape)
    suv[body], hu[body] = _BODY["suv"], _BODY["hu"]
    fat = _ellipsoid(zyx, np.add(_FAT["c"], shift), np.multiply(_FAT["r"], scale)) & body
    suv[fat], hu[fat] = 0.3, _FAT["hu"]
    spine = np.broadcast_to(
        (x - _SPINE["x"]) ** 2 + (y - _SPINE["y"] * scale) ** 2 <= _SPINE["radius"] ** 2, shape
    )
    suv[spine], hu[spine] = _SPINE["suv"], _SPINE["hu"]
    aorta = ((x - _AORTA["x"]) ** 2 + (y - _AORTA["y"] * scale) ** 2 <= _AORTA["radius"] ** 2) & (
        (z <= _AORTA["z"][0]) & (z >= _AORTA["z"][1])
    )
    aorta = np.broadcast_to(aorta, shape)
    masks: dict[str, NDArray[np.bool_]] = {"aorta": aorta, "spine": spine, "body": body}
    liver_suv = float(rng.uniform(5.5, 10.0))
    spleen_suv = float(liver_suv * rng.uniform(2.2, 3.4))
    for name, organ in _ORGANS.items():
        c = np.add(organ["c"], shift) * np.array([scale, scale, 1.0])
        c[2] = organ["c"][2] + shift[2]
        m = _ellipsoid(zyx, c, np.multiply(organ["r"], scale**0.5)) & body
        value = organ["suv"]
        if name == "liver":
            value = liver_suv
        elif name == "spleen":
            value = spleen_suv
        elif name.startswith("adrenal"):
            value = liver_suv * rng.uniform(1.2, 2.2)
        suv[m], hu[m] = value, organ["hu"]
        masks[name] = m
    suv[aorta], hu[aorta] = _AORTA["suv"], _AORTA["hu"]
    return suv, hu, masks, liver_suv, spleen_suv


def _place_lesions(rng, zyx, masks, n_lesions, liver_suv, spleen_suv, scale, shift):
    z, y, x = zyx
    lesions: list[TruthLesion] = []
    sites = list(_SITES)
    for i in range(n_lesions):
        site = sites[i % len(sites)] if i < len(sites) else str(rng.choice(sites))
        (x0, x1), (y0, y1), (z0, z1) = _SITES[site]
        centre = (
            rng.uniform(x0, x1) * scale + shift[0],
            rng.uniform(y0, y1) * scale + shift[1],
            rng.uniform(z0, z1) + shift[2],
        )
        diameter = float(rng.uniform(10.0, 30.0))
        grade = int(rng.choice([1, 2, 3, 3, 4, 4]))
        suv = {
            1: liver_suv * rng.uniform(0.35, 0.7),
            2: liver_suv * rng.uniform(0.95, 1.05),
            3: rng.uniform(liver_suv * 1.5, spleen_suv * 0.75),
            4: spleen_suv * rng.uniform(1.4, 2.2),
        }[grade]
        if site == "liver" and grade <= 2:  # liver lesions need contrast to be a lesion at all
            suv = liver_suv * rng.uniform(1.6, 2.2)
        lesions.append(
            TruthLesion(i + 1, site, tuple(float(v) for v in centre), diameter, float(suv))
        )
    return lesions


def make_patient(
    seed: int,
    fwhm_mm: float = 6.5,
    voxel_mm: float | tuple[float, float, float] = 4.0,
    *,
    n_lesions: int = 6,
    noise_cov: float = 0.10,
    injected_mbq: float = 150.0,
) -> IndependentPatient:
    """A virtual 68Ga-DOTATATE PET/CT of the independent family (SUVbw known exactly)."""
    rng = np.random.default_rng(seed)
    vox = (float(voxel_mm),) * 3 if np.isscalar(voxel_mm) else tuple(map(float, voxel_mm))
    scale = float(rng.uniform(0.88, 1.15))
    shift = tuple(float(v) for v in rng.uniform(-12.0, 12.0, 3))
    weight_kg = float(75.0 * scale**2)
    shape, affine = _grid(vox, scale)
    zyx = _coords(shape, affine)
    suv, hu, masks, liver, spleen = _anatomy(zyx, rng, scale, shift)
    lesions = _place_lesions(rng, zyx, masks, n_lesions, liver, spleen, scale, shift)
    labels = np.zeros(shape, np.int32)
    for les in lesions:
        m = _ellipsoid(zyx, les.center_mm, (les.diameter_mm / 2,) * 3)
        suv[m], labels[m] = les.suv, les.id
        hu[m] = _LESION_HU[les.site]
    sigma = [fwhm_mm / 2.3548 / s for s in vox]  # the family's own Gaussian scanner
    blurred = ndimage.gaussian_filter(suv, sigma, mode="constant").astype(np.float32)
    # the organs' own uptake: eroded, and away from lesions (a liver metastasis of 3 cm and
    # SUV 50 would lift the liver's mean by ~4 %)
    near = ndimage.binary_dilation(
        labels > 0, iterations=max(1, int(np.ceil(2 * fwhm_mm / min(vox))))
    )
    organ_means = {
        k: float(blurred[ndimage.binary_erosion(masks[k], iterations=2) & ~near].mean())
        for k in ("liver", "spleen")
    }
    organ_means["blood_pool"] = _blood_pool_truth(blurred, zyx, masks, near, scale)
    for les in lesions:
        les.image_max_suv = float(blurred[labels == les.id].max())
        les.krenning_image, les.boundary_distance = krenning_from_image(
            les.image_max_suv, organ_means["liver"], organ_means["spleen"]
        )
    white = ndimage.gaussian_filter(rng.standard_normal(shape).astype(np.float32), 0.8)
    white /= white.std()
    noisy = np.maximum(blurred * (1.0 + noise_cov * white), 0.0).astype(np.float32)
    factor = weight_kg * 1000.0 / (injected_mbq * 1e6)  # SUVbw = Bq/ml x factor
    ct_vol = _ct_on_own_grid(hu, affine, shape)
    pet = hd.Volume(
        noisy / np.float32(factor),
        affine,
        "PATIENT",
        frame_of_reference_uid="1.2.826.0.1.3680043.10.1234.1",
    )
    study = Study(
        modality="PT",
        emission=pet,
        units="BQML",
        suv=SuvFactors(bw=factor),
        ct=ct_vol,
        agent="68Ga-DOTATATE",
        radionuclide="Ga-68",
        injected_activity_bq=injected_mbq * 1e6,
        patient=Patient(sex="M", weight_kg=weight_kg, height_m=1.75 * scale),
        frame_of_reference_uid=pet.frame_of_reference_uid,
    )
    info = {
        "seed": seed,
        "scale": scale,
        "shift_mm": shift,
        "liver_suv": liver,
        "spleen_suv": spleen,
    }
    return IndependentPatient(study, lesions, labels, organ_means, fwhm_mm, vox, info)


def _blood_pool_truth(blurred, zyx, masks, near, scale) -> float:
    """Blood-pool truth where and as PERCIST measures it: a 1 cm diameter cylinder on the
    axis of the descending thoracic aorta (above the liver's top), away from lesions
    (``near``: within 2 FWHM of a lesion voxel, whose blurred activity would count as blood)."""
    z, y, x = (np.broadcast_to(a, blurred.shape) for a in zyx)
    liver_top = float(z[masks["liver"]].max())
    axis = (x - _AORTA["x"]) ** 2 + (y - _AORTA["y"] * scale) ** 2 <= 5.0**2
    core = axis & masks["aorta"] & (z > liver_top) & ~near
    return float(blurred[core].mean())


def _ct_on_own_grid(hu, affine, shape) -> hd.Volume:
    """The CT on a grid twice as fine in plane (nearest neighbour from the PET-grid map)."""
    fine = np.repeat(np.repeat(hu, 2, axis=1), 2, axis=2)
    a = affine.copy()
    a[:3, 1:3] /= 2.0
    a[:3, 3] = affine[:3, 3] - affine[:3, 1] / 4.0 - affine[:3, 2] / 4.0
    return hd.Volume(
        fine.astype(np.float32),
        a,
        "PATIENT",
        frame_of_reference_uid="1.2.826.0.1.3680043.10.1234.1",
    )
