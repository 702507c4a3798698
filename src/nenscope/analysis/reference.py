"""Reference regions (liver, spleen, blood pool) found from the PET (and CT), no downloads.

Method (built-in, "automatic"):

1. Work on a coarse grid (block means to voxels of >= 7 mm, so the later passes are cheap).
2. Local mean and SD of SUV in a ~30 mm box (two separable box filters): organs with
   physiological uptake are large *homogeneous* regions, i.e. low local coefficient of
   variation. With a CT, the local CT mean must also lie in the soft-tissue window.
3. Connected components (cc3d) of the homogeneous voxels. The liver is the component on the
   patient's right (LPS x below the body midline by >= 30 mm) with the largest
   volume x uptake; the spleen the largest such component on the left, posterior, at the
   liver's level. The blood pool (the descending aorta, PERCIST) is found after the lesions,
   with the kidneys as anchors (:mod:`nenscope.analysis.bloodpool`), unless a ``blood_pool``
   or ``aorta`` mask is given.
4. Statistics in a sphere (PERCIST: a 3 cm diameter sphere in the right liver lobe; Wahl RL
   et al., J Nucl Med 2009;50 Suppl 1:122S) at the point deepest inside the homogeneous core
   (largest distance to its border), so lesions and organ edges stay outside it.
5. Whole-organ masks (for suppression and lesion sites): the core grown geodesically through
   voxels of organ-like uptake (within 3 SD of the core), hole-filled (lesions inside the
   organ), then two coarse voxels out to half the organ mean (the blurred edge).

User masks (NIfTI, DICOM-SEG, RTSTRUCT via :mod:`nenscope.imaging`) replace step 3 for the
organs they name; TotalSegmentator, when the user has it installed, is another mask source.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import cc3d
import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from nenscope.analysis._geometry import ball_mask, median_robust_sd, patient_axes
from nenscope.imaging.geometry import MAD_TO_SD

__all__ = ["ReferenceRegion", "ReferenceRegions", "find_reference_regions", "body_mask"]

_WINDOW_MM = 30.0
_COARSE_MM = 8.0
_SIDE_OFFSET_MM = 30.0
_VOI_RADIUS_MM = 15.0  # PERCIST: 3 cm diameter liver sphere


@dataclass
class ReferenceRegion:
    """Statistics of one reference region (VOI) and where it came from.

    Attributes:
        name: ``"liver"``, ``"spleen"`` or ``"blood_pool"``.
        suv_mean: mean SUV in the VOI.
        suv_sd: standard deviation of SUV in the VOI.
        voi_volume_ml: VOI volume in ml.
        center_mm: VOI centre in DICOM patient coordinates (LPS, mm).
        origin: ``"automatic"``, ``"user"`` or ``"totalsegmentator"``.
        organ_volume_ml: volume of the whole-organ mask in ml (``None`` for the blood pool).
    """

    name: str
    suv_mean: float
    suv_sd: float
    voi_volume_ml: float
    center_mm: tuple[float, float, float]
    origin: str
    organ_volume_ml: float | None = None
    voi_radius_mm: float | None = None
    voi_center_ijk: tuple[float, float, float] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "suv_mean": round(self.suv_mean, 4),
            "suv_sd": round(self.suv_sd, 4),
            "voi_volume_ml": round(self.voi_volume_ml, 3),
            "center_mm": [round(c, 2) for c in self.center_mm],
            "origin": self.origin,
            "organ_volume_ml": None
            if self.organ_volume_ml is None
            else round(self.organ_volume_ml, 1),
        }


@dataclass
class ReferenceRegions:
    """Liver, spleen and blood-pool references plus the organ masks found on the way.

    ``masks`` holds whole-organ boolean masks on the emission grid (``"liver"``, ``"spleen"``
    and every user mask); they are used for suppression and lesion sites, not serialised.
    """

    liver: ReferenceRegion | None = None
    spleen: ReferenceRegion | None = None
    blood_pool: ReferenceRegion | None = None
    masks: dict[str, NDArray[np.bool_]] = field(default_factory=dict, repr=False)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "liver_suv_mean": None if self.liver is None else round(self.liver.suv_mean, 4),
            "liver_suv_sd": None if self.liver is None else round(self.liver.suv_sd, 4),
            "spleen_suv_mean": None if self.spleen is None else round(self.spleen.suv_mean, 4),
            "blood_pool_suv_mean": None
            if self.blood_pool is None
            else round(self.blood_pool.suv_mean, 4),
        }
        for reg in (self.liver, self.spleen, self.blood_pool):
            if reg is not None:
                out[reg.name] = reg.to_dict()
        out["notes"] = list(self.notes)
        return out


def _block_mean(a: NDArray, f: tuple[int, int, int]) -> NDArray[np.float32]:
    """Mean over non-overlapping f0 x f1 x f2 blocks (edges padded by repetition)."""
    pad = [(0, (-s) % k) for s, k in zip(a.shape, f, strict=True)]
    if any(p[1] for p in pad):
        a = np.pad(a, pad, mode="edge")
    s = a.shape
    return (
        a.reshape(s[0] // f[0], f[0], s[1] // f[1], f[1], s[2] // f[2], f[2])
        .mean(axis=(1, 3, 5), dtype=np.float32)
        .astype(np.float32)
    )


def _upsample(mask: NDArray[np.bool_], f: tuple[int, int, int], shape: tuple[int, ...]) -> NDArray:
    """Nearest-neighbour inverse of :func:`_block_mean` for masks."""
    out = mask
    for ax, k in enumerate(f):
        if k > 1:
            out = np.repeat(out, k, axis=ax)
    return out[: shape[0], : shape[1], : shape[2]]


def body_mask(
    suv: NDArray, spacing_mm: tuple[float, float, float], z_axis: int
) -> NDArray[np.bool_]:
    """Patient body: smoothed SUV above 0.15, largest component, holes filled per slice."""
    sm = ndimage.uniform_filter(suv, size=3)
    m = sm > 0.15
    if not m.any():
        return m
    lab = cc3d.largest_k(m, k=1, connectivity=6)
    m = lab > 0
    # fill the lungs and other cold cavities slice by slice (transverse planes), inside the
    # body's bounding box grown by a voxel: its border is background joined to the outside,
    # so the holes are those of the whole slice (issue 17: 12-16 % of a clinical grid)
    box = tuple(
        slice(max(0, s.start - 1), s.stop + 1) for s in ndimage.find_objects(m.view(np.uint8))[0]
    )
    sub = m[box]
    for i in range(sub.shape[z_axis]):
        sl = [slice(None)] * 3
        sl[z_axis] = i
        sub[tuple(sl)] = ndimage.binary_fill_holes(sub[tuple(sl)])
    return m


def voi_stats(
    suv: NDArray,
    region_mask: NDArray[np.bool_],
    centre_ijk: NDArray,
    radius_mm: float,
    spacing_mm: tuple[float, float, float],
) -> tuple[float, float, int]:
    """Mean, SD and voxel count of SUV in a sphere at ``centre_ijk`` intersected with the mask."""
    ball = ball_mask(radius_mm, spacing_mm)
    half = np.array(ball.shape) // 2
    c = np.round(centre_ijk).astype(int)
    lo = c - half
    hi = c + half + 1
    src = tuple(slice(max(0, a), min(s, b)) for a, b, s in zip(lo, hi, suv.shape, strict=True))
    bsl = tuple(
        slice(max(0, a) - a, (min(s, b) - a)) for a, b, s in zip(lo, hi, suv.shape, strict=True)
    )
    sel = ball[bsl] & region_mask[src]
    vals = suv[src][sel]
    if vals.size == 0:
        return float("nan"), float("nan"), 0
    return float(vals.mean()), float(vals.std(ddof=1) if vals.size > 1 else 0.0), int(vals.size)


def _deepest_point(
    mask: NDArray[np.bool_],
    spacing: tuple[float, ...],
    *,
    cov: NDArray | None = None,
    depth_mm: float = _VOI_RADIUS_MM,
) -> tuple[NDArray, float]:
    """VOI centre inside ``mask`` and its distance to the border (mm).

    Without ``cov``: the point farthest from the border. With ``cov`` (local coefficient of
    variation on the same grid): among the points at least ``depth_mm`` deep (or the deepest
    ones), the most homogeneous, so the VOI avoids lesions near the organ's centre.
    """
    sl = ndimage.find_objects(mask.astype(np.uint8))[0]
    box = tuple(slice(max(0, s.start - 1), s.stop + 1) for s in sl)
    edt = ndimage.distance_transform_edt(mask[box], sampling=spacing)
    if cov is None:
        k = np.unravel_index(int(np.argmax(edt)), edt.shape)
    else:
        need = min(depth_mm, 0.8 * float(edt.max()))
        score = np.where(edt >= need, cov[box], np.inf)
        k = np.unravel_index(int(np.argmin(score)), edt.shape)
    return np.array(k, dtype=float) + np.array([b.start for b in box]), float(edt[k])


def _refine(
    mask: NDArray[np.bool_], suv: NDArray, organ_mean: float, f: tuple[int, ...]
) -> NDArray[np.bool_]:
    """Full-resolution edge of an organ mask found on the coarse grid.

    The coarse blocks straddling the organ edge were dropped; grow the upsampled mask by up
    to one block (plus a voxel) into voxels of the lightly smoothed SUV above half the organ
    mean and not above the organ's own uptake (median + 3 robust SD inside the mask),
    within the mask's bounding box only.
    """
    objs = ndimage.find_objects(mask.astype(np.uint8))
    if not objs or objs[0] is None:
        return mask
    steps = max(f) + 1
    box = tuple(
        slice(max(0, s.start - steps), min(d, s.stop + steps))
        for s, d in zip(objs[0], mask.shape, strict=True)
    )
    light = ndimage.gaussian_filter(np.asarray(suv[box], dtype=np.float32), 1.0)
    inner = light[mask[box]]
    med = float(np.median(inner))
    upper = med + 3.0 * MAD_TO_SD * float(np.median(np.abs(inner - med)))
    # the blurred edge lies between half the organ mean and the organ's own uptake; hotter
    # voxels next to the organ belong to something else (a lesion on its surface)
    allowed = (light > 0.5 * organ_mean) & (light <= upper)
    grown = ndimage.binary_dilation(mask[box], iterations=steps, mask=allowed) | mask[box]
    out = mask.copy()
    out[box] = grown
    return out


@dataclass(eq=False)
class _Coarse:
    """The coarse grid of the automatic search (block means of >= 8 mm) and its maps.

    ``raw``: block means; ``smooth``: the same after a one-voxel Gaussian; ``mean``/``sd``:
    local mean and SD of ``smooth`` in the ~30 mm window ``win``; ``body``/``body_core``:
    the body (and it eroded by a block); ``homog``: homogeneous body tissue (with a CT, of
    soft-tissue density); ``mid``: coarse index of the body centroid; ``sign``: index
    direction -> +L, +P, +S along the array axes of patient x, y, z (``axes``).
    """

    suv: NDArray[np.float32]
    spacing: tuple[float, float, float]
    affine: NDArray[np.float64]
    axes: tuple[int, int, int]
    sign: NDArray[np.float64]
    f: tuple[int, int, int]
    cs: tuple[float, float, float]
    raw: NDArray[np.float32]
    smooth: NDArray
    win: list[int]
    mean: NDArray
    sd: NDArray
    body: NDArray[np.bool_]
    body_core: NDArray[np.bool_]
    body_median: float
    homog: NDArray[np.bool_]
    ct_mean: NDArray | None
    mid: list[float]

    def mm(self, patient_axis: int, coarse_index: float | NDArray) -> float | NDArray:
        """Body-relative position (mm) along patient x, y or z (0, 1, 2) of a coarse index."""
        ax = self.axes[patient_axis]
        return (coarse_index - self.mid[ax]) * self.cs[ax] * self.sign[patient_axis]

    @property
    def voxel_ml(self) -> float:
        return float(np.prod(self.spacing)) / 1000.0


def _coarse_grid(
    suv: NDArray[np.float32],
    spacing_mm: tuple[float, float, float],
    affine: NDArray,
    ct_hu: NDArray | None,
    body: NDArray[np.bool_] | None,
) -> _Coarse:
    """Steps 1-2: block means, local mean and SD, homogeneous body tissue."""
    axes = patient_axes(affine)
    a = np.asarray(affine, dtype=float)
    sign = np.sign(np.array([a[0, axes[0]], a[1, axes[1]], a[2, axes[2]]]))
    f = tuple(max(1, int(round(_COARSE_MM / s))) for s in spacing_mm)
    cs = tuple(s * k for s, k in zip(spacing_mm, f, strict=True))
    # block means, then a one-voxel Gaussian: reconstructed PET noise (20-35 % per 4 mm voxel
    # at clinical counts) would otherwise hide the organs' homogeneity
    coarse_raw = _block_mean(suv, f)  # type: ignore[arg-type]
    coarse = ndimage.gaussian_filter(coarse_raw, 1.0)
    # odd box sizes not larger than the 30 mm window (a 40 mm box rarely fits in a spleen)
    win = [max(3, n - 1 if n % 2 == 0 else n) for n in (int(round(_WINDOW_MM / s)) for s in cs)]
    m1 = ndimage.uniform_filter(coarse, size=win)
    m2 = ndimage.uniform_filter(coarse * coarse, size=win)
    sd = np.sqrt(np.maximum(m2 - m1 * m1, 0.0))
    if body is None:
        body = body_mask(suv, spacing_mm, axes[2])
    body_c = _block_mean(body.astype(np.float32), f) > 0.5  # type: ignore[arg-type]
    body_core = ndimage.binary_erosion(body_c, iterations=1)
    body_median = float(np.median(coarse[body_c])) if body_c.any() else 0.0
    # organ candidates: homogeneous (and with a CT, soft tissue)
    homog = body_core & (sd < 0.15 * m1)
    ct_m = None
    if ct_hu is not None:
        ct_c = _block_mean(np.asarray(ct_hu, dtype=np.float32), f)  # type: ignore[arg-type]
        ct_m = ndimage.uniform_filter(ct_c, size=win)
        homog &= (ct_m > -30.0) & (ct_m < 150.0)
    mid = [float(np.mean(i)) for i in np.nonzero(body_c)] if body_c.any() else []
    return _Coarse(
        suv=suv,
        spacing=spacing_mm,
        affine=a,
        axes=axes,
        sign=sign,
        f=f,  # type: ignore[arg-type]
        cs=cs,  # type: ignore[arg-type]
        raw=coarse_raw,
        smooth=coarse,
        win=win,
        mean=m1,
        sd=sd,
        body=body_c,
        body_core=body_core,
        body_median=body_median,
        homog=homog,
        ct_mean=ct_m,
        mid=mid,
    )


def _components(g: _Coarse, erosions: int, homog: NDArray) -> tuple[NDArray, list[dict[str, Any]]]:
    """Step 3: connected components of ``homog`` (>= 5 ml) with volume, mean, position.

    Erosions break the thin bridges of homogeneous tissue between neighbouring organs (liver
    to mediastinal blood pool, heart, kidney); components grow back in ``homog``.
    """
    core = ndimage.binary_erosion(homog, iterations=erosions) if erosions else homog
    labels, n = cc3d.connected_components(core, connectivity=6 if erosions else 26, return_N=True)
    for _ in range(erosions if n else 0):
        grown_lab = ndimage.grey_dilation(labels, size=(3, 3, 3))
        labels = np.where(homog & (labels == 0), grown_lab, labels).astype(labels.dtype)
    comps: list[dict[str, Any]] = []
    if not n:
        return labels, comps
    counts = np.bincount(labels.ravel(), minlength=n + 1)
    sums = np.bincount(labels.ravel(), weights=g.smooth.ravel(), minlength=n + 1)
    coords = [
        np.bincount(labels.ravel(), weights=i.ravel(), minlength=n + 1)
        for i in np.indices(labels.shape, sparse=False)
    ]
    zz = np.indices(labels.shape)[g.axes[2]]
    zmin = ndimage.minimum(zz, labels, index=np.arange(1, n + 1))
    zmax = ndimage.maximum(zz, labels, index=np.arange(1, n + 1))
    cvox_ml = float(np.prod(g.cs)) / 1000.0
    for lab in range(1, n + 1):
        c = counts[lab]
        if c * cvox_ml < 5.0:
            continue
        cen = [coords[ax][lab] / c for ax in range(3)]
        z_lo, z_hi = sorted((g.mm(2, zmin[lab - 1]), g.mm(2, zmax[lab - 1])))
        comps.append(
            {
                "label": lab,
                "volume_ml": c * cvox_ml,
                "mean": sums[lab] / c,
                "x": g.mm(0, cen[g.axes[0]]),  # + = patient left
                "y": g.mm(1, cen[g.axes[1]]),  # + = posterior
                "z": g.mm(2, cen[g.axes[2]]),  # + = superior
                "z_lo": z_lo,
                "z_hi": z_hi,
            }
        )
    return labels, comps


def _liver_candidates(g: _Coarse, comps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """On the patient's right, large, and clearly above the median body tissue."""
    return [
        c
        for c in comps
        if c["x"] <= -_SIDE_OFFSET_MM
        and c["volume_ml"] >= 100.0
        and c["mean"] >= 1.5 * g.body_median
    ]


def _search(g: _Coarse) -> tuple[NDArray, list[dict[str, Any]]]:
    """Components of the homogeneous tissue clearly above the median body tissue (muscle,
    fat). Without a liver candidate (it merged with its neighbours; FDG: blood pool, bowel
    and spleen take up almost as much) the uptake floor is raised, then thicker bridges are
    cut; the last try's components are returned when none has one."""
    for mult in (1.5, 2.0, 2.5):
        homog = g.homog & (g.mean > max(0.3, mult * g.body_median))
        for erosions in (0, 1, 2):
            labels, comps = _components(g, erosions, homog)
            if _liver_candidates(g, comps):
                return labels, comps
    return labels, comps


def _organ_from_component(
    g: _Coarse, labels: NDArray, comp: dict[str, Any]
) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    """Step 5 on the coarse grid: the organ's homogeneous core and its grown whole mask."""
    core = labels == comp["label"]
    # the organ's own uptake: median and robust SD of the unfiltered block means (the
    # Gaussian-filtered ones make a hotter neighbour, e.g. the kidney next to the liver,
    # look organ-like, and the plain SD is inflated by whatever the core took in)
    c_mean, c_sd = median_robust_sd(g.raw[core])
    tol = 2.5 * c_sd + 0.05 * c_mean
    organ_like = np.abs(g.raw - c_mean) <= tol
    # the homogeneity window joins a hot neighbour's interior to the core: keep the
    # organ-like blocks of the core, in one piece
    trimmed = core & organ_like
    if trimmed.any():
        core = cc3d.largest_k(trimmed, k=1, connectivity=26) > 0
    # geodesic growth through organ-like uptake (within 2.5 robust SD of the core's block
    # means), at most about half a window away, then out to half the organ mean (the PSF
    # midpoint)
    similar = g.body & organ_like
    grown = ndimage.binary_dilation(core, iterations=max(1, max(g.win) // 2 + 1), mask=similar)
    grown = ndimage.binary_fill_holes(grown)
    # the blurred edge of an organ is cooler than the organ: the edge growth stops at
    # tissue hotter than it (a pancreatic NET on the liver or the spleen is not organ)
    edge = g.body & (g.raw > 0.5 * comp["mean"]) & (g.raw <= c_mean + tol)
    grown = ndimage.binary_dilation(grown, iterations=2, mask=edge) | core
    grown = ndimage.binary_fill_holes(ndimage.binary_closing(grown, iterations=1) | grown)
    return core, grown


def _organ_mask(g: _Coarse, labels: NDArray, comp: dict[str, Any]) -> tuple[NDArray, NDArray]:
    """Coarse core and full-resolution whole-organ mask of an automatic organ."""
    core, grown = _organ_from_component(g, labels, comp)
    full = _refine(_upsample(grown, g.f, g.suv.shape), g.suv, comp["mean"], g.f)  # type: ignore[arg-type]
    return core, full


def _region(
    g: _Coarse,
    notes: list[str],
    name: str,
    core_c: NDArray | None,
    organ_full: NDArray,
    origin: str,
) -> ReferenceRegion | None:
    """Step 4: the reference VOI of an organ (automatic core, or a given mask) and its
    statistics; ``None`` (with a note) when the VOI is empty."""
    f = np.array(g.f)
    if core_c is not None:
        centre_c, depth = _deepest_point(core_c, g.cs, cov=g.sd / np.maximum(g.mean, 1e-6))
        centre = (centre_c + 0.5) * f - 0.5
        region_mask = _upsample(core_c, g.f, g.suv.shape) | organ_full  # type: ignore[arg-type]
    else:
        # a given organ mask: the most homogeneous deep point of its coarse version, so
        # the VOI avoids metastases inside the organ
        mask_c = _block_mean(organ_full.astype(np.float32), g.f) > 0.5  # type: ignore[arg-type]
        if mask_c.sum() >= 8:
            centre_c, depth = _deepest_point(mask_c, g.cs, cov=g.sd / np.maximum(g.mean, 1e-6))
            centre = (centre_c + 0.5) * f - 0.5
        else:
            centre, depth = _deepest_point(organ_full, g.spacing)
        region_mask = organ_full
    radius = float(np.clip(depth, 2.0 * max(g.spacing), _VOI_RADIUS_MM))
    mean, sdv, nvox = voi_stats(g.suv, region_mask, centre, radius, g.spacing)
    if nvox == 0 or not np.isfinite(mean):
        notes.append(f"{name}: empty reference VOI")
        return None
    a = g.affine
    return ReferenceRegion(
        name=name,
        suv_mean=mean,
        suv_sd=sdv,
        voi_volume_ml=nvox * g.voxel_ml,
        center_mm=tuple(float(v) for v in (a[:3, :3] @ centre + a[:3, 3])),  # type: ignore[arg-type]
        origin=origin,
        organ_volume_ml=float(organ_full.sum()) * g.voxel_ml if name != "blood_pool" else None,
        voi_radius_mm=radius,
        voi_center_ijk=tuple(float(c) for c in centre),  # type: ignore[arg-type]
    )


def _liver_level(g: _Coarse, regions: ReferenceRegions) -> dict[str, Any] | None:
    """A given liver mask's level (z centre and extent, mm), which anchors the spleen and
    blood-pool searches like a found liver."""
    lc = _block_mean(regions.masks["liver"].astype(np.float32), g.f) > 0.5  # type: ignore[arg-type]
    if not lc.any():
        return None
    zi = np.nonzero(lc)[g.axes[2]].astype(float)
    zs = sorted((g.mm(2, zi.min()), g.mm(2, zi.max())))
    return {
        "z": g.mm(2, float(zi.mean())),
        "z_lo": zs[0],
        "z_hi": zs[1],
        "label": -1,
        "mean": regions.liver.suv_mean if regions.liver else 0.0,
    }


def _find_spleen(
    g: _Coarse,
    regions: ReferenceRegions,
    labels: NDArray,
    comps: list[dict[str, Any]],
    liver_comp: dict[str, Any] | None,
) -> None:
    """The largest volume x uptake component on the left, posterior, at the liver's level.

    The spleen lies at the liver's level, the kidneys below: centroid no more than 40 mm
    below the liver's (spleen > kidney cortex on SSTR).
    """
    left = [
        c
        for c in comps
        if c["x"] >= _SIDE_OFFSET_MM
        and 10.0 <= c["volume_ml"] <= 1500.0
        and c["y"] > -20.0
        and (liver_comp is None or liver_comp["z_lo"] - 20 <= c["z"] <= liver_comp["z_hi"] + 20)
    ]
    if liver_comp is not None:
        left = [c for c in left if c["z"] >= liver_comp["z"] - 40.0]
    if not left or liver_comp is None:
        regions.notes.append("spleen not found automatically")
        return
    sp_comp = max(left, key=lambda c: c["volume_ml"] * c["mean"])
    core, full = _organ_mask(g, labels, sp_comp)
    regions.masks["spleen"] = full
    regions.spleen = _region(g, regions.notes, "spleen", core, full, "automatic")


def find_reference_regions(
    suv: NDArray,
    spacing_mm: tuple[float, float, float],
    affine: NDArray,
    *,
    ct_hu: NDArray | None = None,
    masks: dict[str, NDArray[np.bool_]] | None = None,
    mask_origin: str = "user",
    body: NDArray[np.bool_] | None = None,
) -> ReferenceRegions:
    """Find the liver, spleen and blood-pool references of one SUV volume.

    Args:
        suv: SUV array on the emission grid.
        spacing_mm: voxel spacing along the array axes, mm.
        affine: index -> LPS mm affine of ``suv`` (patient orientation of the axes).
        ct_hu: CT in HU resampled onto the same grid, or ``None`` (PET-only).
        masks: organ masks on the same grid; ``"liver"``, ``"spleen"``, ``"blood_pool"``
            (or ``"aorta"``) replace the automatic search for that organ.
        mask_origin: how the masks were made (``"user"``, ``"totalsegmentator"``, ...).
        body: body mask when already computed.

    Returns:
        :class:`ReferenceRegions`; an organ that cannot be found is ``None`` with a note.
    """
    masks = dict(masks or {})
    g = _coarse_grid(np.asarray(suv, dtype=np.float32), spacing_mm, affine, ct_hu, body)
    regions = ReferenceRegions()
    if not g.body.any():
        regions.notes.append("no body found in the emission volume")
        return regions
    labels, comps = _search(g)

    # ---- liver
    liver_comp = None
    if "liver" in masks and masks["liver"].any():
        regions.masks["liver"] = masks["liver"]
        regions.liver = _region(g, regions.notes, "liver", None, masks["liver"], mask_origin)
    elif right := _liver_candidates(g, comps):
        liver_comp = max(right, key=lambda c: c["volume_ml"] * c["mean"])
        core, full = _organ_mask(g, labels, liver_comp)
        regions.masks["liver"] = full
        regions.liver = _region(g, regions.notes, "liver", core, full, "automatic")
    else:
        regions.notes.append("liver not found automatically (not in the field of view?)")
    if liver_comp is None and "liver" in regions.masks:
        liver_comp = _liver_level(g, regions)

    # ---- spleen
    if "spleen" in masks and masks["spleen"].any():
        regions.masks["spleen"] = masks["spleen"]
        regions.spleen = _region(g, regions.notes, "spleen", None, masks["spleen"], mask_origin)
    else:
        _find_spleen(g, regions, labels, comps, liver_comp)

    # ---- blood pool
    bp_key = next((k for k in ("blood_pool", "aorta") if k in masks and masks[k].any()), None)
    if bp_key is not None:
        regions.blood_pool = _region(
            g, regions.notes, "blood_pool", None, masks[bp_key], mask_origin
        )
    for k, v in masks.items():
        regions.masks.setdefault(k, v)
    return regions
