"""Radionuclide facts: decay (ICRP-107 via ``radioactivedecay``), positron range, beta+ yield,
emitted energies (``data/radionuclides.toml``, cited per fact) and DICOM codes (DICOM PS3.16
via pydicom's code dictionary). The one place nenscope reads radionuclide facts from.

Names are accepted in any common spelling: ``"Ga-68"``, ``"Ga68"``, ``"68Ga"``, ``"ga-68"``.

Example
-------
>>> half_life_s("68Ga") == half_life_s("Ga-68")
True
>>> round(activity_after("F-18", 100.0, hours=half_life_s("F-18") / 3600.0), 3)
50.0
>>> positron_range_mean_mm("Ga-68") > positron_range_mean_mm("F-18")
True
>>> radionuclide_code("Lu-177").meaning
'^177^Lutetium'
"""

from __future__ import annotations

import math
import re
import tomllib
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from nenscope.errors import NenscopeError

if TYPE_CHECKING:
    import numpy as np
    from pydicom.sr.coding import Code

__all__ = [
    "ELEMENT_SYMBOLS",
    "activity_after",
    "beta_plus_yield",
    "canonical_nuclide",
    "decay_constant_per_s",
    "decay_factor",
    "half_life_s",
    "mean_energy_per_decay_mev",
    "nuclide_from_code",
    "positron_range_kernel",
    "positron_range_mean_mm",
    "radionuclide_code",
]

#: English element names as they appear in DICOM code meanings (``^18^Fluorine``) and free
#: text, to element symbols ("galium": a misspelling seen in headers).
ELEMENT_SYMBOLS = {
    "carbon": "C",
    "nitrogen": "N",
    "oxygen": "O",
    "fluorine": "F",
    "copper": "Cu",
    "gallium": "Ga",
    "galium": "Ga",
    "germanium": "Ge",
    "rubidium": "Rb",
    "yttrium": "Y",
    "zirconium": "Zr",
    "iodine": "I",
    "indium": "In",
    "technetium": "Tc",
    "lutetium": "Lu",
    "thallium": "Tl",
    "scandium": "Sc",
    "terbium": "Tb",
    "actinium": "Ac",
    "radium": "Ra",
    "lead": "Pb",
    "bismuth": "Bi",
    "holmium": "Ho",
    "rhenium": "Re",
    "samarium": "Sm",
    "strontium": "Sr",
    "xenon": "Xe",
    "cobalt": "Co",
    "chromium": "Cr",
    "sodium": "Na",
    "potassium": "K",
    "manganese": "Mn",
    "iron": "Fe",
    "zinc": "Zn",
    "arsenic": "As",
    "bromine": "Br",
    "selenium": "Se",
    "titanium": "Ti",
    "niobium": "Nb",
    "astatine": "At",
}
_MASS_FIRST = re.compile(r"^\s*(\d+)\s*-?\s*([A-Za-z]{1,2})\s*(m\d?)?\s*$")


def _nuclide(name: str) -> Any:
    """``radioactivedecay.Nuclide(name)``, imported on first use: the package loads pandas,
    sympy, matplotlib and networkx (about 1.6 s), which ``nenscope --help`` must not pay."""
    import radioactivedecay

    return radioactivedecay.Nuclide(name)


@lru_cache(maxsize=64)
def canonical_nuclide(name: str) -> str:
    """Return the canonical ``"Ga-68"`` spelling of a radionuclide, or raise NenscopeError."""
    text = name.strip()
    m = _MASS_FIRST.match(text)
    if m:  # "68Ga" -> "Ga68"
        text = f"{m.group(2)}{m.group(1)}{m.group(3) or ''}"
    text = text[:1].upper() + text[1:].lower() if text else text
    try:
        return _nuclide(text).nuclide
    except Exception as exc:  # radioactivedecay raises ValueError for unknown names
        raise NenscopeError(
            f"unknown radionuclide {name!r} (try e.g. Ga-68, F-18, Lu-177)"
        ) from exc


@lru_cache(maxsize=64)
def half_life_s(nuclide: str) -> float:
    """Physical half-life in seconds (ICRP-107 via radioactivedecay)."""
    return float(_nuclide(canonical_nuclide(nuclide)).half_life("s"))


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


@lru_cache(maxsize=1)
def _facts() -> dict[str, Any]:
    text = resources.files("nenscope.knowledge").joinpath("data/radionuclides.toml")
    return tomllib.loads(text.read_text("utf-8"))


def _fact(nuclide: str, quantity: str) -> Any | None:
    """The value of ``quantity`` for ``nuclide`` in ``data/radionuclides.toml``, or None."""
    return _facts().get(canonical_nuclide(nuclide), {}).get(quantity)


def positron_range_mean_mm(nuclide: str) -> float:
    """Mean positron range in water in mm (Conti & Eriksson, EJNMMI Phys 2016;3:8).

    Raises NenscopeError for a radionuclide without a tabulated range (no positron emitter).
    """
    fact = _fact(nuclide, "positron_range_mean_mm")
    if fact is None:
        raise NenscopeError(
            f"{canonical_nuclide(nuclide)} is not a positron emitter with a tabulated range"
        )
    return float(fact["value"])


def beta_plus_yield(nuclide: str) -> float:
    """Positrons per decay (ICRP-107); NenscopeError for a radionuclide without one."""
    fact = _fact(nuclide, "beta_plus_yield")
    if fact is None:
        raise NenscopeError(f"{canonical_nuclide(nuclide)} emits no positrons known to nenscope")
    return float(fact["value"])


def mean_energy_per_decay_mev(nuclide: str) -> dict[str, float]:
    """Mean energy (MeV) emitted per decay by kind (ICRP-107 emission lists).

    Keys: ``beta_minus``, ``internal_conversion``, ``auger``, ``gamma``, ``x_ray`` and
    ``electrons`` (β⁻ + internal conversion + Auger: the energy deposited locally).
    """
    fact = _fact(nuclide, "mean_energy_per_decay_mev")
    if fact is None:
        raise NenscopeError(f"no emitted energies tabulated for {canonical_nuclide(nuclide)}")
    return {k: float(v) for k, v in fact.items() if k != "citation"}


@lru_cache(maxsize=16)
def positron_range_kernel(
    mean_range_mm: float, voxel_mm: float, n_samples: int = 400_000
) -> np.ndarray:
    """Voxel-to-voxel blurring kernel of positron range (3D, sums to 1).

    The 3D emission-to-annihilation distance is modelled as exponential with the tabulated
    mean range (isotropic direction), which reproduces the cusp-and-tail shape of measured
    range profiles (Derenzo 1979; Conti & Eriksson 2016). The kernel is the histogram of
    the displacement of a point emitted uniformly inside a voxel, sampled with a fixed seed
    (so it is deterministic), on the voxel grid.
    """
    import numpy as np  # not at module level: ``nenscope --help`` imports this module

    rng = np.random.default_rng(12345)
    r = rng.exponential(mean_range_mm, n_samples)
    v = rng.normal(size=(n_samples, 3))
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    p = v * r[:, None] / voxel_mm + rng.uniform(-0.5, 0.5, size=(n_samples, 3))
    half = max(1, int(np.ceil(4.0 * mean_range_mm / voxel_mm)))
    edges = np.arange(-half - 0.5, half + 1.0, 1.0)
    hist, _ = np.histogramdd(p, bins=(edges, edges, edges))
    hist /= hist.sum()
    return hist.astype(np.float32)


_SCT_NUCLIDE = re.compile(r"_(\d+)(m?)([A-Z][a-z]+)")


@lru_cache(maxsize=1)
def _dicom_codes() -> dict[str, Code]:
    """Canonical name -> SNOMED CT code of each radionuclide in pydicom's DICOM PS3.16 codes."""
    from pydicom.sr.codedict import codes  # the code dictionary takes ~0.5 s to import

    out: dict[str, Code] = {}
    for keyword in codes.SCT.dir():
        m = _SCT_NUCLIDE.fullmatch(keyword)
        symbol = ELEMENT_SYMBOLS.get(m.group(3).lower()) if m else None
        if symbol is None:
            continue
        try:
            out[canonical_nuclide(f"{symbol}-{m.group(1)}{m.group(2)}")] = getattr(
                codes.SCT, keyword
            )
        except NenscopeError:  # a code radioactivedecay does not know
            continue
    return out


def radionuclide_code(nuclide: str) -> Code:
    """SNOMED CT code of the radionuclide (DICOM CID 4020 / CID 18) as a pydicom Code."""
    key = canonical_nuclide(nuclide)
    code = _dicom_codes().get(key)
    if code is None:
        raise NenscopeError(f"no SNOMED code known for {key}")
    return code


def nuclide_from_code(code_value: str | None) -> str | None:
    """Canonical radionuclide of a DICOM code value, SNOMED CT (``77004003``) or the legacy
    SNOMED-RT of CID 4020 (``C-111A1``), whatever the scheme designator says; else None."""
    if not code_value:
        return None
    from pydicom.sr.coding import Code

    value = code_value.strip().upper()
    for scheme in ("SCT", "SRT"):
        wanted = Code(value, scheme, "")
        for nuclide, code in _dicom_codes().items():
            if wanted == code:
                return nuclide
    return None
