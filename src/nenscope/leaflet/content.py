"""The content of a patient leaflet for one exam or therapy, built from the tracer catalogue.

Sections follow the SNMMI patient leaflet the project grew from: what the exam is, why, how to
prepare, what happens, how long it takes, the radiation dose in context (computed from the
activity for this patient and the agent's dose coefficient), safety for family, pregnancy and
breast-feeding, and what the results mean.

Example
-------
>>> leaflet = leaflet_for("octreoscan")
>>> leaflet.activity_mbq, leaflet.effective_dose_msv
(222.0, 11.99)
>>> any("about the same as 4 years" in p for s in leaflet.sections for p in s.paragraphs)
True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nenscope.errors import NenscopeError
from nenscope.knowledge import Agent, dose_for_patient, get_agent, half_life_s
from nenscope.leaflet.phrases import binding_sentence, dose_sentence, results_sentences, texts
from nenscope.leaflet.phrases import sources as text_sources

#: Weight assumed for a per-kg activity when the caller gives none.
REFERENCE_WEIGHT_KG = 70.0
#: Minutes on the scanner bed for a whole-body PET/CT, and for arrival and paperwork.
PET_SCAN_MIN = 30
ARRIVAL_MIN = 30
_NUMBERS = {1: "one", 2: "two", 3: "three", 4: "four"}
_EXAM_BLOCKS = ("exam", "background", "safety", "results")
_THERAPY_BLOCKS = ("therapy", "safety")


@dataclass(frozen=True)
class Section:
    """A heading and its paragraphs of plain text."""

    heading: str
    paragraphs: tuple[str, ...]


@dataclass(frozen=True)
class Leaflet:
    """A patient leaflet: the sections, the patient's activity and dose, and the sources."""

    agent: str
    title: str
    subtitle: str
    sections: tuple[Section, ...]
    activity_mbq: float | None
    effective_dose_msv: float | None
    weight_kg: float | None
    age_years: float | None
    sources: tuple[str, ...]

    @property
    def body_text(self) -> str:
        """All paragraphs as one text (what the readability score measures)."""
        return "\n".join(p for s in self.sections for p in s.paragraphs)

    def to_dict(self) -> dict[str, Any]:
        return {
            "agent": self.agent,
            "title": self.title,
            "subtitle": self.subtitle,
            "sections": [
                {"heading": s.heading, "paragraphs": list(s.paragraphs)} for s in self.sections
            ],
            "activity_mbq": self.activity_mbq,
            "effective_dose_msv": self.effective_dose_msv,
            "weight_kg": self.weight_kg,
            "age_years": self.age_years,
            "sources": list(self.sources),
        }


def _duration(minutes: float) -> str:
    if minutes < 90:
        return f"{round(minutes / 5) * 5:g} minutes"
    hours = round(minutes / 30) / 2
    return f"{hours:g} hour" + ("" if hours == 1 else "s")


def _scan_type(agent: Agent) -> str:
    if agent.modality.startswith("PET"):
        return "PET/CT scan"
    if "SPECT" in agent.modality:
        return "SPECT scan (gamma camera)"
    return "scan"


def _half_life(agent: Agent) -> str:
    hours = half_life_s(agent.radionuclide) / 3600.0
    return _duration(hours * 60.0) if hours < 24 else f"{hours / 24:.1f} days"


def _timing(agent: Agent) -> list[str]:
    exam = texts()["exam"]
    times = agent.imaging_times_h
    if len(times) > 1 or agent.scan_h >= 4:
        days = len({int(t // 24) for t in times})
        said = " and ".join(_duration(t * 60.0) for t in times)
        return [exam["wait_days"].format(times=said, days=_NUMBERS.get(days, str(days)))]
    wait = exam["wait_one"].format(uptake=_duration(agent.uptake_min), scan_minutes=PET_SCAN_MIN)
    total = exam["time_one"].format(total=_duration(agent.uptake_min + PET_SCAN_MIN + ARRIVAL_MIN))
    return [wait, total]


def _preparation(agent: Agent) -> tuple[str, ...]:
    items = [g.text for g in agent.preparation]
    items += [f"Tell the staff if you take {d.drug}. {d.advice}" for d in agent.interfering_drugs]
    return tuple(items)


def _safety(agent: Agent, therapy: bool) -> tuple[str, ...]:
    s = texts()["safety"]
    family = (
        [texts()["therapy"]["family"]]
        if therapy
        else [
            s["decay"].format(half_life=_half_life(agent)),
            s["family"],
        ]
    )
    return (
        *family,
        s["pregnancy_ask"],
        f"Pregnancy: {agent.pregnancy.text}",
        f"Breastfeeding: {agent.breastfeeding.text}",
    )


def _exam_sections(agent: Agent, dose_msv: float | None) -> list[Section]:
    exam, safety = texts()["exam"], texts()["safety"]
    what = exam["what"].format(scan_type=_scan_type(agent), name=agent.name)
    return [
        Section("What is this scan?", (what, binding_sentence(agent), exam["camera"])),
        Section("Why is it done?", (agent.purpose,)),
        Section("How do I prepare?", _preparation(agent)),
        Section("What happens?", (exam["injection"], *_timing(agent))),
        Section("How much radiation is it?", (dose_sentence(dose_msv), safety["ct"])),
        Section("Is it safe for my family?", _safety(agent, therapy=False)),
        Section("After the scan", (exam["after"],)),
        Section("What do the results mean?", tuple(results_sentences(agent))),
    ]


def _therapy_sections(agent: Agent, activity_mbq: float | None) -> list[Section]:
    t = texts()["therapy"]
    activity = activity_mbq if activity_mbq is not None else agent.activity_mbq()
    return [
        Section(
            "What is this treatment?", (t["what"].format(name=agent.name), binding_sentence(agent))
        ),
        Section("Why is it done?", (agent.purpose,)),
        Section("How do I prepare?", _preparation(agent)),
        Section(
            "What happens?",
            (
                t["how"],
                t["course"].format(cycles=agent.cycles, interval=f"{agent.cycle_interval_weeks:g}"),
            ),
        ),
        Section(
            "How much radiation is it?", (t["dose"].format(activity_gbq=f"{activity / 1000:g}"),)
        ),
        Section("Is it safe for my family?", _safety(agent, therapy=True)),
        Section("After the treatment", (t["after"],)),
        Section("What do the results mean?", (t["results"],)),
    ]


def leaflet_for(
    agent_name: str, *, weight_kg: float | None = None, age_years: float | None = None
) -> Leaflet:
    """The leaflet for ``agent_name`` (any catalogue agent used in people, or 177Lu-DOTATATE).

    The activity and effective dose are those of this patient (``weight_kg``, ``age_years``;
    a per-kg activity without a weight assumes 70 kg). Raises NenscopeError for a preclinical
    agent (no exam to describe) or a weight out of range.
    """
    agent = get_agent(agent_name)
    if not agent.radionuclide:
        raise NenscopeError(f"{agent.name} is {agent.status}: there is no exam to describe")
    if weight_kg is not None and weight_kg <= 0:
        raise NenscopeError(f"weight must be > 0 kg, got {weight_kg:g}")
    per_kg = agent.activity.rule == "per_kg"
    weight = weight_kg if weight_kg is not None or not per_kg else REFERENCE_WEIGHT_KG
    dose = dose_for_patient(agent, weight_kg=weight, age_years=age_years)
    if agent.is_therapy:
        sections, title = (
            _therapy_sections(agent, dose.activity_mbq),
            f"Treatment with {agent.name}",
        )
    else:
        sections, title = _exam_sections(agent, dose.effective_dose_msv), f"Your {agent.name} scan"
    who = f"for a patient of {weight:g} kg" if weight is not None else "for an adult"
    sources = (
        agent.activity.source,
        agent.dose_source,
        agent.pregnancy.source,
        agent.breastfeeding.source,
        *(g.source for g in agent.preparation),
        *(d.source for d in agent.interfering_drugs),
        *text_sources(*(_THERAPY_BLOCKS if agent.is_therapy else _EXAM_BLOCKS)),
    )
    return Leaflet(
        agent=agent.name,
        title=title,
        subtitle=f"Patient information {who}" + (f", {age_years:g} years" if age_years else ""),
        sections=tuple(Section(s.heading, s.paragraphs) for s in sections if s.paragraphs),
        activity_mbq=dose.activity_mbq,
        effective_dose_msv=dose.effective_dose_msv,
        weight_kg=weight,
        age_years=age_years,
        sources=tuple(dict.fromkeys(sources)),
    )
