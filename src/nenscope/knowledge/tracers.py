"""The tracer catalogue: typed access to ``data/agents.toml`` (cited facts per agent).

Example
-------
>>> agent = get_agent("netspot")
>>> agent.name, agent.radionuclide
('68Ga-DOTATATE', 'Ga-68')
>>> agent.activity_mbq(weight_kg=70.0)
140.0
>>> agent.status_in("eu")
'not approved'
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

from nenscope.errors import NenscopeError
from nenscope.knowledge.guidance import (
    APPROVAL_STATUSES,
    Approval,
    Guidance,
    InterferingDrug,
    check_jurisdiction,
    parse_approvals,
)


@dataclass(frozen=True)
class ActivityRule:
    """How much activity to give an adult: ``per_kg`` (capped at ``max_mbq``), ``fixed`` or
    ``none``; ``source`` cites the rule and ``max_source`` the cap."""

    rule: str
    source: str
    mbq_per_kg: float | None = None
    min_mbq: float | None = None
    max_mbq: float | None = None
    max_source: str | None = None
    mbq: float | None = None

    def activity_mbq(self, weight_kg: float | None) -> float | None:
        """Activity to inject in MBq for an adult of ``weight_kg`` (None if no rule)."""
        if self.rule == "fixed":
            return self.mbq
        if self.rule == "per_kg":
            if weight_kg is None:
                raise NenscopeError("this agent's activity is per kg: give --weight-kg")
            activity = self.mbq_per_kg * weight_kg
            if self.max_mbq is not None:
                activity = min(activity, self.max_mbq)
            if self.min_mbq is not None:
                activity = max(activity, self.min_mbq)
            return round(activity, 1)
        return None


@dataclass(frozen=True)
class Agent:
    """One radiopharmaceutical with its facts and their sources (see ``data/agents.toml``)."""

    name: str
    aliases: tuple[str, ...]
    target: str
    binds: str
    mechanism: str
    purpose: str
    radionuclide: str
    modality: str
    activity: ActivityRule
    uptake_min: int
    imaging_times_h: tuple[float, ...]
    imaging_source: str
    effective_dose_msv_per_mbq: float | None
    dose_source: str
    approval: dict[str, Approval]
    pregnancy: Guidance
    breastfeeding: Guidance
    preparation: tuple[Guidance, ...]
    interfering_drugs: tuple[InterferingDrug, ...]
    cautions: tuple[str, ...]
    key_scan_h: float | None = None
    paediatric: dict[str, Any] | None = None
    cycles: int | None = None
    cycle_interval_weeks: float | None = None
    performance: tuple[dict[str, Any], ...] = field(default_factory=tuple)

    def activity_mbq(self, weight_kg: float | None = None) -> float | None:
        """Recommended adult injected activity in MBq."""
        return self.activity.activity_mbq(weight_kg)

    def effective_dose_msv(self, activity_mbq: float | None) -> float | None:
        """Adult effective dose in mSv for ``activity_mbq`` (None without a coefficient)."""
        if activity_mbq is None or self.effective_dose_msv_per_mbq is None:
            return None
        return round(activity_mbq * self.effective_dose_msv_per_mbq, 2)

    @property
    def scan_h(self) -> float:
        """Time of the key scan after injection in hours (e.g. 24 h for 111In-pentetreotide)."""
        return self.key_scan_h if self.key_scan_h is not None else self.uptake_min / 60.0

    @property
    def is_sstr(self) -> bool:
        """True for somatostatin-receptor agents (Krenning scoring applies)."""
        return "SSTR" in self.target

    @property
    def is_therapy(self) -> bool:
        """True for a therapeutic radiopharmaceutical (PRRT)."""
        return self.modality.startswith("therapy")

    @property
    def status(self) -> str:
        """Best status over the jurisdictions (e.g. ``approved`` if approved anywhere)."""
        return min((a.status for a in self.approval.values()), key=APPROVAL_STATUSES.index)

    def status_in(self, jurisdiction: str | None) -> str:
        """Status in ``jurisdiction`` (``us``/``eu``); without one, ``us: …; eu: …``."""
        key = check_jurisdiction(jurisdiction)
        if key is None:
            return "; ".join(f"{j}: {a.status}" for j, a in self.approval.items())
        return self.approval[key].status

    def to_dict(self) -> dict[str, Any]:
        act = {k: v for k, v in vars(self.activity).items() if v is not None}
        return {
            "name": self.name,
            "aliases": list(self.aliases),
            "target": self.target,
            "binds": self.binds,
            "mechanism": self.mechanism,
            "purpose": self.purpose,
            "radionuclide": self.radionuclide,
            "modality": self.modality,
            "status": self.status,
            "approval": {j: a.to_dict() for j, a in self.approval.items()},
            "activity": act,
            "uptake_min": self.uptake_min,
            "scan_h": self.scan_h,
            "imaging_times_h": list(self.imaging_times_h),
            "imaging_source": self.imaging_source,
            "effective_dose_msv_per_mbq": self.effective_dose_msv_per_mbq,
            "dose_source": self.dose_source,
            "paediatric": self.paediatric,
            "pregnancy": self.pregnancy.to_dict(),
            "breastfeeding": self.breastfeeding.to_dict(),
            "preparation": [g.to_dict() for g in self.preparation],
            "interfering_drugs": [d.to_dict() for d in self.interfering_drugs],
            "cautions": list(self.cautions),
            "performance": list(self.performance),
        }


def _key(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


def _parse(row: dict[str, Any]) -> Agent:
    return Agent(
        name=row["name"],
        aliases=tuple(row.get("aliases", ())),
        target=row["target"],
        binds=row["binds"],
        mechanism=row["mechanism"],
        purpose=row["purpose"],
        radionuclide=row["radionuclide"],
        modality=row["modality"],
        activity=ActivityRule(**row["activity"]),
        uptake_min=int(row["uptake_min"]),
        imaging_times_h=tuple(float(t) for t in row["imaging_times_h"]),
        imaging_source=row["imaging_source"],
        effective_dose_msv_per_mbq=row.get("effective_dose_msv_per_mbq"),
        dose_source=row["dose_source"],
        approval=parse_approvals(row["approval"], row["name"]),
        pregnancy=Guidance(**row["pregnancy"]),
        breastfeeding=Guidance(**row["breastfeeding"]),
        preparation=tuple(Guidance(**g) for g in row.get("preparation", ())),
        interfering_drugs=tuple(InterferingDrug(**d) for d in row.get("interfering_drugs", ())),
        cautions=tuple(row["cautions"]),
        key_scan_h=row.get("key_scan_h"),
        paediatric=row.get("paediatric"),
        cycles=row.get("cycles"),
        cycle_interval_weeks=row.get("cycle_interval_weeks"),
        performance=tuple(row.get("performance", ())),
    )


def read_data(name: str) -> dict[str, Any]:
    """Parse ``nenscope/knowledge/data/<name>`` (a TOML file shipped with the package)."""
    text = resources.files("nenscope.knowledge").joinpath(f"data/{name}").read_text("utf-8")
    return tomllib.loads(text)


@lru_cache(maxsize=1)
def _catalogue() -> tuple[tuple[Agent, ...], dict[str, Agent]]:
    agents = tuple(_parse(row) for row in read_data("agents.toml")["agent"])
    index: dict[str, Agent] = {}
    for agent in agents:
        for alias in (agent.name, *agent.aliases):
            index[_key(alias)] = agent
    return agents, index


def list_agents() -> list[Agent]:
    """Every agent in the catalogue, in file order."""
    return list(_catalogue()[0])


def get_agent(name: str) -> Agent:
    """Look an agent up by name or alias (case, spaces and dashes ignored)."""
    agent = _catalogue()[1].get(_key(name))
    if agent is None:
        known = ", ".join(a.name for a in list_agents())
        raise NenscopeError(f"unknown agent {name!r}; known agents: {known}")
    return agent
