"""Protocol advice: which agent, how much activity, when to scan, what dose, how to prepare.

The scenarios and their ranked agents live in ``data/scenarios.toml`` (each with its reason
and evidence; pheochromocytoma/paraganglioma by genotype and site, MTC by calcitonin/CEA
doubling time); activities, doses, approval status and guidance come from the catalogue.

Example
-------
>>> advice = advise("staging", weight_kg=70.0)
>>> first = advice.recommendations[0]
>>> first.agent, first.activity_mbq, first.effective_dose_msv
('68Ga-DOTATATE', 140.0, 2.94)
>>> advise("pheo-paraganglioma", weight_kg=70.0, genotype="SDHB").recommendations[0].agent
'68Ga-DOTATATE'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nenscope.errors import NenscopeError
from nenscope.knowledge.dosing import check_age, dose_for_patient, is_child
from nenscope.knowledge.guidance import Guidance, InterferingDrug, check_jurisdiction
from nenscope.knowledge.scenarios import get_scenario, resolve_inputs, select_branch
from nenscope.knowledge.tracers import Agent, get_agent

MAX_WEIGHT_KG = 350.0
HEIGHT_RANGE_CM = (40.0, 250.0)


@dataclass(frozen=True)
class Recommendation:
    """One ranked agent for a patient: activity (MBq), key scan time (h), dose (mSv), why."""

    rank: int
    agent: str
    radionuclide: str
    modality: str
    status: str
    status_source: str
    activity_mbq: float | None
    activity_method: str
    uptake_min: int
    scan_h: float
    imaging_times_h: tuple[float, ...]
    effective_dose_msv: float | None
    dose_method: str
    rationale: str
    evidence: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        out = dict(vars(self))
        out["imaging_times_h"] = list(self.imaging_times_h)
        out["evidence"] = list(self.evidence)
        return out


@dataclass(frozen=True)
class ProtocolAdvice:
    """Ranked recommendations for a scenario and patient, with the first agent's guidance."""

    scenario: str
    title: str
    branch: str | None
    branch_source: str | None
    patient: dict[str, Any]
    inputs: dict[str, Any]
    jurisdiction: str | None
    recommendations: tuple[Recommendation, ...]
    preparation: tuple[Guidance, ...]
    pregnancy: Guidance
    breastfeeding: Guidance
    interfering_drugs: tuple[InterferingDrug, ...]
    cautions: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "title": self.title,
            "branch": self.branch,
            "branch_source": self.branch_source,
            "patient": self.patient,
            "inputs": self.inputs,
            "jurisdiction": self.jurisdiction,
            "recommendations": [r.to_dict() for r in self.recommendations],
            "preparation": [g.to_dict() for g in self.preparation],
            "pregnancy": self.pregnancy.to_dict(),
            "breastfeeding": self.breastfeeding.to_dict(),
            "interfering_drugs": [d.to_dict() for d in self.interfering_drugs],
            "cautions": list(self.cautions),
        }


def _check_patient(
    weight_kg: float, height_cm: float | None, sex: str | None, age_years: float | None
) -> dict[str, Any]:
    if not 0.0 < weight_kg <= MAX_WEIGHT_KG:
        raise NenscopeError(f"weight must be between 0 and {MAX_WEIGHT_KG:g} kg, got {weight_kg:g}")
    check_age(age_years)
    patient: dict[str, Any] = {"weight_kg": weight_kg, "height_cm": height_cm, "sex": sex}
    if height_cm is not None:
        lo, hi = HEIGHT_RANGE_CM
        if not lo <= height_cm <= hi:
            raise NenscopeError(f"height must be between {lo:g} and {hi:g} cm, got {height_cm:g}")
        patient["bmi_kg_m2"] = round(weight_kg / (height_cm / 100.0) ** 2, 1)
    if sex is not None and sex.upper() not in ("F", "M"):
        raise NenscopeError(f"sex must be F or M, got {sex!r}")
    patient["sex"] = sex.upper() if sex else None
    patient["age_years"] = age_years
    return patient


def _merge(*groups: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for group in groups:
        for item in group:
            seen.setdefault(item, None)
    return tuple(seen)


def _recommend(
    rank: int, item: dict[str, Any], patient: dict[str, Any], jurisdiction: str | None
) -> Recommendation:
    agent = get_agent(item["agent"])
    dose = dose_for_patient(agent, weight_kg=patient["weight_kg"], age_years=patient["age_years"])
    status_source = (
        agent.approval[jurisdiction].source
        if jurisdiction
        else "; ".join(f"{j}: {a.source}" for j, a in agent.approval.items())
    )
    return Recommendation(
        rank=rank,
        agent=agent.name,
        radionuclide=agent.radionuclide,
        modality=agent.modality,
        status=agent.status_in(jurisdiction),
        status_source=status_source,
        activity_mbq=dose.activity_mbq,
        activity_method=dose.activity_method,
        uptake_min=agent.uptake_min,
        scan_h=agent.scan_h,
        imaging_times_h=agent.imaging_times_h,
        effective_dose_msv=dose.effective_dose_msv,
        dose_method=dose.dose_method,
        rationale=item["rationale"],
        evidence=tuple(item["evidence"]),
    )


def _input_cautions(
    defaulted: list[str], inputs: dict[str, Any], first: Agent, jurisdiction: str | None
) -> list[str]:
    """Cautions on assumed inputs and on a first choice not approved in ``jurisdiction``."""
    notes = []
    if defaulted:
        given = ", ".join(f"{n} = {inputs[n]}" for n in defaulted)
        notes.append(f"Not given, assumed: {given} (set them to refine the advice).")
    if jurisdiction:
        approval = first.approval[jurisdiction]
        if approval.status != "approved":
            notes.append(
                f"{jurisdiction.upper()}: {first.name} is {approval.status}. {approval.note}"
            )
    return notes


def advise(
    scenario: str,
    *,
    weight_kg: float,
    height_cm: float | None = None,
    sex: str | None = None,
    age_years: float | None = None,
    jurisdiction: str | None = None,
    genotype: str | None = None,
    site: str | None = None,
    doubling_time_months: float | None = None,
) -> ProtocolAdvice:
    """Ranked imaging advice for a clinical ``scenario`` and a patient.

    Parameters
    ----------
    scenario : one of :func:`list_scenarios` (e.g. ``"staging"``, ``"pheo-paraganglioma"``).
    weight_kg : body weight in kg (per-kg activities, paediatric dosage card).
    height_cm, sex : optional; reported back with the BMI.
    age_years : below 18 the EANM paediatric dosage card and age-specific dose coefficients.
    jurisdiction : ``"us"`` or ``"eu"``: the status column shows that approval status.
    genotype, site : pheochromocytoma/paraganglioma (EANM/SNMMI 2019, Taïeb et al.).
    doubling_time_months : calcitonin/CEA doubling time in MTC (< 12 months: FDG first).

    Raises
    ------
    NenscopeError : unknown scenario, input or value, or a weight/height/sex/age out of range.
    """
    row = get_scenario(scenario)
    jurisdiction = check_jurisdiction(jurisdiction)
    patient = _check_patient(weight_kg, height_cm, sex, age_years)
    inputs, defaulted = resolve_inputs(
        row, {"genotype": genotype, "site": site, "doubling_time_months": doubling_time_months}
    )
    branch = select_branch(row, inputs)
    recs = tuple(
        _recommend(rank, item, patient, jurisdiction)
        for rank, item in enumerate(branch["recommendations"], start=1)
    )
    first = get_agent(recs[0].agent)
    extra = _input_cautions(defaulted, inputs, first, jurisdiction)
    if is_child(age_years):
        extra.append(
            "Child: activities from the EANM paediatric dosage card; effective doses with "
            "age-specific coefficients (ICRP) or the stated 18F-FDG-ratio estimate."
        )
    is_branch = branch is not row
    return ProtocolAdvice(
        scenario=scenario,
        title=row["title"],
        branch=branch["name"] if is_branch else None,
        branch_source=branch["source"] if is_branch else None,
        patient=patient,
        inputs=inputs,
        jurisdiction=jurisdiction,
        recommendations=recs,
        preparation=first.preparation,
        pregnancy=first.pregnancy,
        breastfeeding=first.breastfeeding,
        interfering_drugs=first.interfering_drugs,
        cautions=_merge(row.get("cautions", ()), branch.get("cautions", ()), extra, first.cautions),
    )
