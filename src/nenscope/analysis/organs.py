"""Physiological uptake removed from the lesion candidates, and the anatomical anchors.

Without organ masks, large hot components are recognised as organs by the anatomical priors
of :mod:`nenscope.analysis.physiology` (kidney, bladder, brain, heart, small glands), in
body-relative patient millimetres (:class:`OrganAnchors`: the body centroid and the liver's
z range). :class:`PhysiologicalVeto` is the component filter that
:func:`~nenscope.analysis.segmentation.segment_lesions` calls: it removes the recognised
organs and splits lesions fused with a kidney or the bladder off again.

The dosimetry's SPECT organ finder (:mod:`nenscope.dosimetry.organfinder`) uses the same
anchors and priors through the package's public names.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cc3d
import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from nenscope.analysis._geometry import ball_mask, median_robust_sd, padded_box
from nenscope.analysis.hiddenkidney import HiddenKidney, kidney_in_liver
from nenscope.analysis.lowuptake import DEFAULT_SHOULDER_MM, stands_out
from nenscope.analysis.physiology import (
    ComponentInfo,
    at_upper_pole,
    classify_physiological,
    component_table,
)
from nenscope.analysis.segmentation import label_max, split_touching

__all__ = ["OrganAnchors", "PhysiologicalVeto", "liver_envelope", "organ_anchors"]

# a focus with at least this share of its voxels inside the liver is a liver lesion, never
# this organ (the small-gland priors are position boxes next to the liver); an adrenal at the
# kidney's upper pole (physiology.at_upper_pole) is exempt
_LIVER_SHARE = {
    "kidney": 0.8,
    "adrenal gland": 0.5,
    "uncinate process": 0.5,
    "pituitary": 0.5,
}
# the gland priors that judge the pieces of split components again
_GLANDS = {"adrenal", "uncinate", "pancreas", "pituitary"}
# an adult liver spans ~15-20 cm: its z range stays within this distance of the reference VOI
_LIVER_Z_REACH_MM = 120.0


@dataclass(frozen=True)
class OrganAnchors:
    """The frame of the anatomical priors (patient LPS: +x left, +y posterior, +z superior).

    Attributes:
        body_centroid_ijk: array-index centroid of the body mask; positions are in mm
            relative to it.
        liver_z_range_mm: body-relative z extent (mm) of the liver mask, within
            120 mm of the liver reference VOI; ``None`` without a liver (then no prior runs).
    """

    body_centroid_ijk: NDArray[np.float64]
    liver_z_range_mm: tuple[float, float] | None


def _centroid(mask: NDArray[np.bool_]) -> NDArray[np.float64]:
    """Index centroid of a mask from its three axis projections (cheap)."""
    total = float(mask.sum())
    if total == 0:
        return (np.array(mask.shape, dtype=float) - 1) / 2
    out = []
    for ax in range(3):
        other = tuple(a for a in range(3) if a != ax)
        prof = mask.sum(axis=other, dtype=np.int64)
        out.append(float((prof * np.arange(prof.size)).sum()) / total)
    return np.array(out)


def _z_range_mm(
    mask: NDArray[np.bool_], affine: NDArray, body_c: NDArray
) -> tuple[float, float] | None:
    """Body-relative z extent (mm) of the corners of ``mask``'s bounding box."""
    objs = ndimage.find_objects(mask.astype(np.uint8))
    if not objs or objs[0] is None:
        return None
    sl = objs[0]
    corners = np.array(
        [
            [a, b, c]
            for a in (sl[0].start, sl[0].stop - 1)
            for b in (sl[1].start, sl[1].stop - 1)
            for c in (sl[2].start, sl[2].stop - 1)
        ],
        dtype=float,
    )
    z = ((corners - body_c) @ np.asarray(affine, dtype=float)[:3, :3].T)[:, 2]
    return float(z.min()), float(z.max())


def organ_anchors(
    body: NDArray[np.bool_],
    liver_mask: NDArray[np.bool_] | None,
    affine: NDArray,
    liver_voi_center_ijk: tuple[float, float, float] | None = None,
) -> OrganAnchors:
    """Body centroid and liver z range of one emission volume.

    Args:
        body: body mask (:func:`~nenscope.analysis.reference.body_mask`).
        liver_mask: whole-liver mask on the same grid, or ``None``.
        affine: 4x4 index -> LPS (mm) affine of the grid.
        liver_voi_center_ijk: centre (index) of the liver reference VOI: the z range is kept
            within 120 mm of it, even if the automatic mask leaked into neighbouring tissue.
    """
    a = np.asarray(affine, dtype=float)
    body_c = _centroid(body)
    liver_z = None if liver_mask is None else _z_range_mm(liver_mask, a, body_c)
    if liver_z is not None and liver_voi_center_ijk is not None:
        vz = float(((np.asarray(liver_voi_center_ijk) - body_c) @ a[:3, :3].T)[2])
        liver_z = (
            max(liver_z[0], vz - _LIVER_Z_REACH_MM),
            min(liver_z[1], vz + _LIVER_Z_REACH_MM),
        )
    return OrganAnchors(body_c, liver_z)


def liver_envelope(
    liver_mask: NDArray[np.bool_], spacing: tuple[float, float, float], radius_mm: float = 15.0
) -> NDArray[np.bool_]:
    """The automatic liver mask closed by a ``radius_mm`` ball, holes filled (site naming).

    The automatic mask stops at tissue hotter than the liver, so a metastasis on the liver's
    surface is a bite out of it; closed, the bite is liver again and the lesion is named
    a liver lesion.
    """
    ball = ball_mask(radius_mm, spacing)
    pad = [k // 2 + 1 for k in ball.shape]
    box = padded_box(liver_mask, pad)
    if box is None:
        return liver_mask
    closed = ndimage.binary_closing(np.pad(liver_mask[box], [(p, p) for p in pad]), structure=ball)[
        tuple(slice(p, -p) for p in pad)
    ]
    out = liver_mask.copy()
    out[box] = ndimage.binary_fill_holes(closed) | liver_mask[box]
    return out


@dataclass(eq=False)
class PhysiologicalVeto:
    """Component filter that removes recognised physiological uptake (no organ masks).

    Called with the candidate labels (``segment_lesions(component_filter=...)``); returns
    them with the components the priors of :func:`classify_physiological` recognise set to
    0, and lesions fused with a kidney or the bladder split off again as new labels.
    ``found`` collects the organ names removed (``"kidney (auto)"``, ...), ``kidneys`` the
    recognised kidney components (anchors of the site priors, :mod:`.sites`), ``other_organs``
    the organ voxels other than the pancreas (:func:`_with_organs`).

    Attributes:
        smooth, affine: the smoothed SUV on which lesions are detected; index -> LPS (mm).
        spacing: voxel spacing (mm) along the array axes.
        anchors: body centroid and liver z range.
        detectors: the priors to run (``auto`` column of ``physiological_uptake.toml``).
        agent_class: ``"fdg"`` skips the kidney and bladder splits (hot urine) and the search
            for a kidney inside the liver mask.
        liver_mask: liver mask (a focus mostly inside it is a liver lesion), or ``None``.
        liver_mask_automatic: the liver mask is the automatic one, which may have taken a
            kidney in (:mod:`.hiddenkidney`).
        liver_suv: liver mean on ``smooth`` (ceilings of the small-gland priors), or ``None``.
        gland_max_liver_ratio: ceiling per small-gland detector, x ``liver_suv``.
        organ_factor: what exceeds this x (median + 2 robust SD) of a recognised kidney or
            the bladder is a lesion of its own.
        min_volume_ml, split_kidneys: smallest lesion piece (ml); split a kidney by watershed.
        kidney_split_height_suv, kidney_split_fraction, bladder_split_height_suv: watershed
            depths (the kidney's as touching lesions are split).
        other_organs, shoulder_mm: organ voxels known before (the spleen mask) and the reach
            of their blurred shoulders (:func:`.lowuptake.stands_out`).
    """

    smooth: NDArray
    affine: NDArray
    spacing: tuple[float, float, float]
    anchors: OrganAnchors
    detectors: set[str]
    agent_class: str
    liver_mask: NDArray[np.bool_] | None
    liver_suv: float | None
    gland_max_liver_ratio: dict[str, float]
    organ_factor: float
    min_volume_ml: float
    split_kidneys: bool
    kidney_split_height_suv: float
    kidney_split_fraction: float | None
    bladder_split_height_suv: float
    liver_mask_automatic: bool = False
    other_organs: NDArray[np.bool_] | None = None
    shoulder_mm: float = DEFAULT_SHOULDER_MM
    found: list[str] = field(default_factory=list)
    kidneys: list[ComponentInfo] = field(default_factory=list)

    @property
    def voxel_ml(self) -> float:
        """Voxel volume in ml."""
        return float(np.prod(self.spacing)) / 1000.0

    def _classify(
        self,
        comps: list[ComponentInfo],
        labels: NDArray[np.int32],
        detectors: set[str],
        kidneys: list[ComponentInfo] | None = None,
    ) -> dict[int, str]:
        found = classify_physiological(
            comps,
            detectors,
            liver_z_range_mm=self.anchors.liver_z_range_mm,
            liver_suv=self.liver_suv,
            gland_max_liver_ratio=self.gland_max_liver_ratio,
            kidneys=kidneys,
        )
        anchors = list(kidneys or []) + [c for c in comps if found.get(c.label) == "kidney (auto)"]
        pole = {
            c.label
            for c in comps
            if found.get(c.label) == "adrenal gland (auto)"
            and any(at_upper_pole(c, k) for k in anchors)
        }
        kept = self._keep_liver_lesions(found, labels, pole)
        self.other_organs = _with_organs(self.other_organs, labels, kept)
        return _keep_pancreatic_lesions(self, kept, labels)

    def _keep_liver_lesions(
        self, found: dict[int, str], labels: NDArray[np.int32], exempt: set[int]
    ) -> dict[int, str]:
        """A focus mostly inside the liver is a liver lesion, never a small gland next to
        it; one almost wholly inside it is never a kidney either (a 32 mm metastasis in the
        posterior right lobe, 40 ml above the threshold, passed the kidney prior). ``exempt``:
        adrenal glands at their own place by the kidney's upper pole, which the automatic
        liver mask may take in."""
        limit = {
            lab: None if lab in exempt else _LIVER_SHARE.get(o.split(" (")[0])
            for lab, o in found.items()
        }
        if self.liver_mask is None or all(v is None for v in limit.values()):
            return found
        n = int(labels.max()) + 1
        inside = np.bincount(labels[self.liver_mask], minlength=n)
        total = np.bincount(labels.ravel(), minlength=n)
        return {
            lab: o
            for lab, o in found.items()
            if limit[lab] is None or inside[lab] < limit[lab] * total[lab]
        }

    def __call__(self, labels: NDArray[np.int32]) -> NDArray[np.int32]:
        if not self.detectors:
            return labels
        body_c = self.anchors.body_centroid_ijk
        comps = component_table(self.smooth, labels, self.affine, body_c)
        found, hidden, in_hidden = _recognise(self, comps, labels)
        if not found:
            return labels
        out = _drop_found(self, labels, found)
        first_new = int(labels.max()) + 1
        kidneys = [
            c for c in comps if found.get(c.label) == "kidney (auto)" and c.label not in in_hidden
        ]
        extra = [] if hidden is None else [hidden.info]
        self.kidneys = kidneys + extra
        bladders = [c for c in comps if found.get(c.label) == "urinary bladder (auto)"]
        # lesions fused with a kidney or the bladder are split off as new labels; not for
        # FDG, whose renal collecting system and bladder (urine) are hotter than a lesion
        fused = [(k.label, _kidney_lesions) for k in kidneys]
        fused += [(b.label, _bladder_lesions) for b in bladders]
        next_lab = first_new
        for label, split_off in fused if self.agent_class != "fdg" else []:
            sl = ndimage.find_objects((labels == label).astype(np.uint8))[0]
            for piece in split_off(self, self.smooth[sl], labels[sl] == label):
                out[sl][piece] = next_lab
                next_lab += 1
        if next_lab > first_new:
            # the kidneys without what was split off them anchor the gland priors (a fused
            # adrenal gland had lifted the kidney's upper pole to its own top)
            kept = np.where(np.isin(labels, [k.label for k in kidneys]) & (out == 0), labels, 0)
            kidneys = component_table(self.smooth, kept, self.affine, body_c) or kidneys
            self.kidneys = kidneys + extra
            _classify_new_pieces(self, out, first_new)
        return out

    def judge_pieces(self, labels: NDArray[np.int32]) -> NDArray[np.int32]:
        """``labels`` (after the split of touching lesions) without the pieces of split
        components that a gland prior recognises (:func:`_judge_pieces`)."""
        return _judge_pieces(self, labels)


def _drop_found(
    veto: PhysiologicalVeto, labels: NDArray[np.int32], found: dict[int, str]
) -> NDArray[np.int32]:
    """``labels`` with the components in ``found`` set to 0, their organs noted."""
    lut = np.arange(int(labels.max()) + 1, dtype=np.int32)
    for lab, organ in found.items():
        lut[lab] = 0
        veto.found.append(organ)
    return lut[labels]


def _recognise(
    veto: PhysiologicalVeto, comps: list[ComponentInfo], labels: NDArray[np.int32]
) -> tuple[dict[int, str], HiddenKidney | None, set[int]]:
    """The organs the priors recognise among ``comps``, the kidney hidden in the automatic
    liver mask (:func:`.hiddenkidney.kidney_in_liver`) when only one kidney was recognised,
    and the components that are that kidney's uptake (also in the organs found)."""
    found = veto._classify(comps, labels, veto.detectors)
    lz = veto.anchors.liver_z_range_mm
    if (
        "kidney" not in veto.detectors
        or veto.agent_class == "fdg"
        or not veto.liver_mask_automatic
        or veto.liver_mask is None
        or veto.liver_suv is None
        or lz is None
    ):
        return found, None, set()
    hidden = kidney_in_liver(
        veto.smooth,
        labels,
        [c for c in comps if found.get(c.label) == "kidney (auto)"],
        veto.liver_mask,
        veto.liver_suv,
        lz,
        veto.affine,
        veto.anchors.body_centroid_ijk,
        veto.spacing,
        veto.organ_factor,
    )
    if hidden is None:
        return found, None, set()
    # again with the hidden kidney as an anchor (the adrenal gland at its upper pole)
    found = veto._classify(comps, labels, veto.detectors, [hidden.info])
    in_hidden = hidden.covered(veto.smooth, labels) - set(found)
    found.update({lab: "kidney (auto)" for lab in in_hidden})
    return found, hidden, in_hidden


def _classify_new_pieces(veto: PhysiologicalVeto, out: NDArray[np.int32], first_new: int) -> None:
    """Classify the pieces split off a kidney or the bladder (labels >= ``first_new``) again,
    in place; the kidneys found before (``veto.kidneys``) anchor the small-gland priors."""
    new = np.where(out >= first_new, out, 0).astype(np.int32)
    comps = component_table(veto.smooth, new, veto.affine, veto.anchors.body_centroid_ijk)
    comps = [c for c in comps if c.label >= first_new]
    found = veto._classify(comps, new, veto.detectors - {"kidney", "bladder"}, veto.kidneys)
    for lab, organ in found.items():
        out[out == lab] = 0
        veto.found.append(organ)


def _judge_pieces(veto: PhysiologicalVeto, labels: NDArray[np.int32]) -> NDArray[np.int32]:
    """``labels`` without the pieces of split components that a gland prior recognises.

    An adrenal gland fused with a liver metastasis near the kidney's upper pole comes apart
    as a piece of its own (family seeds 12 and 13), and so does the pancreatic tail's
    diffuse uptake beside a NET (seed 18; it has a CT correlate, the gland itself). A piece
    touching another label is a piece of a split component; the kidneys the veto
    recognised anchor the priors.
    """
    glands = veto.detectors & _GLANDS
    if not glands or not veto.kidneys or labels.max() == 0:
        return labels
    pieces = _split_pieces(labels)
    if not pieces:
        return labels
    sub = np.where(np.isin(labels, sorted(pieces)), labels, 0).astype(np.int32)
    comps = component_table(veto.smooth, sub, veto.affine, veto.anchors.body_centroid_ijk)
    found = veto._classify(comps, sub, glands, veto.kidneys)
    return _drop_found(veto, labels, found) if found else labels


def _split_pieces(labels: NDArray[np.int32]) -> set[int]:
    """The labels that share a connected component of the foreground with another label: the
    pieces of components cut by the watershed (separate components are apart by
    background)."""
    whole = cc3d.connected_components(labels > 0, connectivity=26)
    n = int(labels.max())
    fg = labels > 0
    parent = np.zeros(n + 1, dtype=np.int64)
    parent[labels[fg]] = whole[fg]  # each label lies in one component of the foreground
    counts = np.bincount(parent[1:], minlength=int(whole.max()) + 1)
    return {lab for lab in range(1, n + 1) if parent[lab] > 0 and counts[parent[lab]] > 1}


def _with_organs(
    known: NDArray[np.bool_] | None, labels: NDArray[np.int32], found: dict[int, str]
) -> NDArray[np.bool_] | None:
    """``known`` and the recognised components other than the pancreas: organs whose uptake
    is not the tissue a low focus must stand out from (:func:`.lowuptake.stands_out`)."""
    organs = [lab for lab, o in found.items() if not o.startswith("pancreas")]
    if not organs:
        return known
    mask = np.isin(labels, organs)
    return mask if known is None else known | mask


def _kidney_lesions(
    veto: PhysiologicalVeto, smooth: NDArray, comp: NDArray[np.bool_]
) -> list[NDArray[np.bool_]]:
    """Lesions fused with a recognised kidney (``comp`` in the crop ``smooth``), in label order.

    A tumour touching a kidney (a pancreatic-tail NET, a node at the hilum, the adrenal
    gland) joins the kidney's component. A tumour with uptake like the kidney's (a K3
    pancreatic-tail NET, a liver metastasis on the upper pole) is not hotter than it but a
    blob of its own: the component is split as touching lesions are, the largest piece is
    the kidney, and a piece attached outside the component's ellipsoid of inertia is a lesion
    (:func:`_outside_the_organ`; pieces inside it are the kidney's own noise basins). Then
    the kidney is treated as an organ mask (as user masks are): what
    exceeds ``organ_factor`` x (median + 2 robust SD) is split off too.
    """
    out = []
    parts = (
        split_touching(
            smooth,
            comp.astype(np.int32),
            veto.spacing,
            min_height_suv=veto.kidney_split_height_suv,
            min_height_fraction=veto.kidney_split_fraction,
        )
        if veto.split_kidneys
        else comp.astype(np.int32)
    )
    if parts.max() > 1:
        sizes = np.bincount(parts.ravel())
        sizes[0] = 0
        main = int(np.argmax(sizes))
        out += [
            parts == p
            for p in range(1, sizes.size)
            if p != main
            and sizes[p] * veto.voxel_ml >= veto.min_volume_ml
            and _outside_the_organ(parts == p, comp, veto.spacing)
        ]
        comp = parts == main
    med, rsd = median_robust_sd(smooth[comp])
    hot = comp & (smooth > veto.organ_factor * (med + 2.0 * rsd))
    pieces, n = cc3d.connected_components(hot, connectivity=26, return_N=True)
    return out + [
        pieces == p
        for p in range(1, n + 1)
        if (pieces == p).sum() * veto.voxel_ml >= veto.min_volume_ml
    ]


def _keep_pancreatic_lesions(
    veto: PhysiologicalVeto, found: dict[int, str], labels: NDArray[np.int32]
) -> dict[int, str]:
    """A focus the pancreas prior took for the gland stays a lesion when it stands out from
    the gland around it, as inside an organ mask (:func:`.lowuptake.stands_out`, the gland's
    tissue: the smoothed SUV above a quarter of the liver mean, less the other organs,
    ``veto.other_organs``, whose uptake is not the gland's)."""
    if veto.liver_suv is None:
        return found
    for lab in [k for k, o in found.items() if o.startswith("pancreas")]:
        if stands_out(
            veto.smooth,
            labels == lab,
            veto.spacing,
            0.25 * veto.liver_suv,
            veto.organ_factor,
            veto.liver_mask,
            veto.other_organs,
            veto.shoulder_mm,
        ):
            del found[lab]
    return found


def _outside_the_organ(
    piece: NDArray[np.bool_], comp: NDArray[np.bool_], spacing: tuple[float, float, float]
) -> bool:
    """Whether a watershed piece sits on the organ rather than in it.

    The component's voxels define its ellipsoid of inertia (a uniform ellipsoid's voxel
    covariance is diag(a^2) / 5); a tumour fused with the kidney is attached outside it
    (its centroid beyond the ellipsoid: Mahalanobis d^2 > 5), a noise basin of the kidney's
    own uptake (sharp images cut the organ into several) lies inside it.
    """
    pts = np.argwhere(comp) * np.asarray(spacing)
    centre = pts.mean(axis=0)
    cov = np.cov(pts, rowvar=False)
    c = np.argwhere(piece).mean(axis=0) * np.asarray(spacing) - centre
    try:
        d2 = float(c @ np.linalg.solve(cov, c))
    except np.linalg.LinAlgError:
        return True
    return d2 > 5.0


def _bladder_lesions(
    veto: PhysiologicalVeto, smooth: NDArray, comp: NDArray[np.bool_]
) -> list[NDArray[np.bool_]]:
    """Lesions fused with the recognised bladder (``comp`` in the crop ``smooth``).

    A lesion touching the bladder (a pelvic node, a bowel loop on the dome) joins the urine's
    component. It is split by the same marker watershed as touching lesions; a piece other
    than the urine pool (the piece holding the maximum) is kept when its maximum is below
    the urine's median (a cooler structure with its own peak) or above ``organ_factor`` x
    (median + 2 robust SD) (clearly hotter than urine); pieces at urine level are noise
    peaks of the pool.
    """
    med, rsd = median_robust_sd(smooth[comp])
    parts = split_touching(
        smooth, comp.astype(np.int32), veto.spacing, min_height_suv=veto.bladder_split_height_suv
    )
    n = int(parts.max())
    if n < 2:
        return []
    pmax = label_max(smooth, parts, n)
    urine = int(np.argmax(pmax[1:])) + 1
    return [
        parts == p
        for p in range(1, n + 1)
        if p != urine
        and (parts == p).sum() * veto.voxel_ml >= veto.min_volume_ml
        and not med <= pmax[p] <= veto.organ_factor * (med + 2.0 * rsd)
    ]
