"""Plain-language sentences shared by the patient leaflet and the report's patient summary.

The words live in ``data/leaflet.toml``; the facts (what the tracer binds, the dose) come from
the tracer catalogue, so a sentence names only the target the agent itself binds and states a
dose computed from the actual activity.

Example
-------
>>> background_equivalent(12.0)
'4 years'
>>> background_equivalent(2.94)
'11 months'
"""

from __future__ import annotations

import tomllib
from functools import lru_cache
from importlib import resources
from typing import Any

from nenscope.knowledge import Agent

DAYS_PER_YEAR = 365.25


@lru_cache(maxsize=1)
def texts() -> dict[str, Any]:
    """The parsed ``data/leaflet.toml``."""
    raw = resources.files("nenscope.leaflet").joinpath("data/leaflet.toml").read_text("utf-8")
    return tomllib.loads(raw)


def background_msv_per_year() -> float:
    """Natural background radiation in mSv per year (NCRP Report No. 160: 3.1 mSv)."""
    return float(texts()["background"]["msv_per_year"])


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def background_equivalent(dose_msv: float) -> str:
    """How long natural background takes to give ``dose_msv``, in words ("4 years")."""
    years = dose_msv / background_msv_per_year()
    if years >= 2.0:
        return _plural(round(years), "year")
    days = years * DAYS_PER_YEAR
    if days >= 45.0:
        return _plural(round(days / (DAYS_PER_YEAR / 12.0)), "month")
    if days >= 10.0:
        return _plural(round(days / 7.0), "week")
    return _plural(max(1, round(days)), "day")


def dose_sentence(dose_msv: float | None) -> str:
    """The effective dose (mSv) and its natural-background equivalent, or why it is missing."""
    exam = texts()["exam"]
    if dose_msv is None:
        return exam["dose_unknown"]
    return exam["dose"].format(
        dose_msv=f"{dose_msv:.1f}",
        background=f"{background_msv_per_year():g}",
        equivalent=background_equivalent(dose_msv),
    )


def binding_sentence(agent: Agent) -> str:
    """How the agent finds the tumour, naming only the target it binds (catalogue text)."""
    return agent.mechanism


def results_sentences(agent: Agent) -> list[str]:
    """Who reads the scan, what a spot means, and why a negative scan does not exclude disease."""
    r = texts()["results"]
    return [
        r["reading"],
        r["spots"].format(binds=agent.binds),
        r["negative"].format(binds=agent.binds),
    ]


def sources(*blocks: str) -> list[str]:
    """The sources of the named blocks of ``data/leaflet.toml`` (all blocks without names)."""
    chosen = blocks or tuple(texts())
    return [texts()[b]["source"] for b in chosen]
