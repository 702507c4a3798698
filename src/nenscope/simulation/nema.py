"""The NEMA NU 2 / IEC 61675-1 body phantom as an alternative to the patient, and its analysis.

Sphere geometry and the EARL1 recovery-coefficient limits are copies of
``shared/data/physics/nema_iec`` (``data/iec_spheres_opengate_geometry.csv``,
``data/earl1_fdg_rc_specifications.csv``). The body is the IEC "D" shape: a half-cylinder of
radius 147 mm joined to a 77-mm-deep box with 77 mm rounded corners, 180 mm long, with a
51-mm lung insert (cold, low density) at the centre of the sphere ring.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from importlib import resources

import numpy as np

from nenscope.simulation.lesions import lesion_occupancy
from nenscope.simulation.phantom import Grid, Phantom

__all__ = [
    "NemaSphere",
    "build_nema_phantom",
    "earl1_limits",
    "nema_spheres",
    "recovery_coefficients",
]

BODY_LABEL, LUNG_LABEL, WALL_LABEL = 1, 2, 3
SPHERE_LABEL0 = 10


@dataclass(frozen=True)
class NemaSphere:
    """One fillable sphere: inner diameter (mm), wall (mm), centre (LPS mm)."""

    inner_diameter_mm: float
    wall_mm: float
    center_mm: tuple[float, float, float]


def _csv(name: str) -> list[dict[str, str]]:
    text = resources.files("nenscope.simulation").joinpath(f"data/{name}").read_text("utf-8")
    return list(csv.DictReader(text.splitlines()))


def nema_spheres(center_z_mm: float = 0.0) -> list[NemaSphere]:
    """The six spheres (37 … 10 mm) in LPS mm for a phantom centred at (0, 0, center_z_mm).

    The geometry file's y axis runs from the flat side to the round side; here the round side
    is anterior (−y), the ring centre at y = −35 + 35 = 0 shifted so the body is centred.
    """
    out = []
    for row in _csv("iec_spheres_opengate_geometry.csv"):
        x = float(row["center_x_mm"])
        y = -(float(row["center_y_mm"]) - 35.0)  # ring centre at y = 0, round side anterior
        z = center_z_mm + float(row["center_z_mm_rel_phantom_center"])
        out.append(NemaSphere(float(row["inner_diameter_mm"]), float(row["wall_mm"]), (x, y, z)))
    return out


def earl1_limits() -> dict[float, dict[str, tuple[float, float]]]:
    """EARL1 limits per sphere diameter: {"rc_mean_a50": (lo, hi), "rc_max": (lo, hi)}."""
    out = {}
    for row in _csv("earl1_fdg_rc_specifications.csv"):
        out[float(row["sphere_diameter_mm"])] = {
            "rc_mean_a50": (float(row["RCmean_A50_min"]), float(row["RCmean_A50_max"])),
            "rc_max": (float(row["RCmax_min"]), float(row["RCmax_max"])),
        }
    return out


def build_nema_phantom(
    voxel_mm: float = 4.0, n_pixels: int | None = None
) -> tuple[Phantom, list[NemaSphere], dict[int, np.ndarray]]:
    """Voxelise the IEC body phantom.

    Returns the phantom (labels: 1 water background, 2 lung insert, 3 sphere walls,
    10 + i sphere i), the spheres, and each sphere's partial-voxel occupancy (full grid).
    The phantom is 180 mm long with its centre at z = 0; the ring centre is at x = y = 0.
    """
    if n_pixels is None:
        n_pixels = int(np.ceil(360.0 / voxel_mm / 2.0) * 2)
    nz = int(np.ceil(240.0 / voxel_mm))
    grid = Grid((nz, n_pixels, n_pixels), float(voxel_mm), float((nz - 1) / 2.0 * voxel_mm))
    z, y, x = grid.axes_mm()
    yy, xx = np.meshgrid(y, x, indexing="ij")
    # ring centre (y = 0) is 35 mm from the flat side's... the round half (radius 147) is anterior
    round_part = (yy <= 0) & (xx**2 + yy**2 <= 147.0**2)
    box = (yy > 0) & (yy <= 77.0) & (np.abs(xx) <= 147.0)
    corner = (np.abs(xx) > 70.0) & (yy > 0) & ((np.abs(xx) - 70.0) ** 2 + yy**2 > 77.0**2)
    body2d = round_part | (box & ~corner)
    lung2d = xx**2 + yy**2 <= 25.5**2
    inz = (np.abs(z) <= 90.0)[:, None, None]
    labels = np.zeros(grid.shape, dtype=np.uint8)
    labels[inz & body2d[None]] = BODY_LABEL
    labels[inz & lung2d[None]] = LUNG_LABEL
    spheres = nema_spheres()
    occupancy: dict[int, np.ndarray] = {}
    for i, sph in enumerate(spheres):
        sl, outer = lesion_occupancy(grid, sph.center_mm, sph.inner_diameter_mm + 2 * sph.wall_mm)
        sub = labels[sl]
        sub[outer >= 0.5] = WALL_LABEL
        sl, inner = lesion_occupancy(grid, sph.center_mm, sph.inner_diameter_mm)
        labels[sl][inner >= 0.5] = SPHERE_LABEL0 + i
        full = np.zeros(grid.shape, dtype=np.float32)
        full[sl] = inner
        occupancy[i] = full
    names = {BODY_LABEL: "background", LUNG_LABEL: "lung_insert", WALL_LABEL: "sphere_wall"}
    names.update(
        {SPHERE_LABEL0 + i: f"sphere_{int(s.inner_diameter_mm)}mm" for i, s in enumerate(spheres)}
    )
    hu = np.full(grid.shape, -1000.0, dtype=np.float32)
    hu[labels == BODY_LABEL] = 0.0
    hu[labels >= SPHERE_LABEL0] = 0.0
    hu[labels == LUNG_LABEL] = -700.0  # polystyrene-foam-like insert
    hu[labels == WALL_LABEL] = 120.0  # PMMA
    phantom = Phantom(
        grid=grid, labels=labels, label_names=names, hu=hu, sex="O", height_cm=0.0, weight_kg=0.0
    )
    return phantom, spheres, occupancy


def recovery_coefficients(
    image: np.ndarray,
    grid: Grid,
    spheres: list[NemaSphere],
    sphere_bqml: float,
    background_bqml: float,
) -> list[dict[str, float]]:
    """EARL recovery coefficients of each sphere.

    RCmax = max voxel / true sphere concentration; RCmean(A50) = mean of the voxels at or
    above 50 % of the maximum, background-adapted (threshold = bkg + 0.5·(max − bkg)),
    inside a search box of the sphere ± 1 diameter (Boellaard R et al., EJNMMI 2015;42:328).
    """
    out = []
    for sph in spheres:
        idx = grid.index_of(sph.center_mm)
        r = sph.inner_diameter_mm / grid.voxel_mm
        lo = np.maximum(np.floor(idx - r).astype(int), 0)
        hi = np.minimum(np.ceil(idx + r).astype(int) + 1, grid.shape)
        box = image[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]]
        vmax = float(box.max())
        thr = background_bqml + 0.5 * (vmax - background_bqml)
        from scipy import ndimage

        lab, _ = ndimage.label(box >= thr)
        peak = np.unravel_index(int(np.argmax(box)), box.shape)
        region = lab == lab[peak]
        out.append(
            {
                "diameter_mm": sph.inner_diameter_mm,
                "rc_max": vmax / sphere_bqml,
                "rc_mean_a50": float(box[region].mean()) / sphere_bqml,
            }
        )
    return out
