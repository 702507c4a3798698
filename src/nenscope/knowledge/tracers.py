"""The tracer catalogue: typed access to ``data/agents.toml`` (one cited row per agent).

Example
-------
>>> agent = get_agent("netspot")
>>> agent.name, agent.radionuclide
('68Ga-DOTATATE', 'Ga-68')
>>> agent.activity_mbq(weight_kg=70.0)
140.0
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

from nenscope.errors import NenscopeError


@dataclass(frozen=True)
class ActivityRule:
    """How much activity to inject: ``per_kg`` (with optional caps), ``fixed`` or ``none``."""

    rule: str
    source: str
    mbq_per_kg: float | None = None
    min_mbq: float | None = None
    max_mbq: float | None = None
    mbq: float | None = None

    def activity_mbq(self, weight_kg: float | None) -> float | None:
        """Activity to inject in MBq for a patient of ``weight_kg`` (None if no rule)."""
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
    """One radiopharmaceutical with its facts and their sources."""

    name: str
    aliases: tuple[str, ...]
    target: str
    radionuclide: str
    modality: str
    status: str
    activity: ActivityRule
    uptake_min: int
    imaging_times_h: tuple[float, ...]
    imaging_source: str
    effective_dose_msv_per_mbq: float | None
    dose_source: str
    preparation: tuple[str, ...]
    cautions: tuple[str, ...]
    performance: tuple[dict[str, Any], ...] = field(default_factory=tuple)

    def activity_mbq(self, weight_kg: float | None = None) -> float | None:
        """Recommended injected activity in MBq."""
        return self.activity.activity_mbq(weight_kg)

    def effective_dose_msv(self, activity_mbq: float | None) -> float | None:
        """Effective dose in mSv for ``activity_mbq`` (None if the agent has no coefficient)."""
        if activity_mbq is None or self.effective_dose_msv_per_mbq is None:
            return None
        return round(activity_mbq * self.effective_dose_msv_per_mbq, 2)

    @property
    def is_sstr(self) -> bool:
        """True for somatostatin-receptor agents (Krenning scoring applies)."""
        return "SSTR" in self.target

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "aliases": list(self.aliases),
            "target": self.target,
            "radionuclide": self.radionuclide,
            "modality": self.modality,
            "status": self.status,
            "activity": {k: v for k, v in vars(self.activity).items() if v is not None},
            "uptake_min": self.uptake_min,
            "imaging_times_h": list(self.imaging_times_h),
            "imaging_source": self.imaging_source,
            "effective_dose_msv_per_mbq": self.effective_dose_msv_per_mbq,
            "dose_source": self.dose_source,
            "preparation": list(self.preparation),
            "cautions": list(self.cautions),
            "performance": list(self.performance),
        }


def _key(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


def _parse(row: dict[str, Any]) -> Agent:
    act = dict(row["activity"])
    return Agent(
        name=row["name"],
        aliases=tuple(row.get("aliases", ())),
        target=row["target"],
        radionuclide=row["radionuclide"],
        modality=row["modality"],
        status=row["status"],
        activity=ActivityRule(**act),
        uptake_min=int(row["uptake_min"]),
        imaging_times_h=tuple(float(t) for t in row["imaging_times_h"]),
        imaging_source=row["imaging_source"],
        effective_dose_msv_per_mbq=row.get("effective_dose_msv_per_mbq"),
        dose_source=row["dose_source"],
        preparation=tuple(row["preparation"]),
        cautions=tuple(row["cautions"]),
        performance=tuple(row.get("performance", ())),
    )


@lru_cache(maxsize=1)
def _catalogue() -> tuple[tuple[Agent, ...], dict[str, Agent]]:
    text = resources.files("nenscope.knowledge").joinpath("data/agents.toml").read_text("utf-8")
    agents = tuple(_parse(row) for row in tomllib.loads(text)["agent"])
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
