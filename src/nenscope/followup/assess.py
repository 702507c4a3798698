"""Apply the response criteria to compared studies (numbers from the lesion entries).

- SSTR studies: the SSTR-TV criterion and the tumour-to-spleen uptake criterion (research
  criteria: no consensus SSTR criterion exists);
- FDG studies (the main pair when it is FDG, else the ``--fdg``/``--prior-fdg`` pair):
  PERCIST 1.0 (SUL, through the SUL/SUV factor ratio of each study) and EORTC 1999;
- every pair: RECIST 1.1 on the CT long axes when the CT is declared diagnostic.
"""

from __future__ import annotations

import math
from typing import Any

from nenscope.followup.criteria import (
    EortcTarget,
    RecistTarget,
    Response,
    eortc,
    not_assessable,
    percist,
    recist,
    select_recist_targets,
    sstr_uptake,
    sstr_volume,
)
from nenscope.followup.ctaxis import ct_long_axes_mm
from nenscope.followup.pair import PairComparison

__all__ = ["fdg_responses", "recist_response", "sstr_responses"]


def sstr_responses(pair: PairComparison) -> list[Response]:
    """SSTR tumour-volume criterion (on the partial-volume-corrected total, see
    :mod:`nenscope.followup.changes`) and the tumour-to-spleen uptake criterion."""
    t = pair.totals
    out = [
        sstr_volume(t["tumour_volume_pvc_ml_prior"], t["tumour_volume_pvc_ml_current"], t["n_new"])
    ]
    before, after = [], []
    prior, current = pair.prior.lesions, pair.current.lesions
    for m in pair.matches:
        if m.status != "paired":
            continue
        a, b = prior[m.prior_ids[0]].get("tsr"), current[m.current_ids[0]].get("tsr")
        if a is not None and b is not None:
            before.append(float(a))
            after.append(float(b))
    out.append(sstr_uptake(before, after, n_new=t["n_new"]))
    return out


def recist_response(pair: PairComparison, *, diagnostic_ct: bool) -> Response:
    """RECIST 1.1 on the long axes of the lesions' CT correlates (diagnostic CT only)."""
    if not diagnostic_ct:
        return not_assessable(
            "recist11",
            "the CT of a PET/CT is usually not diagnostic (low dose, no contrast medium): "
            "declare a diagnostic CT to measure long axes",
        )
    if pair.prior.ct is None or pair.current.ct is None:
        return not_assessable("recist11", "a CT is missing")
    axes_p = ct_long_axes_mm(pair.prior.labels, pair.prior.ct, pair.prior.lesions)
    axes_c = ct_long_axes_mm(pair.current.labels, pair.current.ct, pair.current.lesions)
    rows = [(m, e) for m, e in zip(pair.matches, pair.entries, strict=True) if m.prior_ids]
    before: list[float | None] = []
    for m, _ in rows:
        values = [axes_p[i] for i in m.prior_ids]
        before.append(None if any(v is None for v in values) else sum(values))  # type: ignore[misc]
    chosen = select_recist_targets(before, [e["site"] or "" for _, e in rows])
    targets = [
        RecistTarget(
            organ=rows[i][1]["site"] or "",
            long_axis_prior_mm=float(before[i]),  # type: ignore[arg-type]
            long_axis_current_mm=float(sum(axes_c[c] or 0.0 for c in rows[i][0].current_ids)),
        )
        for i in chosen
    ]
    return recist(targets, pair.totals["n_new"])


def _equivalent_diameter_mm(volume_ml: float | None) -> float:
    return 0.0 if not volume_ml else (6.0 * volume_ml * 1000.0 / math.pi) ** (1.0 / 3.0)


def _hottest(lesions: dict[int, dict[str, Any]]) -> float:
    return max((float(les["suv_peak"]) for les in lesions.values()), default=0.0)


def fdg_responses(pair: PairComparison) -> list[Response]:
    """PERCIST 1.0 (hottest lesion's SULpeak) and EORTC 1999 (SUVmax of the baseline
    regions) on an FDG pair."""
    prior, current = pair.prior, pair.current
    targets = [
        EortcTarget(
            suv_max_prior=float(e["suv_max_prior"]),
            suv_max_current=None if e["status"] == "disappeared" else float(e["suv_max_current"]),
            extent_prior_mm=_equivalent_diameter_mm(e["volume_ml_prior"]),
            extent_current_mm=_equivalent_diameter_mm(e["volume_ml_current"]),
        )
        for e in pair.entries
        if e["prior_id"] is not None
    ]
    n_new = pair.totals["n_new"]
    out = [eortc(targets, n_new)]
    rp, rc = prior.sul_per_suv, current.sul_per_suv
    ref_p = prior.findings.get("reference", {})
    ref_c = current.findings.get("reference", {})
    if rp is None or rc is None or ref_p.get("liver_suv_mean") is None:
        out.insert(0, not_assessable("percist", "SUL or the prior liver reference is missing"))
        return out
    if not prior.lesions:
        out.insert(0, not_assessable("percist", "no FDG-avid lesion at the prior study"))
        return out
    tlg_p = prior.findings.get("summary", {}).get("tl_sstr")
    tlg_c = current.findings.get("summary", {}).get("tl_sstr")
    liver_c = ref_c.get("liver_suv_mean")
    out.insert(
        0,
        percist(
            _hottest(prior.lesions) * rp,
            _hottest(current.lesions) * rc,
            liver_sul_mean_prior=float(ref_p["liver_suv_mean"]) * rp,
            liver_sul_sd_prior=float(ref_p.get("liver_suv_sd") or 0.0) * rp,
            liver_sul_mean_current=None if liver_c is None else float(liver_c) * rc,
            tlg_prior=None if tlg_p is None else float(tlg_p) * rp,
            tlg_current=None if tlg_c is None else float(tlg_c) * rc,
            n_new=n_new,
        ),
    )
    return out
