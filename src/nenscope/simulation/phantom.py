"""The virtual NET patient: a voxel label map of the body and its organs, and its CT.

Organs are analytic shapes (ellipsoids, elliptic cylinders) listed in ``data/phantom.toml``
(reference adult male of ICRP 89; the female is scaled), painted in file order on a regular
grid. Height scales the body and its organs; weight widens the trunk and the subcutaneous
fat (organs keep their size, as in the ICRP 89 reference bodies).

Grid convention (house rule): axis 0 = slice (from head to feet), 1 = row (anterior ->
posterior, +y), 2 = column (patient right -> left, +x); the affine maps indices to DICOM
patient LPS mm.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from nenscope.errors import NenscopeError
from nenscope.simulation._data import load

__all__ = ["Grid", "Phantom", "build_patient_phantom", "ct_from_labels", "organ_table"]


@dataclass(frozen=True)
class Grid:
    """A regular axial grid: ``shape`` (nz, ny, nx), isotropic ``voxel_mm``, and the patient
    z (mm) of slice 0; slices go towards the feet (−z)."""

    shape: tuple[int, int, int]
    voxel_mm: float
    z0_mm: float

    @property
    def affine(self) -> np.ndarray:
        """4×4 index → LPS mm (centre of voxel (0,0,0) at x, y = −(n−1)/2·voxel)."""
        nz, ny, nx = self.shape
        v = self.voxel_mm
        a = np.zeros((4, 4))
        a[0, 2] = v  # column -> +x
        a[1, 1] = v  # row -> +y
        a[2, 0] = -v  # slice -> -z
        a[:3, 3] = (-(nx - 1) / 2.0 * v, -(ny - 1) / 2.0 * v, self.z0_mm)
        a[3, 3] = 1.0
        return a

    def axes_mm(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Voxel-centre coordinates z (per slice), y (per row), x (per column) in mm."""
        nz, ny, nx = self.shape
        v = self.voxel_mm
        z = self.z0_mm - v * np.arange(nz)
        y = (np.arange(ny) - (ny - 1) / 2.0) * v
        x = (np.arange(nx) - (nx - 1) / 2.0) * v
        return z, y, x

    def index_of(self, point_mm) -> np.ndarray:
        """Fractional (slice, row, column) index of an LPS point."""
        x, y, z = point_mm
        nz, ny, nx = self.shape
        v = self.voxel_mm
        return np.array([(self.z0_mm - z) / v, y / v + (ny - 1) / 2.0, x / v + (nx - 1) / 2.0])


@dataclass
class Phantom:
    """Label map (uint8), noise-free CT (HU) and the patient it represents."""

    grid: Grid
    labels: np.ndarray
    label_names: dict[int, str]
    hu: np.ndarray
    sex: str
    height_cm: float
    weight_kg: float
    lymph_node_stations_mm: dict[str, tuple[float, float, float]] = field(default_factory=dict)

    def mask(self, *names: str) -> np.ndarray:
        ids = [k for k, v in self.label_names.items() if v in names]
        return np.isin(self.labels, ids)

    def label_id(self, name: str) -> int:
        for k, v in self.label_names.items():
            if v == name:
                return k
        raise KeyError(name)


def organ_table() -> list[dict]:
    """The organ rows of ``data/phantom.toml`` (name, label, hu, shapes, ...)."""
    return load("phantom")["organ"]


def _paint(
    labels: np.ndarray,
    grid: Grid,
    shape: dict,
    label: int,
    scale,
    *,
    out=None,
    shrink_mm: float = 0.0,
) -> None:
    """Set ``label`` (or mark ``out``) where ``shape`` covers a voxel centre (bounding box only)."""
    sx, sy, sz = scale
    z, y, x = grid.axes_mm()
    target = labels if out is None else out
    value = label if out is None else True
    if "ellipsoid" in shape:
        e = shape["ellipsoid"]
        c = np.array(e["center"], float) * (sx, sy, sz)
        r = np.array(e["semi"], float) * (sx, sy, sz) - shrink_mm
        if np.any(r <= 0):
            return
        zr = (c[2] - r[2], c[2] + r[2])
        kz = np.flatnonzero((z >= zr[0]) & (z <= zr[1]))
        ky = np.flatnonzero(np.abs(y - c[1]) <= r[1])
        kx = np.flatnonzero(np.abs(x - c[0]) <= r[0])
        if not (kz.size and ky.size and kx.size):
            return
        dz = ((z[kz] - c[2]) / r[2]) ** 2
        dy = ((y[ky] - c[1]) / r[1]) ** 2
        dx = ((x[kx] - c[0]) / r[0]) ** 2
        inside = dz[:, None, None] + dy[None, :, None] + dx[None, None, :] <= 1.0
    else:
        cyl = shape["cylinder"]
        c = np.array(cyl["center"], float) * (sx, sy)
        r = np.array(cyl["semi"], float) * (sx, sy) - shrink_mm
        zlo, zhi = (v * sz for v in cyl["z"])
        kz = np.flatnonzero((z >= zlo) & (z <= zhi))
        ky = np.flatnonzero(np.abs(y - c[1]) <= r[1])
        kx = np.flatnonzero(np.abs(x - c[0]) <= r[0])
        if not (kz.size and ky.size and kx.size) or np.any(r <= 0):
            return
        dy = ((y[ky] - c[1]) / r[1]) ** 2
        dx = ((x[kx] - c[0]) / r[0]) ** 2
        inside = np.broadcast_to(dy[:, None] + dx[None, :] <= 1.0, (kz.size, ky.size, kx.size))
    sub = target[kz[0] : kz[-1] + 1, ky[0] : ky[-1] + 1, kx[0] : kx[-1] + 1]
    sub[inside] = value


def ct_from_labels(labels: np.ndarray, label_hu: dict[int, float]) -> np.ndarray:
    """Noise-free CT (HU, float32): air (−1000) outside the body, each label its tissue HU."""
    lut = np.full(256, -1000.0, dtype=np.float32)
    for k, v in label_hu.items():
        lut[k] = v
    return lut[labels]


def build_patient_phantom(
    *,
    voxel_mm: float = 4.0,
    n_pixels: int | None = None,
    sex: str = "M",
    height_cm: float | None = None,
    weight_kg: float | None = None,
    z_range_mm: tuple[float, float] = (0.0, -1000.0),
) -> Phantom:
    """Voxelise the virtual patient.

    Args:
        voxel_mm: isotropic voxel size in mm.
        n_pixels: transaxial matrix (default: 600 mm field of view).
        sex: "M" or "F" (female: reference 163 cm / 60 kg, organs scaled by 0.93).
        height_cm, weight_kg: patient size (default: the ICRP 89 reference for ``sex``).
        z_range_mm: axial extent in the reference male's frame (vertex = 0, feet negative),
            scaled with height; default vertex to mid-thigh.
    """
    data = load("phantom")
    ref = data["reference"]
    sex = sex.upper()[:1]
    if sex not in ("M", "F"):
        raise NenscopeError(f"sex must be M or F, not {sex!r}")
    r = ref["male"] if sex == "M" else ref["female"]
    height_cm = float(height_cm or r["height_cm"])
    weight_kg = float(weight_kg or r["weight_kg"])
    if not (100 <= height_cm <= 230 and 25 <= weight_kg <= 250):
        raise NenscopeError("height must be 100-230 cm and weight 25-250 kg")
    male = ref["male"]
    s_h = height_cm / male["height_cm"]
    bmi_ratio = (weight_kg / male["weight_kg"]) / (s_h**2)
    s_body = float(np.sqrt(bmi_ratio)) * s_h  # trunk width grows with weight at given height
    s_org = s_h * (ref["female_organ_scale"] if sex == "F" else 1.0)
    fat_mm = ref["subcutaneous_fat_mm"] * bmi_ratio * (1.3 if sex == "F" else 1.0)

    if n_pixels is None:
        n_pixels = int(np.ceil(600.0 / voxel_mm / 2.0) * 2)
    width_needed = 2 * 190.0 * s_body + 20.0
    if n_pixels * voxel_mm < width_needed:
        raise NenscopeError(
            f"field of view {n_pixels * voxel_mm:.0f} mm is narrower than the "
            f"patient ({width_needed:.0f} mm): use more pixels"
        )
    z_top = z_range_mm[0] * s_h + 2 * voxel_mm
    nz = int(round((z_range_mm[0] - z_range_mm[1]) * s_h / voxel_mm))
    grid = Grid((nz, n_pixels, n_pixels), float(voxel_mm), float(z_top))
    labels = np.zeros(grid.shape, dtype=np.uint8)
    names: dict[int, str] = {}
    label_hu: dict[int, float] = {}
    organs = data["organ"]
    for org in organs:
        names[org["label"]] = org["name"]
        label_hu[org["label"]] = float(org["hu"])
    body = next(o for o in organs if o["name"] == "body")
    body_scale = (s_body, s_body, s_h)
    for shp in body["shapes"]:
        _paint(labels, grid, shp, body["label"], body_scale)
    # subcutaneous fat: the outer shell of the trunk and thighs
    inner = np.zeros(grid.shape, dtype=bool)
    for shp in body["shapes"]:
        if "cylinder" in shp and shp["cylinder"]["z"][1] < -280:
            _paint(labels, grid, shp, 0, body_scale, out=inner, shrink_mm=fat_mm)
    z, _, _ = grid.axes_mm()
    trunk = (z < -290 * s_h)[:, None, None]
    fat_id = next(o["label"] for o in organs if o["name"] == "fat")
    labels[(labels == body["label"]) & ~inner & trunk] = fat_id
    organ_scale = (s_org, s_org, s_h)
    for org in organs:
        if org["name"] in ("body", "fat"):
            continue
        for shp in org["shapes"]:
            _paint(labels, grid, shp, org["label"], organ_scale)
    labels[labels == 0] = 0
    stations = {
        k: tuple(float(c) * s for c, s in zip(v, organ_scale, strict=True))
        for k, v in data["lymph_node_stations"].items()
    }
    return Phantom(
        grid=grid,
        labels=labels,
        label_names=names,
        hu=ct_from_labels(labels, label_hu),
        sex=sex,
        height_cm=height_cm,
        weight_kg=weight_kg,
        lymph_node_stations_mm=stations,
    )
