"""Literature rules used by the analysis, loaded from the TOML files in ``data/``.

- ``physiological_uptake.toml``: organs with physiological uptake per agent class, with the
  dilation that covers spill-over, and the citation of each row.
- ``scores.toml``: Krenning, SSTR-RADS 1.0, NETPET, the SSTR imaging criterion for PRRT and
  threshold constants.
- ``agent_classes.toml``: the analysis class of every target of the tracer catalogue and the
  reading each class gets (only SSTR agents get Krenning, SSTR-RADS and the PRRT criterion).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any, Literal

from nenscope.errors import NenscopeError

AgentClass = Literal["sstr", "fdg", "glp1r", "dopa", "mibg", "fap", "cxcr4", "cck2r"]

__all__ = [
    "AgentClass",
    "UptakeRule",
    "agent_class_of",
    "class_rules",
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
    out = []
    for r in _read("physiological_uptake.toml")["rule"]:
        classes = r["agent_class"] if isinstance(r["agent_class"], list) else [r["agent_class"]]
        out += [
            UptakeRule(
                agent_class=c,
                organ=r["organ"],
                organs=tuple(r["organs"]),
                dilation_mm=float(r["dilation_mm"]),
                auto=r.get("auto", ""),
                citation=r["citation"],
                max_liver_ratio=float(r["max_liver_ratio"]) if "max_liver_ratio" in r else None,
            )
            for c in classes
        ]
    return tuple(out)


def physiological_rules(agent_class: str) -> list[UptakeRule]:
    """The physiological-uptake rules of one agent class (``"sstr"``, ``"fdg"``, ...): the rows
    of the class named by ``rules`` in ``agent_classes.toml``."""
    rules_of = class_rules(agent_class)["rules"] if agent_class in _classes() else agent_class
    return [r for r in _all_rules() if r.agent_class == rules_of]


@lru_cache(maxsize=1)
def _agent_classes() -> dict[str, Any]:
    return _read("agent_classes.toml")


def _classes() -> dict[str, Any]:
    return _agent_classes()["class"]


def class_rules(agent_class: str) -> dict[str, Any]:
    """What one analysis class gets (``agent_classes.toml`` ``[class.<name>]``): ``scores``
    (``"sstr"`` or ``"none"``), ``thresholds``, ``rules``, ``reading``, ``citation`` and, for
    GLP-1R, ``pancreas_reading``."""
    return _classes()[agent_class]


@lru_cache(maxsize=1)
def score_rules() -> dict[str, Any]:
    """The ``scores.toml`` tables (krenning, prrt, netpet, sstr_rads, thresholds)."""
    return _read("scores.toml")


def _catalogue_agent(agent: str):
    """The catalogue entry of ``agent`` (name, alias, or DICOM radiopharmaceutical text)."""
    from nenscope.imaging.radiopharmaceutical import agent_name
    from nenscope.knowledge.tracers import get_agent

    for name in (agent, agent_name(agent, None)):
        try:
            return get_agent(name or "")
        except NenscopeError:
            continue
    return None


def agent_class_of(agent: str | None) -> AgentClass:
    """The analysis class of a tracer, from its target in the tracer catalogue.

    The agent is looked up in :mod:`nenscope.knowledge.tracers` (name, alias, or the DICOM
    radiopharmaceutical text matched as :mod:`nenscope.imaging` does); its ``target`` maps
    to a class through ``agent_classes.toml`` (``"sstr"``, ``"fdg"``, ``"glp1r"``,
    ``"dopa"``, ``"mibg"``, ``"fap"``, ``"cxcr4"``, ``"cck2r"``). Raises
    :class:`NenscopeError` for an unknown agent or one without a clinical reading.
    """
    if not agent:
        raise NenscopeError(
            "the tracer is unknown (RadiopharmaceuticalInformationSequence is empty); "
            "supply it with --tracer (e.g. 68Ga-DOTATATE, 18F-FDG, 68Ga-exendin-4)"
        )
    entry = _catalogue_agent(agent)
    if entry is None:
        raise NenscopeError(
            f"the tracer {agent!r} is not in the nenscope catalogue (nenscope knowledge "
            "agents lists them); supply a catalogue name with --tracer"
        )
    cls = _agent_classes()["targets"].get(entry.target)
    if cls is None:
        raise NenscopeError(
            f"no lesion reading is defined for {entry.name} (target {entry.target}); "
            "choose another with --tracer"
        )
    if not class_rules(cls).get("analysable", True):
        raise NenscopeError(
            f"{entry.name}: {class_rules(cls)['reading']}; choose another with --tracer"
        )
    return cls
