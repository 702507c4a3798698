"""Literature rules used by the analysis, loaded from the TOML files in ``data/``.

- ``physiological_uptake.toml``: organs with physiological uptake per agent class, with the
  dilation that covers spill-over, and the citation of each row.
- ``scores.toml``: Krenning, SSTR-RADS 1.0, NETPET, PRRT eligibility and threshold constants.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any, Literal

from nenscope.errors import NenscopeError

AgentClass = Literal["sstr", "fdg", "glp1r"]

__all__ = [
    "AgentClass",
    "UptakeRule",
    "agent_class_of",
    "physiological_rules",
    "score_rules",
]


@dataclass(frozen=True)
class UptakeRule:
    """One organ with physiological uptake for one agent class (row of the TOML file)."""

    agent_class: str
    organ: str
    organs: tuple[str, ...]
    dilation_mm: float
    auto: str
    citation: str
    max_liver_ratio: float | None = None

    def matches(self, mask_name: str) -> bool:
        """True when an organ-mask name (e.g. ``"kidney_left"``) belongs to this rule."""
        key = mask_name.lower().replace(" ", "_").replace("-", "_")
        return any(
            key == o or key.startswith(o + "_") or key.endswith("_" + o) for o in self.organs
        )


def _read(name: str) -> dict[str, Any]:
    text = resources.files("nenscope.analysis").joinpath(f"data/{name}").read_text("utf-8")
    return tomllib.loads(text)


@lru_cache(maxsize=1)
def _all_rules() -> tuple[UptakeRule, ...]:
    return tuple(
        UptakeRule(
            agent_class=r["agent_class"],
            organ=r["organ"],
            organs=tuple(r["organs"]),
            dilation_mm=float(r["dilation_mm"]),
            auto=r.get("auto", ""),
            citation=r["citation"],
            max_liver_ratio=float(r["max_liver_ratio"]) if "max_liver_ratio" in r else None,
        )
        for r in _read("physiological_uptake.toml")["rule"]
    )


def physiological_rules(agent_class: str) -> list[UptakeRule]:
    """The physiological-uptake rules of one agent class (``"sstr"``, ``"fdg"``, ``"glp1r"``)."""
    return [r for r in _all_rules() if r.agent_class == agent_class]


@lru_cache(maxsize=1)
def score_rules() -> dict[str, Any]:
    """The ``scores.toml`` tables (krenning, prrt, netpet, sstr_rads, thresholds)."""
    return _read("scores.toml")


def agent_class_of(agent: str | None) -> AgentClass:
    """Map a tracer name to the analysis class: SSTR, FDG or GLP-1R agents.

    Uses the tracer catalogue (:mod:`nenscope.knowledge.tracers`) for the target, then falls
    back to well-known name fragments. Raises :class:`NenscopeError` for other agents.
    """
    if not agent:
        raise NenscopeError(
            "the tracer is unknown (RadiopharmaceuticalInformationSequence is empty); "
            "supply it with --tracer (e.g. 68Ga-DOTATATE, 18F-FDG, 68Ga-exendin-4)"
        )
    target = ""
    try:
        from nenscope.knowledge.tracers import get_agent

        target = get_agent(agent).target
    except (NenscopeError, ImportError):
        target = ""
    text = (target + " " + agent).lower()
    if "sstr" in text or any(
        k in text for k in ("dota", "octreo", "pentetreotide", "ops202", "somato")
    ):
        return "sstr"
    if "glp-1" in text or "glp1" in text or "exendin" in text:
        return "glp1r"
    if "glucose" in text or "fdg" in text or "fluorodeoxyglucose" in text:
        return "fdg"
    raise NenscopeError(
        f"lesion analysis supports SSTR, FDG and GLP-1R agents, not {agent!r}; "
        "choose another with --tracer"
    )
