"""Radionuclide facts: decay (ICRP-107, the dataset of ``radioactivedecay``, read from its data
file without importing the package), positron range, beta+ yield,
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

import importlib.util
import math
import re
import tomllib
from functools import lru_cache
from importlib import resources
from pathlib import Path
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
#: after whitespace and the first hyphen are removed: symbol first ("Ga68", "Tc99m") or mass
#: number first ("68Ga", "99mTc"); a metastable state is "m" or "n" (NUBASE2020).
_SYMBOL_FIRST = re.compile(r"([A-Za-z]{1,2})(\d{1,3})([mMnN]?)")
_MASS_FIRST = re.compile(r"(\d{1,3})([A-Za-z]{1,3})")
#: radioactivedecay's default decay dataset (ICRP-107 with AME2020 and NUBASE2020)
_DATASET = "icrp107_ame2020_nubase2020"
#: seconds per unit of the dataset's half-lives ("y": ``year_conv`` days of 86400 s)
_SECONDS_PER = {"μs": 1.0e-6, "ms": 1.0e-3, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


@lru_cache(maxsize=1)
def _icrp107_half_lives_s() -> dict[str, float]:
    """Canonical name (``"Ga-68"``) -> half-life in s of every nuclide of radioactivedecay's
    default ICRP-107 dataset, read from the package's data file.

    Importing ``radioactivedecay`` itself loads pandas, sympy, matplotlib and networkx (about
    1.5 s of every command that reads a PET header); its data file holds the same numbers and
    takes 0.05 s. Values equal ``radioactivedecay.Nuclide(name).half_life("s")`` to the
    last bit (the same unit factors; ``tests/test_knowledge.py`` checks every nuclide).
    """
    import numpy as np  # not at module level: ``nenscope --help`` imports this module

    spec = importlib.util.find_spec("radioactivedecay")
    folder = spec.submodule_search_locations if spec is not None else None
    if not folder:
        raise NenscopeError("radioactivedecay is not installed: pip install radioactivedecay")
    path = Path(list(folder)[0]) / _DATASET / "decay_data.npz"
    with np.load(path, allow_pickle=True) as data:  # object arrays: (value, unit, text)
        per_unit = {**_SECONDS_PER, "y": 86400.0 * float(data["year_conv"])}
        return {
            str(name): float(value) * per_unit[str(unit)]
            for name, (value, unit, _text) in zip(data["nuclides"], data["hldata"], strict=True)
        }


def _parse_nuclide(name: str) -> str | None:
    """``"Ga-68"`` spelling of ``name`` (see :data:`_SYMBOL_FIRST`), or None if malformed."""
    text = "".join(name.split()).replace("-", "", 1)
    m = _SYMBOL_FIRST.fullmatch(text)
    if m:
        symbol, mass, state = m.groups()
    elif m := _MASS_FIRST.fullmatch(text):
        mass, letters = m.groups()
        # "99mTc", "99MTC": a state letter before a two-letter symbol; "52mV": before one
        if len(letters) == 3 or (len(letters) == 2 and letters[0] in "mn" and letters[1].isupper()):
            state, symbol = letters[0], letters[1:]
        else:
            state, symbol = "", letters
    else:
        return None
    return f"{symbol.capitalize()}-{mass}{state.lower()}"


@lru_cache(maxsize=64)
def canonical_nuclide(name: str) -> str:
    """Return the canonical ``"Ga-68"`` spelling of a radionuclide, or raise NenscopeError."""
    key = _parse_nuclide(name)
    if key is None or key not in _icrp107_half_lives_s():
        raise NenscopeError(f"unknown radionuclide {name!r} (try e.g. Ga-68, F-18, Lu-177)")
    return key


@lru_cache(maxsize=64)
def half_life_s(nuclide: str) -> float:
    """Physical half-life in seconds (ICRP-107, radioactivedecay's default dataset)."""
    return _icrp107_half_lives_s()[canonical_nuclide(nuclide)]


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
