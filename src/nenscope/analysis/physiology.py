"""Built-in recognition of physiological uptake when no organ masks are given.

Large hot components are compared with simple anatomical priors, relative to the body
centroid and the liver found by :mod:`nenscope.analysis.reference` (patient LPS axes: +x left,
+y posterior, +z superior):

- kidney: >= 40 ml, posterior (y > +10 mm), lateral (|x| 25-150 mm), between 200 mm below and
  the top of the liver, and on its side no more than 20 mm in front of the most posterior such
  component; with more than two such components, not one whose mean uptake exceeds 1.5 x
  their median (the kidneys of one patient take up alike; a hot lesion at a kidney's place
  does not);
- bladder: >= 15 ml, midline (|x| < 60 mm), centred >= 100 mm below the liver's lower edge, and the
  largest of those at least half as hot as the hottest (urine; a pelvic bone metastasis can be as
  hot, but is smaller);
- brain (FDG): midline, >= 100 ml with its lower edge >= 200 mm above the liver's upper
  edge, or >= 20 ml wholly >= 280 mm above it (inside the skull; the liver dome to skull
  base distance of an adult is ~35 cm);
- heart (FDG): >= 60 ml, anterior (y < 0), x from -40 to +110 mm, centred between 50 mm
  above the liver's lower edge and 180 mm above its upper edge;
- adrenal (SSTR): <= 20 ml, on the side of a recognised kidney, medial to it or above it
  but at least 20 mm from the midline (lateral to the crura; a vertebral lesion 10 mm off
  the midline had been taken for a gland), not anterior to its centroid by more than 20 mm, centred from 30 mm below to 60 mm above
  the kidney's upper pole (the glands cap the upper poles; the pancreatic body and tail lie
  further forward, in front of the left kidney); a focus of <= 10 ml at the gland's own
  place (:func:`at_upper_pole`) is the gland even where the automatic liver mask took it in
  (:mod:`~nenscope.analysis.organs`);
- uncinate process (SSTR): <= 15 ml, between the right kidney and 10 mm right of the
  midline (it lies right of the superior mesenteric vessels), 15-50 mm anterior to the
  right kidney's centroid and within 20 mm of its level (the pancreatic head lies in the
  duodenal loop at the level of the renal hila, in front of the IVC); para-aortic and
  mesenteric nodes lower down or further forward are not taken for it;
- pancreas (SSTR): <= 30 ml, 15-80 mm in front of the kidneys, from 15 mm below their
  centres to 25 mm above their upper poles, between the right kidney (+10 mm) and 30 mm
  beyond the left one: the gland's diffuse uptake (about half the liver's) breaks into foci
  at the noise level; below its ceiling (the Krenning "about liver" band) such a focus is the
  gland;
- pituitary (SSTR): <= 5 ml, midline (|x| < 25 mm), wholly >= 280 mm above the liver's
  upper edge (in the skull).

The small-gland detectors (adrenal, uncinate, pituitary) apply only below a ceiling
``max_liver_ratio`` x the liver mean on the same (smoothed) image, from the data file: the
published physiological uptake of these glands (adrenal SUVmax often 1.5-2 x the liver's,
Kuyumcu 2013) sets it, so a gland hotter than that is still reported (an adrenal metastasis,
a pancreatic-head NET); the price is that a lesion at those sites with uptake within the
physiological range is not reported (SSTR-RADS calls such foci equivocal anyway, Werner
2018).

These are pragmatic priors (the anatomy of any adult atlas, e.g. ICRP 110 phantoms) used only
to keep physiological excretion and high-uptake organs out of the lesion list; a user or
TotalSegmentator organ mask always takes precedence. Which detectors run for an agent is set
by the ``auto`` column of ``data/physiological_uptake.toml``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "ComponentInfo",
    "at_kidney_place",
    "at_upper_pole",
    "component_table",
    "classify_physiological",
]


# a kidney candidate more than this x the candidates' median mean uptake is no kidney
# (:func:`_kidneys`, with more than two candidates)
_PAIR_UPTAKE_RATIO = 1.5


@dataclass
class ComponentInfo:
    """Size, position (mm relative to the body centroid) and uptake (maximum and mean, on
    the image the table was made from) of one labelled component."""

    label: int
    volume_ml: float
    x_mm: float
    y_mm: float
    z_mm: float
    z_lo_mm: float
    z_hi_mm: float
    suv_max: float
    suv_mean: float = float("nan")


def component_table(
    suv: NDArray, labels: NDArray, affine: NDArray, body_centroid_ijk: NDArray
) -> list[ComponentInfo]:
    """Per-label volume, centroid and z extent in body-relative patient mm.

    Only the labelled voxels are visited (bincount and ``ufunc.at`` over the foreground).
    """
    n = int(labels.max())
    if n == 0:
        return []
    a = np.asarray(affine, dtype=float)
    vox_ml = abs(float(np.linalg.det(a[:3, :3]))) / 1000.0
    fg = np.nonzero(labels)
    lab = labels[fg]
    ijk = np.stack(fg, axis=1).astype(float) - np.asarray(body_centroid_ijk, dtype=float)
    mm = ijk @ a[:3, :3].T  # body-relative LPS
    counts = np.bincount(lab, minlength=n + 1).astype(float)
    sums = [np.bincount(lab, weights=mm[:, r], minlength=n + 1) for r in range(3)]
    z_lo = np.full(n + 1, np.inf)
    z_hi = np.full(n + 1, -np.inf)
    np.minimum.at(z_lo, lab, mm[:, 2])
    np.maximum.at(z_hi, lab, mm[:, 2])
    values = np.asarray(suv[fg], dtype=float)
    smax = np.full(n + 1, -np.inf)
    np.maximum.at(smax, lab, values)
    ssum = np.bincount(lab, weights=values, minlength=n + 1)
    out = []
    for i in range(1, n + 1):
        if counts[i] == 0:
            continue
        out.append(
            ComponentInfo(
                label=i,
                volume_ml=counts[i] * vox_ml,
                x_mm=float(sums[0][i] / counts[i]),
                y_mm=float(sums[1][i] / counts[i]),
                z_mm=float(sums[2][i] / counts[i]),
                z_lo_mm=float(z_lo[i]),
                z_hi_mm=float(z_hi[i]),
                suv_max=float(smax[i]),
                suv_mean=float(ssum[i] / counts[i]),
            )
        )
    return out


def classify_physiological(
    comps: list[ComponentInfo],
    detectors: set[str],
    *,
    liver_z_range_mm: tuple[float, float] | None,
    liver_suv: float | None = None,
    gland_max_liver_ratio: dict[str, float] | None = None,
    kidneys: list[ComponentInfo] | None = None,
) -> dict[int, str]:
    """Return ``{label: organ}`` for components recognised as physiological uptake.

    ``kidneys`` are kidney components found earlier (e.g. before a split), used as anchors
    of the adrenal and uncinate priors besides those found among ``comps``;
    ``liver_suv`` (same image as ``comps[*].suv_max``) and ``gland_max_liver_ratio``
    (detector -> ratio) set the ceilings of the small-gland detectors.
    """
    found: dict[int, str] = {}
    if liver_z_range_mm is None:
        return found  # without the liver as an anchor the priors are not trustworthy
    for name, prior in (
        ("kidney", _kidneys),
        ("bladder", _bladder),
        ("brain", _brain),
        ("heart", _heart),
    ):
        if name in detectors:
            prior(comps, liver_z_range_mm, found)
    anchors = list(kidneys or []) + [c for c in comps if found.get(c.label) == "kidney (auto)"]
    ceiling = _Ceiling(liver_suv, gland_max_liver_ratio or {})
    if "adrenal" in detectors and anchors:
        _adrenals(comps, anchors, ceiling, found)
    if "uncinate" in detectors and anchors:
        _uncinate(comps, anchors, ceiling, found)
    if "pancreas" in detectors and anchors:
        _pancreas(comps, anchors, ceiling, found)
    if "pituitary" in detectors:
        _pituitary(comps, liver_z_range_mm, ceiling, found)
    return found


def at_kidney_place(c: ComponentInfo, liver_z_range_mm: tuple[float, float]) -> bool:
    """Whether ``c``'s centroid lies where a kidney lies: posterior (y > +10 mm), lateral
    (|x| 25-150 mm), from 200 mm below the liver's lower edge to its top."""
    lz = liver_z_range_mm
    return c.y_mm > 10.0 and 25.0 <= abs(c.x_mm) <= 150.0 and lz[0] - 200.0 <= c.z_mm <= lz[1]


def _kidneys(comps: list[ComponentInfo], lz: tuple[float, float], found: dict[int, str]) -> None:
    for c in comps:
        if c.volume_ml >= 40.0 and at_kidney_place(c, lz):
            found[c.label] = "kidney (auto)"
    # the kidneys lie against the posterior abdominal wall: on each side a candidate more
    # than 20 mm in front of the most posterior one is something else (a posterior
    # right-lobe liver metastasis lies lateral to and in front of the right kidney)
    cand = [c for c in comps if c.label in found]
    for c in cand:
        back = max(d.y_mm for d in cand if np.sign(d.x_mm) == np.sign(c.x_mm))
        if c.y_mm < back - 20.0:
            del found[c.label]
    # the two kidneys of one patient take up alike: among more than two candidates, one whose
    # mean uptake exceeds 1.5 x their median is a lesion at a kidney's place (a liver
    # metastasis above the right kidney, follow-up pair 6: 18.2 against 9.8 and 10.3); one
    # with the pair's uptake (the spleen on 177Lu SPECT) or a cooler one (a kidney with
    # little function) is left as it was
    cand = [c for c in comps if c.label in found]
    if len(cand) > 2:
        typical = float(np.median([c.suv_mean for c in cand]))
        for c in cand:
            if c.suv_mean > _PAIR_UPTAKE_RATIO * typical:
                del found[c.label]


def _bladder(comps: list[ComponentInfo], lz: tuple[float, float], found: dict[int, str]) -> None:
    cands = [
        c
        for c in comps
        if c.volume_ml >= 15.0
        and abs(c.x_mm) < 60.0
        and c.z_mm < lz[0] - 100.0
        and c.label not in found
    ]
    if cands:
        # urine is the hottest pelvic structure by far; a bone metastasis in the pelvis
        # can be as hot, but the bladder is the largest of the hot ones
        top = max(c.suv_max for c in cands)
        bladder = max((c for c in cands if c.suv_max >= 0.5 * top), key=lambda c: c.volume_ml)
        found[bladder.label] = "urinary bladder (auto)"


def _brain(comps: list[ComponentInfo], lz: tuple[float, float], found: dict[int, str]) -> None:
    for c in comps:
        big_low = c.volume_ml >= 100.0 and c.z_lo_mm > lz[1] + 200.0
        in_skull = c.volume_ml >= 20.0 and c.z_lo_mm > lz[1] + 280.0
        if abs(c.x_mm) < 60.0 and (big_low or in_skull):
            found[c.label] = "brain (auto)"


def _heart(comps: list[ComponentInfo], lz: tuple[float, float], found: dict[int, str]) -> None:
    for c in comps:
        if (
            c.volume_ml >= 60.0
            and -40.0 <= c.x_mm <= 110.0
            and c.y_mm < 0.0
            and lz[0] + 50.0 <= c.z_mm <= lz[1] + 180.0
            and c.label not in found
        ):
            found[c.label] = "heart (auto)"


@dataclass(frozen=True)
class _Ceiling:
    """The small-gland ceilings: a gland prior applies only at or below ratio x liver."""

    liver_suv: float | None
    ratios: dict[str, float]

    def below(self, c: ComponentInfo, detector: str) -> bool:
        if self.liver_suv is None or detector not in self.ratios:
            return False
        return c.suv_max <= self.ratios[detector] * self.liver_suv


def at_upper_pole(c: ComponentInfo, k: ComponentInfo) -> bool:
    """Whether ``c`` lies at the adrenal gland's own place by kidney ``k``: small, from 15 mm
    below to 40 mm above the upper pole, 0-35 mm medial to its centre, at most 25 mm in front
    of it (where the automatic liver mask may take the right gland in)."""
    medial = abs(k.x_mm) - abs(c.x_mm)
    return (
        c.volume_ml <= 10.0
        and -5.0 <= medial <= 35.0
        and c.y_mm >= k.y_mm - 25.0
        and k.z_hi_mm - 15.0 <= c.z_mm <= k.z_hi_mm + 40.0
    )


def _adrenals(
    comps: list[ComponentInfo],
    anchors: list[ComponentInfo],
    ceiling: _Ceiling,
    found: dict[int, str],
) -> None:
    for c in comps:
        if c.label in found or c.volume_ml > 20.0 or not ceiling.below(c, "adrenal"):
            continue
        for k in anchors:
            same_side = np.sign(c.x_mm) == np.sign(k.x_mm) and abs(c.x_mm) >= 20.0
            if (
                same_side
                and abs(c.x_mm) <= abs(k.x_mm) + 15.0
                and c.y_mm >= k.y_mm - 20.0
                and k.z_hi_mm - 30.0 <= c.z_mm <= k.z_hi_mm + 60.0
            ):
                found[c.label] = "adrenal gland (auto)"
                break


def _uncinate(
    comps: list[ComponentInfo],
    anchors: list[ComponentInfo],
    ceiling: _Ceiling,
    found: dict[int, str],
) -> None:
    right = [k for k in anchors if k.x_mm < 0]
    for c in comps:
        if c.label in found or c.volume_ml > 15.0 or not ceiling.below(c, "uncinate"):
            continue
        for k in right:
            if (
                k.x_mm <= c.x_mm <= -10.0
                and k.y_mm - 50.0 <= c.y_mm <= k.y_mm - 15.0
                and abs(c.z_mm - k.z_mm) <= 20.0
            ):
                found[c.label] = "uncinate process (auto)"
                break


def _pancreas(
    comps: list[ComponentInfo],
    anchors: list[ComponentInfo],
    ceiling: _Ceiling,
    found: dict[int, str],
) -> None:
    """The gland's own uptake: in front of the kidneys at their upper halves (the band of
    :mod:`~nenscope.analysis.sites`), below the ceiling (the gland is diffusely below the
    liver; a pancreatic NET at or above the liver's level stays a lesion)."""
    depth = float(np.mean([k.y_mm for k in anchors]))
    kz = float(np.mean([k.z_mm for k in anchors]))
    top = float(np.mean([k.z_hi_mm for k in anchors]))
    right = min(min(k.x_mm for k in anchors), -40.0)
    left = max(max(k.x_mm for k in anchors), 40.0)
    for c in comps:
        if c.label in found or c.volume_ml > 30.0 or not ceiling.below(c, "pancreas"):
            continue
        if (
            15.0 <= depth - c.y_mm <= 80.0
            and kz - 15.0 <= c.z_mm <= top + 25.0
            and right + 10.0 <= c.x_mm <= left + 30.0
        ):
            found[c.label] = "pancreas (auto)"


def _pituitary(
    comps: list[ComponentInfo], lz: tuple[float, float], ceiling: _Ceiling, found: dict[int, str]
) -> None:
    for c in comps:
        if (
            c.label not in found
            and c.volume_ml <= 5.0
            and abs(c.x_mm) < 25.0
            and c.z_lo_mm > lz[1] + 280.0
            and ceiling.below(c, "pituitary")
        ):
            found[c.label] = "pituitary (auto)"
