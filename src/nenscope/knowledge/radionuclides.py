"""Radionuclide physics through ``radioactivedecay`` (ICRP-107 decay data).

Names are accepted in any common spelling: ``"Ga-68"``, ``"Ga68"``, ``"68Ga"``, ``"ga-68"``.

Example
-------
>>> round(half_life_s("68Ga"))
4063
>>> round(activity_after("F-18", 100.0, hours=1.8295), 3)
50.0
"""

from __future__ import annotations

import math
import re
from functools import lru_cache

import radioactivedecay as rd

from nenscope.errors import NenscopeError

_MASS_FIRST = re.compile(r"^\s*(\d+)\s*-?\s*([A-Za-z]{1,2})\s*(m\d?)?\s*$")


@lru_cache(maxsize=64)
def canonical_nuclide(name: str) -> str:
    """Return the canonical ``"Ga-68"`` spelling of a radionuclide, or raise NenscopeError."""
    text = name.strip()
    m = _MASS_FIRST.match(text)
    if m:  # "68Ga" -> "Ga68"
        text = f"{m.group(2)}{m.group(1)}{m.group(3) or ''}"
    text = text[:1].upper() + text[1:].lower() if text else text
    try:
        return rd.Nuclide(text).nuclide
    except Exception as exc:  # radioactivedecay raises ValueError for unknown names
        raise NenscopeError(
            f"unknown radionuclide {name!r} (try e.g. Ga-68, F-18, Lu-177)"
        ) from exc


@lru_cache(maxsize=64)
def half_life_s(nuclide: str) -> float:
    """Physical half-life in seconds (ICRP-107 via radioactivedecay)."""
    return float(rd.Nuclide(canonical_nuclide(nuclide)).half_life("s"))


def decay_constant_per_s(nuclide: str) -> float:
    """Decay constant λ = ln 2 / T½ in 1/s."""
    return math.log(2.0) / half_life_s(nuclide)


def decay_factor(nuclide: str, *, seconds: float) -> float:
    """Fraction of activity left after ``seconds`` (negative time gives growth back)."""
    return math.exp(-decay_constant_per_s(nuclide) * seconds)


def activity_after(nuclide: str, activity_mbq: float, *, hours: float) -> float:
    """Activity in MBq of the parent radionuclide left after ``hours`` of physical decay.

    Uses the closed form A·exp(-λt); ``tests/test_knowledge.py`` checks it against
    ``radioactivedecay.Inventory.decay``.
    """
    if activity_mbq < 0:
        raise NenscopeError(f"activity must be >= 0 MBq, got {activity_mbq}")
    return activity_mbq * decay_factor(nuclide, seconds=hours * 3600.0)
