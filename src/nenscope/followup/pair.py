"""Compare two time points: register, match, list the changes (no response criteria here)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from nenscope.followup.changes import lesion_entries, totals
from nenscope.followup.matching import Match, match_lesions
from nenscope.followup.registration import NCC_THRESHOLD, PriorToCurrent, register_prior
from nenscope.followup.sides import StudySide

__all__ = ["CompareOptions", "PairComparison", "compare_pair"]

_SHELL_MM = (5.0, 10.0)
_CONTRAST = 1.5  # site-to-shell (or -liver) uptake that counts as a lesion in the other study


@dataclass(frozen=True)
class CompareOptions:
    """How two studies are compared.

    Attributes:
        min_overlap: overlap (fraction of the smaller lesion) that links two lesions.
        max_distance_mm: largest centre distance (mm) that pairs lesions without overlap.
        ncc_threshold: local CT similarity below which the rigid fit counts as poor and a
            B-spline step is tried (:mod:`nenscope.followup.registration`).
        deformable: allow the B-spline step.
        diagnostic_ct: the CTs are diagnostic: measure long axes for RECIST 1.1.
    """

    min_overlap: float = 0.25
    max_distance_mm: float = 15.0
    ncc_threshold: float = NCC_THRESHOLD
    deformable: bool = True
    diagnostic_ct: bool = False


@dataclass
class PairComparison:
    """Two registered, matched time points and their lesion entries."""

    current: StudySide
    prior: StudySide
    registration: PriorToCurrent
    matches: list[Match]
    entries: list[dict[str, Any]]
    totals: dict[str, Any]
    warnings: list[str] = field(default_factory=list)


def _centres(side: StudySide) -> dict[int, NDArray]:
    return {i: np.asarray(les["center_mm"], dtype=float) for i, les in side.lesions.items()}


def _radii_mm(side: StudySide) -> dict[int, float]:
    """Equivalent-sphere radius of each lesion (mm) from its volume (ml)."""
    return {
        i: (3.0 * float(les["volume_ml"]) * 1000.0 / (4.0 * np.pi)) ** (1.0 / 3.0)
        for i, les in side.lesions.items()
    }


def _site_uptake(image: NDArray, mask: NDArray, spacing_mm: NDArray) -> tuple[float, float]:
    """Mean of ``image`` inside ``mask`` and in a shell 5-10 mm around it."""
    pad = np.ceil(_SHELL_MM[1] / spacing_mm).astype(int) + 1
    idx = np.argwhere(mask)
    lo = np.maximum(idx.min(axis=0) - pad, 0)
    hi = np.minimum(idx.max(axis=0) + pad + 1, mask.shape)
    box = tuple(slice(a, b) for a, b in zip(lo, hi, strict=True))
    dist = ndimage.distance_transform_edt(~mask[box], sampling=spacing_mm)
    shell = (dist > _SHELL_MM[0]) & (dist <= _SHELL_MM[1])
    crop = np.asarray(image[box], dtype=float)
    inside = float(crop[mask[box]].mean())
    return inside, float(crop[shell].mean()) if shell.any() else inside


def _confirm(
    pair_entries: list[dict[str, Any]],
    matches: list[Match],
    current: StudySide,
    prior: StudySide,
    reg: PriorToCurrent,
    prior_on_current: NDArray,
) -> None:
    """Flag new and disappeared lesions the other study contradicts (``confirmed`` False).

    A lesion found at one time point only is confirmed unless the other study's image shows
    a lesion at its site: inside its VOI (mapped through the registration) a mean SUV at
    least the other analysis' lesion threshold and at least 1.5 x the mean of a shell 5-10 mm
    around it or 1.5 x that study's liver SUVmean (a lesion that grew beyond the shell leaves
    no contrast to it, but stands out from the liver). Such a lesion was missed or
    suppressed by one analysis, or is physiological uptake (a kidney) taken for a lesion
    once; it is reported but not counted. A lesion outside the other study's field of view is
    not confirmed either, nor, on SSTR imaging, a new lesion with uptake below the liver
    (Krenning 0-1: equivocal, no basis to call progression on).
    """
    if not any(m.status in ("new", "disappeared") for m in matches):
        return
    cur_lab, cur_suv = np.asarray(current.labels.array), np.asarray(current.suv.array)
    spacing = np.linalg.norm(current.suv.affine[:3, :3], axis=0)
    prior_suv_here = None
    for m, entry in zip(matches, pair_entries, strict=True):
        if m.status == "new" and entry.get("krenning_current") in (0, 1):
            entry["confirmed"] = False
            entry["note"] = "uptake below the liver (Krenning < 2): equivocal"
            continue
        if m.status == "new":
            if prior_suv_here is None:
                prior_suv_here = reg.prior_on_current(prior.suv, current.suv, order=1)
            mask, image, other = cur_lab == m.current_ids[0], prior_suv_here, prior
        elif m.status == "disappeared":
            mask, image, other = prior_on_current == m.prior_ids[0], cur_suv, current
        else:
            continue
        if not mask.any():
            entry["confirmed"] = False
            entry["note"] = "outside the other study's field of view"
            continue
        inside, shell = _site_uptake(image, mask, spacing)
        threshold = other.findings.get("summary", {}).get("threshold_suv")
        liver = other.findings.get("reference", {}).get("liver_suv_mean")
        contrast = inside >= _CONTRAST * shell or (
            liver is not None and inside >= _CONTRAST * liver
        )
        entry["suv_mean_other_study"] = round(inside, 3)
        entry["confirmed"] = not (threshold is not None and inside >= threshold and contrast)
        if not entry["confirmed"]:
            entry["note"] = "the other study shows lesion-level uptake at its site"


def _warnings(
    reg: PriorToCurrent, entries: list[dict[str, Any]], options: CompareOptions
) -> list[str]:
    out = []
    if reg.method.startswith("rigid (PET)"):
        out.append("no CT on one side: the studies were registered PET to PET")
    for e in entries:
        if not e["confirmed"]:
            which = "current" if e["status"] == "new" else "prior"
            ids = e["current_id"] if e["status"] == "new" else e["prior_id"]
            why = e.get("note") or "outside the other study's field of view"
            out.append(f"{e['status']} {which} lesion {ids} ({e.get('site')}) not counted: {why}")
    if reg.ncc_final is not None and reg.ncc_final < options.ncc_threshold:
        out.append(
            f"the registration fits poorly (local CT similarity {reg.ncc_final:.2f} < "
            f"{options.ncc_threshold}): check the lesion pairs on the images"
        )
    return out


def compare_pair(
    current: StudySide, prior: StudySide, options: CompareOptions | None = None
) -> PairComparison:
    """Register ``prior`` onto ``current``, match their lesions and list the changes."""
    options = options or CompareOptions()
    reg = register_prior(
        current.suv,
        prior.suv,
        current_ct=current.ct,
        prior_ct=prior.ct,
        ncc_threshold=options.ncc_threshold,
        deformable=options.deformable,
    )
    prior_on_current = reg.prior_on_current(prior.labels, current.labels, order=0)
    cur_centres = _centres(current)
    mapped = reg.current_to_prior(list(cur_centres.values())) if cur_centres else []
    matches = match_lesions(
        np.asarray(current.labels.array),
        np.asarray(prior_on_current).astype(np.int64),
        _centres(prior),
        dict(zip(cur_centres, mapped, strict=True)),
        prior_radii_mm=_radii_mm(prior),
        current_radii_mm=_radii_mm(current),
        min_overlap=options.min_overlap,
        max_distance_mm=options.max_distance_mm,
    )
    entries = lesion_entries(matches, prior.lesions, current.lesions)
    _confirm(entries, matches, current, prior, reg, prior_on_current)
    warnings = _warnings(reg, entries, options)
    return PairComparison(
        current=current,
        prior=prior,
        registration=reg,
        matches=matches,
        entries=entries,
        totals=totals(prior.findings, current.findings, entries),
        warnings=warnings,
    )
