"""The words of the report's structured sections, from the findings and the job's record.

Indication, technique, comparison, the measured detection limits and the impression draft;
nothing is measured here: every number is read from the record that
:func:`nenscope.jobs.analyze.run_analysis` hands to the report (``findings.json`` plus
``acquisition`` and ``clinical``) or from ``data/detection_limits.toml``.
"""

from __future__ import annotations

import tomllib
from datetime import datetime
from functools import cache
from importlib import resources
from typing import Any

from nenscope.report.format import MISSING, fmt

#: SUV normalisations by their ``AnalysisOptions.suv_kind`` key (nenscope.imaging.study):
#: the short label (colour bars) and the words (technique).
SUV_TYPES = {
    "bw": ("SUVbw", "SUVbw (body weight)"),
    "sul": ("SUL", "SUL (lean body mass, Janmahasatian 2005)"),
    "lbm_james": ("SUV-LBM", "SUV-LBM (lean body mass, James 1976)"),
    "bsa": ("SUV-BSA", "SUV-BSA (body surface area, DuBois 1916)"),
    "ibw": ("SUV-IBW", "SUV-IBW (ideal body weight)"),
}
NO_PRIOR = "No prior study was given: no comparison."
NO_INDICATION = "Not given (to be completed by the reporting physician)."
DRAFT_NOTE = (
    "Draft written by the software from the measurements above, for the reporting physician "
    "to review, edit and sign; not a diagnosis."
)


def suv_type(kind: str | None, *, short: bool = False) -> str:
    """The SUV type in words (``"bw"`` -> ``"SUVbw (body weight)"``; ``short``: ``"SUVbw"``)."""
    if kind not in SUV_TYPES:
        return str(kind) if kind else ("SUV" if short else MISSING)
    return SUV_TYPES[kind][0 if short else 1]


def clock(value: Any) -> str:
    """An ISO date-time as ``YYYY-MM-DD HH:MM`` (the report's time format)."""
    if value is None:
        return MISSING
    try:
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    except ValueError:  # not ISO: shown as given
        return str(value)
    return moment.strftime("%Y-%m-%d %H:%M")


def technique_rows(record: dict[str, Any], doses_msv: list[float | None]) -> list[dict[str, str]]:
    """One row per study (main, then FDG) for the technique table: agent, activity,
    injection time, scan start, uptake time, SUV type, decay correction, CT, tracer dose.

    ``record["acquisition"]`` comes from the job; without it (findings alone) the main study
    row is built from ``record["study"]`` and the times it lacks show as missing.
    """
    studies = record.get("acquisition") or [record.get("study", {})]
    return [
        {
            "role": "main study" if i == 0 else "FDG study",
            "agent": a.get("agent") or MISSING,
            "activity": fmt(a.get("injected_activity_mbq"), ".0f", " MBq"),
            "injection": clock(a.get("injection_datetime")),
            "scan_start": clock(a.get("scan_start_datetime")),
            "uptake": fmt(a.get("uptake_time_min"), ".0f", " min"),
            "suv_type": suv_type(a.get("suv_kind")),
            "decay_correction": a.get("decay_correction") or MISSING,
            "ct": ct_text(a),
            "dose": fmt(dose, ".2f", " mSv"),
        }
        for i, (a, dose) in enumerate(zip(studies, doses_msv, strict=False))
    ]


def ct_text(acquisition: dict[str, Any]) -> str:
    """The CT cell: "yes" with its dose indices when the headers gave them, "no", or missing."""
    has_ct = acquisition.get("has_ct")
    if has_ct is None:
        return MISSING
    if not has_ct:
        return "no"
    if acquisition.get("ct_dlp_mgy_cm") is None:
        return "yes (dose not in the headers)"
    return (
        f"yes (CTDIvol {acquisition['ct_ctdi_vol_mgy']:.1f} mGy, DLP "
        f"{acquisition['ct_dlp_mgy_cm']:.0f} mGy·cm, about "
        f"{acquisition['ct_effective_dose_msv']:.1f} mSv)"
    )


def clinical(record: dict[str, Any]) -> dict[str, str]:
    """The indication and the comparison sentence (``record["clinical"]``)."""
    given = record.get("clinical") or {}
    prior = given.get("prior")
    return {
        "indication": given.get("indication") or NO_INDICATION,
        "comparison": f"Compared with the prior study: {prior}." if prior else NO_PRIOR,
    }


@cache
def detection_limits() -> dict[str, Any]:
    """The measured detection limits (``data/detection_limits.toml``, from docs/analysis.md)."""
    raw = resources.files("nenscope.report").joinpath("data/detection_limits.toml")
    return tomllib.loads(raw.read_text("utf-8"))


def limits_lines() -> list[str]:
    """The detection limits as sentences: sensitivity and false positives per test set, the
    reference accuracy, what the method is known to miss, where the figures come from."""
    d = detection_limits()
    sets = "; ".join(
        f"{s['name']}: {s['sensitivity_percent']:g} % sensitivity, "
        f"{s['false_positives_per_patient']:g} false positives per patient"
        for s in d["sets"]
    )
    ref = d["references"]
    return [
        f"Measured on {d['measured_on']}. Lesions of {d['min_diameter_mm']} mm or more: {sets}.",
        f"Liver SUVmean within {ref['liver_error_percent_worst']:g} % (worst patient); "
        f"Krenning score agreement {ref['krenning_agreement_percent_worst']:g} % or more "
        "(worst test set) for lesions whose true uptake is more than 15 % from a grade "
        "boundary.",
        "Known to be missed or unreliable: " + "; ".join(m["text"] for m in d["misses"]) + ".",
        f"Source: {d['source']}.",
    ]


def _lesion_phrase(lesion: dict[str, Any]) -> str:
    scores = [
        f"Krenning {lesion['krenning']}" if lesion.get("krenning") is not None else "",
        f"SSTR-RADS {lesion['sstr_rads']}" if lesion.get("sstr_rads") else "",
        lesion.get("reading") or "",
        f"NETPET {lesion['netpet']}" if lesion.get("netpet") else "",
    ]
    said = ", ".join(s for s in scores if s)
    return (
        f"#{lesion['id']} {lesion.get('site') or 'site unknown'} "
        f"(SUVmax {fmt(lesion.get('suv_max'), '.1f')}, {fmt(lesion.get('volume_ml'), '.1f')} ml"
        + (f"; {said})" if said else ")")
    )


def impression_lines(record: dict[str, Any]) -> list[str]:
    """The impression draft: the lesions with their scores, the SSTR imaging criterion for
    PRRT and NETPET as the analysis gave them (for the physician to review)."""
    study, summary = record.get("study", {}), record.get("summary", {})
    lesions = record.get("lesions", [])
    agent = study.get("agent") or "the tracer"
    if not lesions:
        lines = [f"No focus of {agent} uptake above the detection threshold."]
    else:
        foci = "1 focus" if len(lesions) == 1 else f"{len(lesions)} foci"
        lines = [
            f"{foci} of {agent} uptake beyond the physiological: "
            + "; ".join(_lesion_phrase(les) for les in lesions)
            + "."
        ]
    met = summary.get("prrt_criterion_met")
    if study.get("agent_class") == "sstr" and met is not None:
        verdict = "met" if met else "not met"
        lines.append(
            f"SSTR imaging criterion for PRRT {verdict}: {summary.get('prrt_reason') or ''}; "
            "the clinical criteria are not assessed."
        )
    if summary.get("netpet"):
        lines.append(
            f"NETPET {summary['netpet']} ({summary.get('n_fdg_only') or 0} FDG-only lesions)."
        )
    return lines
