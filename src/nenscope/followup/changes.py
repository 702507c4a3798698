"""Per-lesion changes and patient-level totals of a matched pair of studies.

One entry per :class:`~nenscope.followup.matching.Match` (the ``lesions`` list of
``comparison.json``, see docs/followup.md). A split entry sums the volumes of its current
fragments (``current_id`` is a list), a merged one those of its prior lesions (``prior_id``
is a list); SUVmax, SUVpeak and Krenning are the highest of the group. ``center_mm`` is the
volume-weighted centre in the current study (LPS mm), in the prior study for a disappeared
lesion. Changes are ``100 * (current - prior) / prior`` (a disappeared lesion: -100 %, a new
one: ``None``).

Segmented volumes (the analysis' ``volume_ml``, summed into SSTR-TV) shrink with partial
volume more for small lesions than for large ones, which biases their changes; each entry and
the patient totals therefore also carry a partial-volume-corrected volume
(:func:`corrected_volume_ml`: the sphere the analysis fitted to the lesion's blurred profile,
``diameter_pvc_mm``, within bounds set by the segmented volume).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from nenscope.followup.matching import Match

__all__ = ["change_pct", "corrected_volume_ml", "lesion_entry", "lesion_entries", "totals"]

#: The sphere fit replaces the segmented volume only for lesions up to this equivalent
#: diameter (partial volume matters there; large, irregular lesions keep their segmentation)
PVC_MAX_DIAMETER_MM = 40.0
#: ... and only when it is within this factor of the segmented volume: a fit that collapsed
#: on a fragment, or overshot on a noisy profile, would otherwise replace a sound segmentation
PVC_MAX_FACTOR = 3.0
#: A lesion whose fitted uptake is below this multiple of its background (a liver metastasis
#: with less than 2.5 times the liver's uptake) has a low contrast: its fit is bounded tighter
LOW_CONTRAST_RATIO = 2.5
#: ... to at most this factor above the segmented volume (a larger fit is clamped to it)
LOW_CONTRAST_MAX_FACTOR = 2.0


def _low_contrast(lesion: dict[str, Any]) -> bool:
    """Fitted uptake (``suv_pvc``) below :data:`LOW_CONTRAST_RATIO` x the background."""
    uptake, background = lesion.get("suv_pvc"), lesion.get("background_suv")
    if uptake is None or background is None or background <= 0:
        return False
    return float(uptake) < LOW_CONTRAST_RATIO * float(background)


def corrected_volume_ml(lesion: dict[str, Any]) -> float:
    """Partial-volume-corrected volume (ml) of a findings lesion.

    The fitted sphere's volume (pi/6 d^3, ``diameter_pvc_mm``) when the lesion is at most
    40 mm across and the sphere within a factor 3 of the segmented volume; otherwise the
    segmented volume. For a lesion of low contrast (fitted uptake below 2.5 x its background,
    :func:`_low_contrast`) a sphere above 2 x the segmented volume is clamped to 2 x: on a
    warm background the fit has little contrast to go on and overshoots, while the SSTR
    delineation (background + 50 % of the contrast) of a sphere of 12 mm or more holds at
    least half of its volume (analytic blurred spheres: 0.76-2.3 without noise; figures in
    docs/followup.md), so the lesion is at most twice its segmented volume.
    """
    seg = float(lesion["volume_ml"])
    d_mm = lesion.get("diameter_pvc_mm")
    if d_mm is None or (6.0 * seg * 1000.0 / math.pi) ** (1 / 3) > PVC_MAX_DIAMETER_MM:
        return seg
    sphere = math.pi / 6.0 * float(d_mm) ** 3 / 1000.0
    if sphere < seg / PVC_MAX_FACTOR:
        return seg
    if _low_contrast(lesion):
        return min(sphere, LOW_CONTRAST_MAX_FACTOR * seg)
    return sphere if sphere <= seg * PVC_MAX_FACTOR else seg


def change_pct(prior: float | None, current: float | None) -> float | None:
    """``100 (current - prior) / prior``, rounded to 0.1 %; ``None`` without a prior value."""
    if prior is None or current is None or prior <= 0:
        return None
    return round(100.0 * (current - prior) / prior, 1)


def _ids(ids: tuple[int, ...]) -> int | list[int] | None:
    if not ids:
        return None
    return ids[0] if len(ids) == 1 else list(ids)


def _group(lesions: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Volume (sum), SUVmax/SUVpeak/Krenning (highest), centre (volume-weighted) of a group."""
    if not lesions:
        return {
            "volume_ml": None,
            "volume_pvc_ml": None,
            "suv_max": None,
            "suv_peak": None,
            "krenning": None,
        }
    vols = np.array([float(les["volume_ml"]) for les in lesions])
    centres = np.array([les["center_mm"] for les in lesions], dtype=float)
    weights = vols / vols.sum() if vols.sum() > 0 else np.full(len(vols), 1.0 / len(vols))
    kren = [les.get("krenning") for les in lesions if les.get("krenning") is not None]
    sites = [les.get("site") for les in sorted(lesions, key=lambda x: -float(x["volume_ml"]))]
    return {
        "volume_ml": round(float(vols.sum()), 3),
        "volume_pvc_ml": round(sum(corrected_volume_ml(les) for les in lesions), 3),
        "suv_max": max(float(les["suv_max"]) for les in lesions),
        "suv_peak": max(float(les["suv_peak"]) for les in lesions),
        "krenning": max(kren) if kren else None,
        "center_mm": [round(float(c), 2) for c in weights @ centres],
        "site": sites[0],
    }


def lesion_entry(
    match: Match, prior: dict[int, dict[str, Any]], current: dict[int, dict[str, Any]]
) -> dict[str, Any]:
    """The ``comparison.json`` record of one match (findings lesions looked up by id)."""
    p = _group([prior[i] for i in match.prior_ids])
    c = _group([current[i] for i in match.current_ids])
    here = c if match.current_ids else p
    vol_now = 0.0 if match.status == "disappeared" else c["volume_ml"]
    return {
        "status": match.status,
        "current_id": _ids(match.current_ids),
        "prior_id": _ids(match.prior_ids),
        "center_mm": here["center_mm"],
        "site": here["site"],
        "suv_max_prior": p["suv_max"],
        "suv_max_current": c["suv_max"],
        "suv_peak_prior": p["suv_peak"],
        "suv_peak_current": c["suv_peak"],
        "volume_ml_prior": p["volume_ml"],
        "volume_ml_current": c["volume_ml"],
        "volume_change_pct": change_pct(p["volume_ml"], vol_now),
        "volume_pvc_ml_prior": p["volume_pvc_ml"],
        "volume_pvc_ml_current": c["volume_pvc_ml"],
        "volume_pvc_change_pct": change_pct(
            p["volume_pvc_ml"], 0.0 if match.status == "disappeared" else c["volume_pvc_ml"]
        ),
        "suv_max_change_pct": change_pct(p["suv_max"], c["suv_max"]),
        "krenning_prior": p["krenning"],
        "krenning_current": c["krenning"],
        "confirmed": True,
    }


def lesion_entries(
    matches: Sequence[Match], prior: dict[int, dict[str, Any]], current: dict[int, dict[str, Any]]
) -> list[dict[str, Any]]:
    """One record per match, in the order of ``matches``."""
    return [lesion_entry(m, prior, current) for m in matches]


def _counted(entry: dict[str, Any]) -> bool:
    return entry.get("confirmed", True)


def totals(
    prior_findings: dict[str, Any],
    current_findings: dict[str, Any],
    entries: Sequence[dict[str, Any]],
) -> dict[str, Any]:
    """Patient-level totals then and now, their change and the lesion counts by status.

    SSTR-TV (MTV on FDG) and TL-SSTR (TLG on FDG) are the analyses' own figures
    (``summary`` of each ``findings.json``). The partial-volume-corrected tumour volume is
    summed over the entries, leaving out new and disappeared lesions that are not confirmed
    (the other study shows lesion-level uptake at their site); so are the counts.
    """
    sp, sc = prior_findings.get("summary", {}), current_findings.get("summary", {})
    count = {s: sum(e["status"] == s and _counted(e) for e in entries) for s in _STATUSES}
    pvc_p = sum(e["volume_pvc_ml_prior"] or 0.0 for e in entries if _counted(e))
    pvc_c = sum(e["volume_pvc_ml_current"] or 0.0 for e in entries if _counted(e))
    return {
        "sstr_tv_ml_prior": sp.get("sstr_tv_ml"),
        "sstr_tv_ml_current": sc.get("sstr_tv_ml"),
        "sstr_tv_change_pct": change_pct(sp.get("sstr_tv_ml"), sc.get("sstr_tv_ml")),
        "tumour_volume_pvc_ml_prior": round(pvc_p, 3),
        "tumour_volume_pvc_ml_current": round(pvc_c, 3),
        "tumour_volume_pvc_change_pct": change_pct(pvc_p, pvc_c),
        "tl_sstr_prior": sp.get("tl_sstr"),
        "tl_sstr_current": sc.get("tl_sstr"),
        "tl_sstr_change_pct": change_pct(sp.get("tl_sstr"), sc.get("tl_sstr")),
        "n_new": count["new"],
        "n_disappeared": count["disappeared"],
        "n_paired": count["paired"],
        "n_split": count["split"],
        "n_merged": count["merged"],
        "n_unconfirmed": sum(not _counted(e) for e in entries),
    }


_STATUSES = ("paired", "split", "merged", "new", "disappeared")
