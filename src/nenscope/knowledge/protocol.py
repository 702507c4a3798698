"""Protocol advice: which agent, how much activity, when to scan, what dose.

The scenarios and their ranked agents live in ``data/scenarios.toml`` (each with its reason
and evidence); activities and doses come from the tracer catalogue.

Example
-------
>>> advice = advise("staging", weight_kg=70.0)
>>> first = advice.recommendations[0]
>>> first.agent, first.activity_mbq, first.effective_dose_msv
('68Ga-DOTATATE', 140.0, 2.94)
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from nenscope.errors import NenscopeError
from nenscope.knowledge.tracers import get_agent

MAX_WEIGHT_KG = 350.0
HEIGHT_RANGE_CM = (40.0, 250.0)


@dataclass(frozen=True)
class Recommendation:
    rank: int
    agent: str
    radionuclide: str
    modality: str
    status: str
    activity_mbq: float | None
    uptake_min: int
    imaging_times_h: tuple[float, ...]
    effective_dose_msv: float | None
    rationale: str
    evidence: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "rank": self.rank,
            "agent": self.agent,
            "radionuclide": self.radionuclide,
            "modality": self.modality,
            "status": self.status,
            "activity_mbq": self.activity_mbq,
            "uptake_min": self.uptake_min,
            "imaging_times_h": list(self.imaging_times_h),
            "effective_dose_msv": self.effective_dose_msv,
            "rationale": self.rationale,
            "evidence": list(self.evidence),
        }


@dataclass(frozen=True)
class ProtocolAdvice:
    scenario: str
    title: str
    patient: dict[str, Any]
    recommendations: tuple[Recommendation, ...]
    preparation: tuple[str, ...]
    cautions: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "title": self.title,
            "patient": self.patient,
            "recommendations": [r.to_dict() for r in self.recommendations],
            "preparation": list(self.preparation),
            "cautions": list(self.cautions),
        }


@lru_cache(maxsize=1)
def _scenarios() -> dict[str, dict[str, Any]]:
    text = resources.files("nenscope.knowledge").joinpath("data/scenarios.toml").read_text("utf-8")
    return {row["name"]: row for row in tomllib.loads(text)["scenario"]}


def list_scenarios() -> list[tuple[str, str]]:
    """``(name, title)`` of every scenario."""
    return [(name, row["title"]) for name, row in _scenarios().items()]


def _check_patient(weight_kg: float, height_cm: float | None, sex: str | None) -> dict[str, Any]:
    if not 0.0 < weight_kg <= MAX_WEIGHT_KG:
        raise NenscopeError(f"weight must be between 0 and {MAX_WEIGHT_KG:g} kg, got {weight_kg:g}")
    patient: dict[str, Any] = {"weight_kg": weight_kg, "height_cm": height_cm, "sex": sex}
    if height_cm is not None:
        lo, hi = HEIGHT_RANGE_CM
        if not lo <= height_cm <= hi:
            raise NenscopeError(f"height must be between {lo:g} and {hi:g} cm, got {height_cm:g}")
        patient["bmi_kg_m2"] = round(weight_kg / (height_cm / 100.0) ** 2, 1)
    if sex is not None and sex.upper() not in ("F", "M"):
        raise NenscopeError(f"sex must be F or M, got {sex!r}")
    patient["sex"] = sex.upper() if sex else None
    return patient


def _merge(*groups: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for group in groups:
        for item in group:
            seen.setdefault(item, None)
    return tuple(seen)


def advise(
    scenario: str,
    *,
    weight_kg: float,
    height_cm: float | None = None,
    sex: str | None = None,
) -> ProtocolAdvice:
    """Ranked imaging advice for a clinical ``scenario`` and a patient.

    Parameters
    ----------
    scenario : one of :func:`list_scenarios` (e.g. ``"staging"``, ``"insulinoma"``).
    weight_kg : body weight in kg (activity rules are per kg for SSTR-PET and FDG).
    height_cm, sex : optional; reported back with the BMI.

    Raises
    ------
    NenscopeError : unknown scenario, or a weight/height/sex out of range.
    """
    rows = _scenarios()
    if scenario not in rows:
        raise NenscopeError(f"unknown scenario {scenario!r}; choose one of: {', '.join(rows)}")
    patient = _check_patient(weight_kg, height_cm, sex)
    row = rows[scenario]
    recs = []
    for rank, item in enumerate(row["recommendations"], start=1):
        agent = get_agent(item["agent"])
        activity = agent.activity_mbq(weight_kg)
        recs.append(
            Recommendation(
                rank=rank,
                agent=agent.name,
                radionuclide=agent.radionuclide,
                modality=agent.modality,
                status=agent.status,
                activity_mbq=activity,
                uptake_min=agent.uptake_min,
                imaging_times_h=agent.imaging_times_h,
                effective_dose_msv=agent.effective_dose_msv(activity),
                rationale=item["rationale"],
                evidence=tuple(item["evidence"]),
            )
        )
    first = get_agent(recs[0].agent)
    return ProtocolAdvice(
        scenario=scenario,
        title=row["title"],
        patient=patient,
        recommendations=tuple(recs),
        preparation=_merge(first.preparation),
        cautions=_merge(row.get("cautions", ()), first.cautions),
    )
