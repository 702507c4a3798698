"""Words for the report: the exam's radiation dose and a plain-language summary.

Both read the ``findings.json`` dictionary (see :class:`nenscope.analysis.Findings`), so the
report, the service and the cohort runner describe a study the same way.
"""

from __future__ import annotations

from typing import Any

from nenscope.errors import NenscopeError
from nenscope.knowledge import get_agent


def exam_dose(study: dict[str, Any]) -> dict[str, Any]:
    """Effective dose of the radiopharmaceutical in mSv, with the coefficient's source.

    The CT part of a PET/CT is not included (it depends on the CT protocol; DICOM dose reports
    are not read yet); the result says so.
    """
    agent_name = study.get("agent")
    activity_mbq = study.get("injected_activity_mbq")
    if activity_mbq is None and study.get("injected_activity_bq") is not None:
        activity_mbq = study["injected_activity_bq"] / 1e6
    out: dict[str, Any] = {
        "agent": agent_name,
        "injected_activity_mbq": activity_mbq,
        "effective_dose_msv": None,
        "source": None,
        "note": "radiopharmaceutical only; the CT dose is not included",
    }
    if not agent_name or activity_mbq is None:
        out["note"] = "agent or injected activity unknown: dose not computed"
        return out
    try:
        agent = get_agent(agent_name)
    except NenscopeError:
        out["note"] = f"agent {agent_name!r} is not in the catalogue: dose not computed"
        return out
    out["effective_dose_msv"] = agent.effective_dose_msv(activity_mbq)
    out["source"] = agent.dose_source
    return out


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def patient_summary(findings: dict[str, Any]) -> list[str]:
    """A few sentences for the patient, in plain language (no SUV jargon)."""
    study = findings.get("study", {})
    summary = findings.get("summary", {})
    lesions = findings.get("lesions", [])
    agent = study.get("agent") or "the tracer"
    n = int(summary.get("n_lesions", len(lesions)))
    is_fdg = "FDG" in str(agent).upper()
    lines = [
        f"You had a scan with {agent}, a small amount of a radioactive tracer that collects in "
        + (
            "tissues that use a lot of sugar."
            if is_fdg
            else "cells that carry somatostatin receptors, as most neuroendocrine tumours do."
        )
    ]
    if n == 0:
        lines.append("The computer analysis found no spots with more tracer than expected.")
    else:
        sites = sorted({str(les.get("site", "other")).replace("_", " ") for les in lesions})
        lines.append(
            f"The computer analysis found {_plural(n, 'spot')} with more tracer than the normal "
            f"tissue around {'it' if n == 1 else 'them'} ({', '.join(sites)})."
        )
    met = summary.get("prrt_criterion_met")
    if met is True:
        lines.append(
            "The measurable spots take up the tracer at least as much as the liver. This is one "
            "of the things doctors look for when they consider treatment with radioactive "
            "medicine aimed at the same receptors (PRRT); they also weigh other tests."
        )
    elif met is False and n:
        lines.append(
            "Not all spots take up the tracer as much as the liver, so treatment with "
            "radioactive medicine aimed at these receptors (PRRT) may not reach all of them; "
            "your doctors will discuss the options."
        )
    dose = exam_dose(study)
    if dose["effective_dose_msv"] is not None:
        lines.append(
            f"The tracer gave a radiation dose of about {dose['effective_dose_msv']:.1f} mSv, "
            "comparable to one or two years of natural background radiation."
        )
    lines.append(
        "These results are computed automatically and are only final once your nuclear "
        "medicine physician has reviewed and signed the report."
    )
    return lines
