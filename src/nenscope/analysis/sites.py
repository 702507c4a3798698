"""Anatomical site of each lesion, from organ masks, the CT and position (no atlas needed).

The site decides SSTR-RADS 1.0 (3B bone, 3C at a site atypical for NET; Werner RA et al.,
J Nucl Med 2018;59:1085-1091) and the report's wording. In order:

1. an organ mask (user, TotalSegmentator/MOOSE, or the automatic liver and spleen) holding at
   least half the lesion names it (``pancreas`` split into head, body and tail by thirds of
   the gland's left-right extent);
2. with a CT: ``bone`` when the lesion or its 5 mm shell is of bone density (>= 150 HU
   median shell, >= 200 HU lesion mean), ``lung`` when its shell is mostly aerated lung
   (median < -300 HU);
3. position, in body-relative patient millimetres (+x left, +y posterior, +z superior;
   :class:`~nenscope.analysis.organs.OrganAnchors`), against the liver's z range and the
   recognised kidneys (their mean position stands for the spine: midline, depth):

   - above the liver's top by > 300 mm ``brain/meninges``; 180-300 mm ``thyroid`` (within
     35 mm of the midline, anterior) or ``lymph node`` (neck);
   - ``adrenal``: the gland prior of :mod:`~nenscope.analysis.physiology` (on a kidney's
     side, medial or above it, from 30 mm below to 60 mm above its upper pole, not more
     than 20 mm in front of it);
   - ``pancreas head/body/tail``: 15-80 mm in front of the kidneys, from 15 mm below their
     centres to 25 mm above their upper poles, between the right kidney's centre (+10 mm)
     and 30 mm beyond the left one's; head right of 20 mm left of the midline... (the
     aorta lies ~20 mm left of the midline and the head right of it, the tail towards the
     splenic hilum more than 55 mm left of it);
   - ``lymph node``: retroperitoneal (within 55 mm of the midline, 10-75 mm in front of the
     kidneys' depth, below the pancreas band and above the pelvis), or mediastinal (above
     the liver's top, within 40 mm of the midline, outside the lung);
   - ``bowel/mesentery``: the abdomen below the liver's top in front of those boxes;
   - ``breast``: the anterior chest wall (60 mm in front of the body centre, >= 30 mm
     lateral, at the level of the lungs);
   - otherwise ``other``.

These are the anatomy of any adult (e.g. the ICRP 110 reference phantoms): pragmatic priors
for naming, with the same frame as the physiological-uptake priors. An organ mask always
wins; the positions serve the automatic mode.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from nenscope.analysis.physiology import ComponentInfo

__all__ = ["SITES", "SiteContext", "lesion_site", "site_of_mask"]

# the site names the analysis uses (the report prints them as they are)
SITES = (
    "liver",
    "spleen",
    "kidney",
    "adrenal",
    "pancreas head",
    "pancreas body",
    "pancreas tail",
    "pancreas",
    "lung",
    "bone",
    "lymph node",
    "bowel/mesentery",
    "brain/meninges",
    "breast",
    "thyroid",
    "other",
)

# organ-mask names (nenscope, TotalSegmentator v2, MOOSE after imaging.organ_masks) -> site
_MASK_SITES = (
    (("liver",), "liver"),
    (("spleen",), "spleen"),
    (("kidney", "renal"), "kidney"),
    (("adrenal",), "adrenal"),
    (("pancreas", "uncinate"), "pancreas"),
    (("lung", "lungs"), "lung"),
    (("thyroid",), "thyroid"),
    (("brain", "meninges", "skull"), "brain/meninges"),
    (("breast",), "breast"),
    (
        ("small_bowel", "colon", "duodenum", "bowel", "intestine", "stomach", "mesentery"),
        "bowel/mesentery",
    ),
    (
        (
            "bone",
            "red_marrow",
            "vertebra",
            "vertebrae",
            "rib",
            "sacrum",
            "hip",
            "femur",
            "humerus",
            "scapula",
            "clavicula",
            "sternum",
            "spine",
            "skeleton",
        ),
        "bone",
    ),
    (("lymph", "lymph_node", "lymph_nodes"), "lymph node"),
)
_BONE_HU = 200.0
_BONE_SHELL_HU = 150.0
_LUNG_SHELL_HU = -300.0


def site_of_mask(name: str) -> str | None:
    """The site an organ-mask name stands for (``"kidney_left"`` -> ``"kidney"``), or ``None``
    for masks that name no site (body, fat, aorta, heart, ...)."""
    key = name.lower().replace(" ", "_").replace("-", "_")
    for prefixes, site in _MASK_SITES:
        if any(key == p or key.startswith(p + "_") or key.endswith("_" + p) for p in prefixes):
            return site
    return None


@dataclass(eq=False)
class SiteContext:
    """What the site rules need for one emission volume.

    Attributes:
        masks: organ masks on the emission grid (names as given; automatic liver/spleen).
        affine: 4x4 index -> LPS (mm) affine.
        body_centroid_ijk: the body centroid (positions are relative to it).
        liver_z_range_mm: body-relative z extent of the liver, or ``None`` (no priors then).
        kidneys: the recognised kidneys (automatic components or kidney masks).
        ct_hu: CT (HU) on the emission grid, or ``None``.
    """

    masks: dict[str, NDArray[np.bool_]]
    affine: NDArray
    body_centroid_ijk: NDArray
    liver_z_range_mm: tuple[float, float] | None
    kidneys: list[ComponentInfo] = field(default_factory=list)
    ct_hu: NDArray | None = None

    def position_mm(self, ijk: NDArray) -> NDArray:
        """Body-relative LPS position (mm) of an index position."""
        a = np.asarray(self.affine, dtype=float)
        return (np.asarray(ijk, dtype=float) - self.body_centroid_ijk) @ a[:3, :3].T


def _pancreas_part(ctx: SiteContext, mask_name: str, lesion_ijk: NDArray) -> str:
    """Head, body or tail by thirds of the pancreas mask's left-right (x) extent."""
    m = ctx.masks[mask_name]
    objs = ndimage.find_objects(m.astype(np.uint8))
    if not objs or objs[0] is None:
        return "pancreas"
    sl = objs[0]
    corners = np.array([[s.start, s.stop - 1] for s in sl], dtype=float)
    xs = [
        ctx.position_mm(np.array([a, b, c]))[0]
        for a in corners[0]
        for b in corners[1]
        for c in corners[2]
    ]
    lo, hi = min(xs), max(xs)
    x = ctx.position_mm(lesion_ijk)[0]
    third = (hi - lo) / 3.0
    if third <= 0:
        return "pancreas"
    return (
        "pancreas head"
        if x < lo + third
        else "pancreas body"
        if x < lo + 2 * third
        else "pancreas tail"
    )


def _from_masks(
    ctx: SiteContext, lesion: NDArray[np.bool_], box: tuple[slice, ...], centre_ijk: NDArray
) -> str | None:
    n = int(lesion.sum())
    best, best_frac = None, 0.0
    for name, m in ctx.masks.items():
        if site_of_mask(name) is None:
            continue
        frac = float((m[box] & lesion).sum()) / max(n, 1)
        if frac > best_frac:
            best, best_frac = name, frac
    if best is None or best_frac < 0.5:
        return None
    site = site_of_mask(best)
    if site == "pancreas":
        return _pancreas_part(ctx, best, centre_ijk)
    return site


def _from_ct(lesion: NDArray[np.bool_], ct_crop: NDArray) -> str | None:
    shell = ndimage.binary_dilation(lesion, iterations=2) & ~lesion
    if float(ct_crop[lesion].mean()) >= _BONE_HU:
        return "bone"
    if not shell.any():
        return None
    shell_hu = float(np.median(ct_crop[shell]))
    if shell_hu >= _BONE_SHELL_HU:
        return "bone"
    if shell_hu < _LUNG_SHELL_HU:
        return "lung"
    return None


@dataclass(frozen=True)
class _Frame:
    """The kidneys' mean position (spine proxy) and the liver's top, body-relative mm."""

    mid_x: float
    depth_y: float
    kidney_z: float
    kidney_top: float
    right_x: float
    left_x: float
    liver_top: float


def _frame(ctx: SiteContext) -> _Frame | None:
    if ctx.liver_z_range_mm is None or not ctx.kidneys:
        return None
    ks = ctx.kidneys
    xs = [k.x_mm for k in ks]
    return _Frame(
        mid_x=float(np.mean(xs)) if len(ks) >= 2 else 0.0,
        depth_y=float(np.mean([k.y_mm for k in ks])),
        kidney_z=float(np.mean([k.z_mm for k in ks])),
        kidney_top=float(np.mean([k.z_hi_mm for k in ks])),
        right_x=min(min(xs), -40.0),
        left_x=max(max(xs), 40.0),
        liver_top=ctx.liver_z_range_mm[1],
    )


def _adrenal(p: NDArray, kidneys: list[ComponentInfo], volume_ml: float) -> bool:
    x, y, z = p
    return volume_ml <= 20.0 and any(
        np.sign(x) == np.sign(k.x_mm)
        and 10.0 <= abs(x) <= abs(k.x_mm) + 15.0
        and y >= k.y_mm - 20.0
        and k.z_hi_mm - 30.0 <= z <= k.z_hi_mm + 60.0
        for k in kidneys
    )


def _by_position(p: NDArray, f: _Frame, volume_ml: float, kidneys: list[ComponentInfo]) -> str:
    """Step 3 of the module docstring."""
    x, y, z = float(p[0]), float(p[1]), float(p[2])
    above = z - f.liver_top
    if above > 300.0:
        return "brain/meninges"
    if above > 180.0:
        return "thyroid" if abs(x - f.mid_x) <= 35.0 and y < 0.0 else "lymph node"
    if _adrenal(p, kidneys, volume_ml):
        return "adrenal"
    front = f.depth_y - y  # mm in front of the kidneys
    if (
        15.0 <= front <= 80.0
        and f.kidney_z - 15.0 <= z <= f.kidney_top + 25.0
        and f.right_x + 10.0 <= x <= f.left_x + 30.0
    ):
        rel = x - f.mid_x
        return "pancreas head" if rel < 0.0 else "pancreas body" if rel <= 55.0 else "pancreas tail"
    if above <= 0.0:
        in_node_box = abs(x - f.mid_x) <= 55.0 and 10.0 <= front <= 75.0
        if in_node_box and z < f.kidney_z - 15.0:
            return "lymph node"
        return "bowel/mesentery" if z < f.kidney_top else "other"
    if abs(x - f.mid_x) <= 40.0:
        return "lymph node"
    if abs(x - f.mid_x) >= 30.0 and y < -60.0:
        return "breast"
    return "other"


def lesion_site(
    ctx: SiteContext,
    lesion: NDArray[np.bool_],
    box: tuple[slice, ...],
    voxel_ml: float,
) -> str:
    """The anatomical site of one lesion (``lesion``: its mask in the crop ``box``)."""
    offset = np.array([b.start for b in box], dtype=float)
    centre_ijk = np.array(ndimage.center_of_mass(lesion)) + offset
    site = _from_masks(ctx, lesion, box, centre_ijk)
    if site is not None:
        return site
    if ctx.ct_hu is not None:
        site = _from_ct(lesion, ctx.ct_hu[box])
        if site is not None:
            return site
    f = _frame(ctx)
    if f is None:
        return "other"
    return _by_position(ctx.position_mm(centre_ijk), f, float(lesion.sum()) * voxel_ml, ctx.kidneys)
