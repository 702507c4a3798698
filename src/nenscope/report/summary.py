"""Words for the report: the exam's radiation dose and a plain-language summary.

Both read the ``findings.json`` dictionary (see :class:`nenscope.analysis.Findings`), with the
job's ``acquisition`` records when the report is written by ``nenscope analyze``. The patient
summary is made of the patient leaflet's sentences (:mod:`nenscope.leaflet.phrases`,
``leaflet/data/leaflet.toml``) and says only what the findings support: what the agent itself
binds, the dose computed from the injected activity against natural background, spots above
the liver only when they are, no treatment announced before the physician's review, and that
a negative scan does not rule out disease.
"""

from __future__ import annotations

from typing import Any

from nenscope.errors import NenscopeError
from nenscope.knowledge import Agent, get_agent
from nenscope.leaflet.phrases import (
    background_equivalent,
    binding_sentence,
    dose_sentence,
    results_sentences,
    texts,
)

CT_NOT_KNOWN = "the CT dose is not known (no CTDIvol in the CT headers; dose reports are not read)"


def _agent(name: str | None) -> Agent | None:
    try:
        return get_agent(name) if name else None
    except NenscopeError:
        return None


def _why_no_dose(agent_name: str | None, agent: Agent | None) -> str:
    if agent is not None:
        return "injected activity unknown: dose not computed"
    if agent_name:
        return f"agent {agent_name!r} is not in the catalogue: dose not computed"
    return "agent unknown: dose not computed"


def exam_dose(study: dict[str, Any]) -> dict[str, Any]:
    """Effective dose of the radiopharmaceutical in mSv, with the coefficient's source.

    ``study`` is ``findings["study"]`` or one of the job's ``acquisition`` records (agent,
    ``injected_activity_mbq``, optionally ``ct_effective_dose_msv``). The CT part of a PET/CT
    is added only when the record gives it (``total_msv``); the note says what is included.
    """
    agent_name = study.get("agent")
    activity_mbq = study.get("injected_activity_mbq")
    if activity_mbq is None and study.get("injected_activity_bq") is not None:
        activity_mbq = study["injected_activity_bq"] / 1e6
    ct_msv = study.get("ct_effective_dose_msv")
    out: dict[str, Any] = {
        "agent": agent_name,
        "injected_activity_mbq": activity_mbq,
        "effective_dose_msv": None,
        "ct_effective_dose_msv": ct_msv,
        "total_msv": None,
        "source": None,
        "note": f"radiopharmaceutical only; {CT_NOT_KNOWN}"
        if ct_msv is None
        else f"radiopharmaceutical; the CT adds {ct_msv:.2f} mSv",
    }
    agent = _agent(agent_name)
    if activity_mbq is None or agent is None:
        out["note"] = _why_no_dose(agent_name, agent)
        return out
    out["effective_dose_msv"] = agent.effective_dose_msv(activity_mbq)
    out["total_msv"] = out["effective_dose_msv"] + (ct_msv or 0.0)
    out["source"] = agent.dose_source
    return out


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _spot_lines(findings: dict[str, Any]) -> list[str]:
    """How many spots and where; for SSTR agents, how many take up more than the liver
    (Krenning 3-4: SUVmax above the liver)."""
    words = texts()["summary"]
    lesions = findings.get("lesions", [])
    if not lesions:
        return [words["none"]]
    sites = sorted({str(les.get("site") or "other").replace("_", " ") for les in lesions})
    lines = [words["some"].format(spots=_plural(len(lesions), "spot"), sites=", ".join(sites))]
    scores = [les.get("krenning") for les in lesions]
    if findings.get("study", {}).get("agent_class") == "sstr" and None not in scores:
        above = sum(1 for k in scores if k >= 3)
        key = "above_liver_all" if above == len(scores) else "above_liver_some"
        verb = "takes" if above == 1 else "take"
        said = words[key].format(above=above, n=len(scores), verb=verb)
        lines.append(said if above else words["above_liver_none"])
    return lines


def _dose_lines(study: dict[str, Any]) -> list[str]:
    """The dose sentence of one scan (leaflet wording), with the CT when its dose is known."""
    dose = exam_dose(study)
    lines = [dose_sentence(dose["effective_dose_msv"])]
    if dose["ct_effective_dose_msv"] is not None and dose["total_msv"] is not None:
        lines.append(
            texts()["summary"]["ct_dose"].format(
                ct_msv=f"{dose['ct_effective_dose_msv']:.1f}",
                total_msv=f"{dose['total_msv']:.1f}",
                equivalent=background_equivalent(dose["total_msv"]),
            )
        )
    elif study.get("has_ct", True):
        lines.append(texts()["safety"]["ct"])
    return lines


def patient_summary(findings: dict[str, Any]) -> list[str]:
    """A few sentences for the patient, in plain language (no SUV jargon), from the leaflet's
    texts; see the module docstring for what they may and may not say."""
    study = findings.get("study", {})
    agent = _agent(study.get("agent"))
    words = texts()["summary"]
    lines = [
        texts()["exam"]["what"].format(scan_type="scan", name=study.get("agent") or "a tracer")
    ]
    if agent is not None:
        lines.append(binding_sentence(agent))
    lines += _spot_lines(findings)
    if agent is not None and findings.get("lesions") and study.get("agent_class") == "sstr":
        lines.append(words["treatment"].format(binds=agent.binds))
    acquisitions = findings.get("acquisition") or [study]
    lines += _dose_lines(acquisitions[0])
    for other in acquisitions[1:]:
        lines.append(words["second_scan"].format(name=other.get("agent") or "another tracer"))
        lines += _dose_lines(other)
    if agent is not None:
        _, spots, negative = results_sentences(agent)
        lines += [spots, negative] if findings.get("lesions") else [negative]
    lines.append(words["final"])
    return lines
