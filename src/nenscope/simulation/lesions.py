"""Lesions of the virtual NET patient: sites, sizes, target expression and true Krenning score.

Expression levels come from the tumour type (WHO grade or insulinoma) through
``data/lesion_types.toml`` (cited); lesion uptake for a given agent comes from
``data/uptake.toml``. Lesions are spheres; their partial-voxel occupancy is computed by
supersampling so the activity truth is exact up to the sphere's voxelisation.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
from scipy import ndimage

from nenscope.errors import NenscopeError
from nenscope.simulation._data import load
from nenscope.simulation.phantom import Grid, Phantom

__all__ = [
    "KRENNING_BY_SSTR",
    "Lesion",
    "lesion_occupancy",
    "paint_lesion_hu",
    "place_lesions",
    "tumour_types",
]

# Krenning score (uptake vs liver and spleen) of each SSTR expression level, as the levels are
# defined in data/uptake.toml (the tests check every SSTR agent's lesion SUVs against it).
KRENNING_BY_SSTR = {"very_high": 4, "high": 3, "moderate": 2, "low": 1, "none": 0}

_SITE_ORGANS = {
    "liver": ("liver",),
    "pancreas": ("pancreas", "uncinate_process"),
    "small_bowel": ("bowel",),
    "mesentery": ("bowel",),
    "bone": ("red_marrow",),
    "lung": ("lungs",),
}


@dataclass
class Lesion:
    """One simulated lesion (a sphere) and its truth.

    ``center_mm`` is in DICOM patient coordinates (LPS, mm); ``expression`` maps each imaging
    target (sstr, glucose, glp1r, laat, net_transporter, fap, cxcr4, cck2r) to its level.
    ``krenning_true`` is the Krenning score of the expression level; on SSTR PET,
    ``krenning_image`` is the image-based truth (maximum of the noise-free blurred image
    against its liver and spleen means, :func:`nenscope.simulation.truth.image_krenning`),
    ``image_max_suv`` that maximum and ``krenning_boundary_distance`` the ratio's relative
    distance from the nearest grade boundary.
    """

    id: int
    site: str
    center_mm: tuple[float, float, float]
    diameter_mm: float
    tumour_type: str
    expression: dict[str, str]
    krenning_true: int
    primary: bool = False
    true_suv_mean: float | None = None
    hu: float | None = None
    image_max_suv: float | None = None
    krenning_image: int | None = None
    krenning_boundary_distance: float | None = None
    extra: dict = field(default_factory=dict)

    @property
    def sstr_expression(self) -> str:
        return self.expression["sstr"]

    @property
    def fdg_avidity(self) -> str:
        return self.expression["glucose"]

    @property
    def glp1r_expression(self) -> str:
        return self.expression["glp1r"]

    @property
    def volume_ml(self) -> float:
        return float(np.pi / 6.0 * self.diameter_mm**3 / 1000.0)

    def to_dict(self) -> dict:
        d = asdict(self)
        d.update(
            sstr_expression=self.sstr_expression,
            fdg_avidity=self.fdg_avidity,
            glp1r_expression=self.glp1r_expression,
            volume_ml=round(self.volume_ml, 3),
        )
        d["center_mm"] = [round(float(c), 2) for c in self.center_mm]
        return d


def tumour_types() -> list[str]:
    """Tumour types known to the lesion model (G1, G2, G3, insulinoma)."""
    return list(load("lesion_types")["type"])


def lesion_occupancy(grid: Grid, center_mm, diameter_mm: float, supersample: int = 4):
    """Fraction of each voxel inside a sphere, on the sphere's bounding box.

    Returns ``(slices, fraction)`` where ``slices`` index the grid and ``fraction`` is float32.
    """
    idx = grid.index_of(center_mm)
    r_vox = diameter_mm / 2.0 / grid.voxel_mm
    lo = np.maximum(np.floor(idx - r_vox - 1).astype(int), 0)
    hi = np.minimum(np.ceil(idx + r_vox + 1).astype(int) + 1, grid.shape)
    if np.any(hi <= lo):
        raise NenscopeError("lesion outside the field of view")
    s = supersample
    off = (np.arange(s) + 0.5) / s - 0.5
    axes = [
        np.add.outer(np.arange(a, b), off).ravel() - c for a, b, c in zip(lo, hi, idx, strict=True)
    ]
    d2 = axes[0][:, None, None] ** 2 + axes[1][None, :, None] ** 2 + axes[2][None, None, :] ** 2
    inside = (d2 <= r_vox**2).astype(np.float32)
    shape = tuple(int(b - a) for a, b in zip(lo, hi, strict=True))
    frac = inside.reshape(shape[0], s, shape[1], s, shape[2], s).mean(axis=(1, 3, 5))
    return tuple(slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True)), frac


def _candidate_centre(rng, phantom: Phantom, site: str, radius_mm: float, taken) -> np.ndarray:
    """Random centre (LPS mm) for a lesion at ``site``, away from the lesions in ``taken``."""
    g = phantom.grid
    z, y, x = g.axes_mm()
    for _attempt in range(40):
        if site == "lymph_node":
            names = sorted(phantom.lymph_node_stations_mm)
            c = np.array(phantom.lymph_node_stations_mm[names[rng.integers(len(names))]])
            c = c + rng.uniform(-8, 8, 3)
        else:
            mask = phantom.mask(*_SITE_ORGANS[site])
            if site == "mesentery":
                # mesenteric root: the upper, central bowel region
                root = np.array(phantom.lymph_node_stations_mm["mesenteric_root"])
                zz, yy, xx = np.meshgrid(z, y, x, indexing="ij", sparse=True)
                near = (zz - root[2]) ** 2 + (yy - root[1]) ** 2 + (xx - root[0]) ** 2 <= 70.0**2
                mask = mask & near
            need = radius_mm * (0.9 if site in ("liver", "lung") else 0.0)
            if need > 0:
                box = ndimage.find_objects(mask.astype(np.uint8))[0]
                box = tuple(slice(max(b.start - 1, 0), b.stop + 1) for b in box)
                dist = np.zeros(mask.shape, dtype=np.float32)
                dist[box] = ndimage.distance_transform_edt(mask[box], sampling=g.voxel_mm)
                cand = np.flatnonzero(dist.ravel() >= need)
            else:
                cand = np.flatnonzero(mask.ravel())
            if cand.size == 0:
                raise NenscopeError(f"no room for a {2 * radius_mm:.0f} mm lesion at site {site}")
            k, i, j = np.unravel_index(cand[rng.integers(cand.size)], g.shape)
            c = np.array([x[j], y[i], z[k]])
        if all(np.linalg.norm(c - t[0]) >= radius_mm + t[1] + 4.0 for t in taken):
            return c
    raise NenscopeError(f"could not place a lesion at site {site} without overlap")


def place_lesions(
    phantom: Phantom,
    n_lesions: int,
    tumour_type: str,
    rng: np.random.Generator,
    sites: list[str] | None = None,
) -> list[Lesion]:
    """Draw ``n_lesions`` lesions: the first is the primary (pancreas or small bowel), the
    others metastases at sites drawn with the frequencies of ``data/lesion_types.toml``.

    Args:
        sites: force these sites (one per lesion) instead of drawing them.
    """
    data = load("lesion_types")
    if tumour_type not in data["type"]:
        raise NenscopeError(
            f"unknown tumour type {tumour_type!r}; choose one of {', '.join(data['type'])}"
        )
    if n_lesions < 0 or n_lesions > 40:
        raise NenscopeError("the number of lesions must be 0-40")
    ttype = data["type"][tumour_type]
    site_tab = {k: v for k, v in data["sites"].items() if isinstance(v, dict)}
    meta = [k for k, v in site_tab.items() if v["weight"] > 0]
    weights = np.array([site_tab[k]["weight"] for k in meta], float)
    weights /= weights.sum()
    targets = [k for k in ttype if isinstance(ttype[k], list) and k != "primary_sites"]
    lesions: list[Lesion] = []
    taken: list[tuple[np.ndarray, float]] = []
    for n in range(n_lesions):
        if sites is not None:
            site = sites[n]
        elif n == 0:
            prim = ttype["primary_sites"]
            site = prim[rng.integers(len(prim))]
        elif tumour_type == "insulinoma":
            site = "liver"
        else:
            site = meta[rng.choice(len(meta), p=weights)]
        lo, hi = site_tab[site]["diameter_mm"]
        diameter = float(np.round(rng.uniform(lo, hi), 1))
        centre = _candidate_centre(rng, phantom, site, diameter / 2.0, taken)
        taken.append((centre, diameter / 2.0))
        expression = {t: ttype[t][rng.integers(len(ttype[t]))] for t in targets}
        lesions.append(
            Lesion(
                id=n + 1,
                site=site,
                center_mm=tuple(float(c) for c in centre),
                diameter_mm=diameter,
                tumour_type=tumour_type,
                expression=expression,
                krenning_true=KRENNING_BY_SSTR[expression["sstr"]],
                primary=(n == 0),
            )
        )
    return lesions


def paint_lesion_hu(hu: np.ndarray, grid: Grid, lesions: list[Lesion]) -> np.ndarray:
    """The CT (HU) with each lesion's sphere mixed in by partial volume at its site's CT number
    (``lesion_types.toml`` ``[lesion_hu]``); sets ``lesion.hu``. Returns a new array."""
    table = load("lesion_types")["lesion_hu"]
    out = np.array(hu, dtype=np.float32, copy=True)
    for les in lesions:
        les.hu = float(table[les.site])
        sl, frac = lesion_occupancy(grid, les.center_mm, les.diameter_mm)
        sub = out[sl]
        sub *= 1.0 - frac
        sub += frac * np.float32(les.hu)
    return out
