"""What a physicist signs after the doses: uncertainty, red marrow, the regimen, the plan.

Applied to a :class:`~nenscope.dosimetry.pipeline.DosimetryResult` by the dosimetry job:

* :func:`attach_uncertainty` — each region's TIA, dose and BED ± SD
  (:mod:`nenscope.dosimetry.uncertainty`, EANM/Gear 2018);
* :func:`marrow_dose` — the red marrow from an L2–L4 VOI region or blood samples
  (:mod:`nenscope.dosimetry.marrow`, EANM 2022), added as a ``red_marrow`` row;
* :func:`project_regimen` — kidneys and marrow over the planned cycles and the activity that
  keeps the next cycle within the limits (:mod:`nenscope.dosimetry.cycles`);
* :func:`compare_with_plan` — measured against the doses ``nenscope plan`` predicted.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from nenscope.dosimetry import cycles, marrow, radiobiology, svalues, uncertainty
from nenscope.dosimetry.kinetics import KineticFit
from nenscope.dosimetry.pipeline import DosimetryResult, RegionResult
from nenscope.dosimetry.pipeline import _r as _sig

_LIMITED = ("kidney", "red_marrow")


def _is_marrow_voi(name: str) -> bool:
    return svalues.region_kind(name) == "marrow_voi"


def mass_warnings(result: DosimetryResult, *, weight_kg: float | None = None) -> list[str]:
    """Organ regions whose mass is beyond ±30 % of the ICRP reference scaled to the patient
    (:mod:`nenscope.dosimetry.organmass`)."""
    from nenscope.dosimetry.organmass import mass_warning

    out = []
    for r in result.regions:
        w = mass_warning(r.name, r.mass_g, sex=result.sex, weight_kg=weight_kg)
        if w:
            out.append(w)
    return out


def attach_uncertainty(
    result: DosimetryResult,
    *,
    masks: Mapping[str, np.ndarray] | None = None,
    spacing_mm: Sequence[float] | None = None,
    psf_fwhm_mm: float | None = None,
    calibration_rel: float | None = None,
) -> None:
    """Set ``uncertainty`` on every region with a dose (volume terms from its mask, if any)."""
    rel_fit = {
        r.name: r.fit.tia_std_mbq_h / r.fit.tia_mbq_h
        for r in result.regions
        if r.fit.tia_mbq_h > 0 and math.isfinite(r.fit.tia_std_mbq_h)
    }
    for r in result.regions:
        if not math.isfinite(r.dose_gy):
            continue
        vol = None
        if masks is not None and spacing_mm is not None and r.name in masks:
            vol = uncertainty.volume_terms(masks[r.name], spacing_mm, psf_fwhm_mm=psf_fwhm_mm)
        others = [v for k, v in rel_fit.items() if k != r.name]
        tissue = radiobiology.tissue_parameters(svalues.tissue_of(r.name))
        r.uncertainty = uncertainty.propagate(
            tia_mbq_h=r.fit.tia_mbq_h,
            tia_fit_std_mbq_h=r.fit.tia_std_mbq_h,
            dose_gy=r.dose_gy,
            self_gy=r.self_gy,
            bed_gy=r.bed_gy,
            alpha_beta_gy=tissue.alpha_beta_gy,
            volume=vol,
            calibration_rel=calibration_rel,
            cross_rel=max(others, default=0.0),
        )


def marrow_dose(
    result: DosimetryResult,
    *,
    blood: tuple[Sequence[float], Sequence[float]] | None = None,
    weight_kg: float | None = None,
    previous: Sequence[radiobiology.CycleDose] = (),
) -> marrow.MarrowDose | None:
    """Red-marrow dose from a marrow-VOI region (L2–L4) or from blood samples (preferred when
    both are there); adds a ``red_marrow`` row with its BED and, with the ``red_marrow`` rows
    of ``previous``, its cumulative dose and BED. None without either."""
    tia = {r.name: r.fit.tia_mbq_h for r in result.regions if r.kind in ("organ", "tumour")}
    voi = next((r for r in result.regions if _is_marrow_voi(r.name)), None)
    body = next((r for r in result.regions if r.kind == "body"), None)
    kw = dict(
        sex=result.sex,
        weight_kg=weight_kg,
        organ_tia_mbq_h={k: v for k, v in tia.items() if voi is None or k != voi.name},
        whole_body_tia_mbq_h=None if body is None else body.fit.tia_mbq_h,
    )
    if blood is not None:
        md = marrow.blood_based(*blood, **kw)
        fit = marrow._fit_blood(*blood)
    elif voi is not None:
        md = marrow.image_based(voi.fit, **kw)
        fit = voi.fit
    else:
        return None
    p = radiobiology.tissue_parameters("red_marrow")
    bed = radiobiology.bed_gy(
        md.dose_gy,
        fit.t_eff_h,
        alpha_beta_gy=p.alpha_beta_gy,
        repair_half_time_h=p.repair_half_time_h,
    )
    gbq = result.injected_gbq
    row = RegionResult(
        name="red_marrow",
        kind="organ",
        mass_g=md.mass_g,
        fit=_scaled(fit, md.tia_mbq_h / fit.tia_mbq_h),
        dose_gy=md.dose_gy,
        bed_gy=float(bed),
        dose_gy_per_gbq=md.dose_gy / gbq if gbq else None,
        dose_method=f"red marrow, {md.method} (EANM 2022)",
        s_value_tables=("OLINDA-style ICRP-89",),
        self_gy=md.self_gy,
        cross_gy=md.cross_organs_gy + (md.cross_remainder_gy or 0.0),
    )
    cum = radiobiology.cumulative(
        {row.name: (row.dose_gy, row.bed_gy)},
        [c for c in previous if svalues.tissue_of(c.region) == "red_marrow"],
        svalues.tissue_of,
    )
    row.cumulative_dose_gy, row.cumulative_bed_gy = cum[row.name]
    result.regions.append(row)
    result.marrow = md
    return md


def _scaled(fit: KineticFit, k: float) -> KineticFit:
    """The curve ``fit`` times ``k`` (the VOI or blood curve as the whole marrow's, MBq)."""
    return replace(
        fit,
        tia_mbq_h=fit.tia_mbq_h * k,
        tia_std_mbq_h=fit.tia_std_mbq_h * k,
        params={n: v * k if n.startswith("a") else v for n, v in fit.params.items()},
        param_std={n: v * k if n.startswith("a") else v for n, v in fit.param_std.items()},
        activity_mbq=tuple(a * k for a in fit.activity_mbq),
    )


def project_regimen(
    result: DosimetryResult,
    *,
    remaining_gbq: Sequence[float],
    risk_factors: bool = False,
) -> dict[str, Any]:
    """Kidneys and red marrow over the remaining cycles (cumulative dose/BED against the
    limits) and the largest activity of the next cycle, and of each remaining one."""
    gbq = result.injected_gbq
    if not gbq:
        return {"regions": [], "note": "no administered activity: no projection"}
    rows, responses, delivered = [], [], {}
    for r in result.regions:
        tissue = svalues.tissue_of(r.name)
        if tissue not in _LIMITED or not math.isfinite(r.dose_gy):
            continue
        resp = cycles.RegionResponse.from_cycle(r.name, r.dose_gy, r.bed_gy, gbq, tissue)
        done = (r.cumulative_dose_gy or r.dose_gy, r.cumulative_bed_gy or r.bed_gy)
        proj = cycles.project(resp, done, list(remaining_gbq), risk_factors=risk_factors)
        responses.append(resp)
        delivered[r.name] = done
        rows.append(_projection_row(proj))
    out: dict[str, Any] = {"remaining_gbq": list(remaining_gbq), "regions": rows}
    for key, n in (("next_cycle", 1), ("each_remaining_cycle", max(len(remaining_gbq), 1))):
        adv = cycles.max_activity_gbq(responses, delivered, n_cycles=n, risk_factors=risk_factors)
        out[key] = (
            None
            if adv is None
            else {
                "max_activity_gbq": _sig(adv.activity_gbq),
                "limiting_region": adv.region,
                "limit": f"{adv.limit.quantity} {adv.limit.value_gy:g} Gy",
            }
        )
    return out


def _projection_row(p: cycles.Projection) -> dict[str, Any]:
    return {
        "name": p.region,
        "delivered_dose_gy": _sig(p.delivered_dose_gy),
        "delivered_bed_gy": _sig(p.delivered_bed_gy),
        "projected_dose_gy": _sig(p.projected_dose_gy),
        "projected_bed_gy": _sig(p.projected_bed_gy),
        "limits": [
            {
                "quantity": lim.quantity,
                "limit_gy": lim.value_gy,
                "value_gy": _sig(v),
                "reached": hit,
            }
            for lim, v, hit in p.limits
        ],
    }


def projection_warnings(projection: Mapping[str, Any]) -> list[str]:
    """One warning per limit the planned regimen reaches."""
    out = []
    nxt = projection.get("next_cycle") or {}
    for row in projection.get("regions", []):
        for lim in row["limits"]:
            if lim["reached"]:
                out.append(
                    f"{row['name']}: the planned cycles project {lim['value_gy']:.1f} Gy "
                    f"({lim['quantity']}) against the {lim['limit_gy']:g} Gy limit; the next "
                    f"cycle may have at most {nxt.get('max_activity_gbq', float('nan')):.1f} GBq"
                )
    return out


def compare_with_plan(result: DosimetryResult, plan: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Measured Gy/GBq beside the predicted ones of a ``plan.json`` (kidneys: mass-weighted
    mean of the kidney regions; lesions matched by name)."""
    measured: dict[str, float] = {}
    kid = [r for r in result.regions if svalues.tissue_of(r.name) == "kidney" and r.dose_gy_per_gbq]
    if kid:
        w = [r.mass_g or 1.0 for r in kid]
        measured["kidneys"] = sum(r.dose_gy_per_gbq * m for r, m in zip(kid, w, strict=True)) / sum(
            w
        )
    for r in result.regions:
        if r.dose_gy_per_gbq is not None and r.name not in measured:
            measured[r.name] = r.dose_gy_per_gbq
    out = []
    for p in plan.get("predicted_doses", []):
        m = measured.get(p["region"])
        if m is None:
            continue
        out.append(
            {
                "region": p["region"],
                "predicted_gy_per_gbq": p["dose_gy_per_gbq"],
                "measured_gy_per_gbq": m,
                "measured_over_predicted": m / p["dose_gy_per_gbq"]
                if p["dose_gy_per_gbq"]
                else None,
            }
        )
    return out
