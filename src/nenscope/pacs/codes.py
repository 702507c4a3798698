"""Coded concepts of the SR measurement report and the SUV Real World Value Map.

Standard concepts come from pydicom's DICOM dictionary (PS3.16): the quantity "Standardized
Uptake Value" (DCM 126400), its UCUM units (CID 85 "SUV Units") and calculation methods
(CID 4106), the derivations Maximum/Mean/"Peak Value Within ROI", and SNOMED CT anatomy for
lesion sites. The Krenning score and SSTR-RADS categories have no standard code: they live in
``data/sr_codes.toml`` under the private scheme ``99NENSCOPE``.
"""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import resources
from typing import Any

from highdicom.sr import CodedConcept
from pydicom.sr.codedict import codes

from nenscope.errors import NenscopeError

# SUV kind (nenscope.imaging.SUV_KINDS) -> (unit, calculation method), both from PS3.16.
SUV_UNITS = {
    "bw": (codes.UCUM.StandardizedUptakeValueBodyWeight, codes.DCM.SUVBodyWeightCalculationMethod),
    "sul": (
        codes.UCUM.StandardizedUptakeValueLeanBodyMassJanma,
        codes.DCM.SUVLeanBodyMassCalculationJanmahasatianMethod,
    ),
    # nenscope's James LBM is 1.10 W - 128 (W/H)^2 (male): the "James 128" variant
    "lbm_james": (
        codes.UCUM.StandardizedUptakeValueLeanBodyMassJames128Multiplier,
        codes.DCM.SUVLeanBodyMassCalculationMethodUsing128Multiplier,
    ),
    "bsa": (
        codes.UCUM.StandardizedUptakeValueBodySurfaceArea,
        codes.DCM.SUVBodySurfaceAreaCalculationMethod,
    ),
    "ibw": (
        codes.UCUM.StandardizedUptakeValueIdealBodyWeight,
        codes.DCM.SUVIdealBodyWeightCalculationMethod,
    ),
}
SUV = codes.DCM.StandardizedUptakeValue
MILLILITER = CodedConcept("ml", "UCUM", "milliliter")


@cache
def _table() -> dict[str, Any]:
    text = resources.files("nenscope.pacs").joinpath("data/sr_codes.toml").read_text("utf-8")
    return tomllib.loads(text)


def _private(value: str, meaning: str) -> CodedConcept:
    return CodedConcept(value, _table()["scheme"]["designator"], meaning)


def suv_codes(kind: str) -> tuple[CodedConcept, CodedConcept]:
    """(unit, calculation method) of SUV ``kind`` (``"bw"``, ``"sul"``, ...)."""
    if kind not in SUV_UNITS:
        raise NenscopeError(f"no DICOM unit for SUV kind {kind!r}; known: {', '.join(SUV_UNITS)}")
    unit, method = SUV_UNITS[kind]
    return CodedConcept.from_code(unit), CodedConcept.from_code(method)


def score_concept(score: str) -> CodedConcept:
    """The concept name of ``"krenning"`` or ``"sstr_rads"`` (private scheme)."""
    row = _table()[score]
    return _private(row["code"], row["meaning"])


def score_value(score: str, value: object) -> CodedConcept:
    """The coded value of a Krenning score (0-4) or an SSTR-RADS category (``"3A"``, ``"5"``)."""
    values = _table()[score]["values"]
    key = str(value)
    if key not in values:
        raise NenscopeError(f"{score} value {value!r} has no code; known: {', '.join(values)}")
    code, meaning = values[key]
    return _private(code, meaning)


def score_from_code(score: str, code_value: str) -> str:
    """Inverse of :func:`score_value`: the score text (``"4"``, ``"3A"``) of a code value."""
    for key, (code, _meaning) in _table()[score]["values"].items():
        if code == code_value:
            return key
    raise NenscopeError(f"{code_value!r} is not a {score} code")


def site_code(site: str | None) -> CodedConcept | None:
    """The SNOMED CT concept of a nenscope lesion site (``"liver"``, ``"lymph node"``), or
    ``None`` when pydicom's dictionary has none."""
    if not site:
        return None
    name = _table()["site_aliases"].get(site, site)
    keyword = "".join(part.capitalize() for part in name.replace("_", " ").split())
    code = getattr(codes.SCT, keyword if name == site else name, None)
    return CodedConcept.from_code(code) if code is not None else None
