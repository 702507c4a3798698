"""Effective dose of the CT part of a PET/CT or SPECT/CT from its dose-length product.

``E = k x DLP`` with the region's conversion coefficient ``k`` (mSv per mGy·cm, standard
adult; ``data/ct_dose.toml``, AAPM Report 96). The coefficient method estimates the dose to a
reference adult, not to the patient; it is what a report states beside the radiopharmaceutical
dose.

Example
-------
>>> ct_effective_dose_msv(200.0)  # DLP 200 mGy·cm over the trunk
3.0
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from nenscope.errors import NenscopeError
from nenscope.knowledge.tracers import read_data

__all__ = ["CtDoseCoefficient", "ct_dose_coefficient", "ct_effective_dose_msv"]


@dataclass(frozen=True)
class CtDoseCoefficient:
    """DLP-to-effective-dose coefficient of one body region, with its source."""

    region: str
    k_msv_per_mgy_cm: float
    source: str


@lru_cache(maxsize=1)
def _coefficients() -> dict[str, CtDoseCoefficient]:
    rows = read_data("ct_dose.toml")["region"]
    return {
        r["name"]: CtDoseCoefficient(r["name"], r["k_msv_per_mgy_cm"], r["source"]) for r in rows
    }


def ct_dose_coefficient(region: str = "trunk") -> CtDoseCoefficient:
    """The coefficient for ``region`` (``trunk`` or ``head``).

    Raises:
        NenscopeError: unknown region.
    """
    table = _coefficients()
    if region not in table:
        raise NenscopeError(
            f"no CT dose coefficient for region {region!r}: use one of {sorted(table)}"
        )
    return table[region]


def ct_effective_dose_msv(dlp_mgy_cm: float, region: str = "trunk") -> float:
    """Effective dose in mSv of a CT with dose-length product ``dlp_mgy_cm`` (mGy·cm)."""
    if not dlp_mgy_cm >= 0:
        raise NenscopeError(f"dose-length product {dlp_mgy_cm} mGy·cm: must be >= 0")
    return round(ct_dose_coefficient(region).k_msv_per_mgy_cm * dlp_mgy_cm, 3)
