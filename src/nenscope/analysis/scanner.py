"""A scanner profile: the measured resolution behind the partial-volume-corrected uptake.

nenscope assumes no scanner resolution. A profile is measured on a NEMA IEC body phantom
(``nenscope calibrate``, :mod:`nenscope.analysis.calibration`) and given to the analysis
(``nenscope analyze --scanner scanner.json``, ``AnalysisOptions(scanner=...)``); only the
``suv_pvc`` column (and NETPET's uptakes) depend on it. The file is JSON::

    {"kind": "nenscope scanner profile", "version": 1, "name": "...",
     "effective_fwhm_mm": {"F-18": 7.6}, "system_fwhm_mm": 7.5,
     "recovery": [...], "earl": {...}, "source": {...}}

``effective_fwhm_mm`` holds the measured radionuclides; another radionuclide gets the
scanner blur ``system_fwhm_mm`` combined with its positron range
(:func:`nenscope.analysis.pvc.effective_fwhm_mm`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nenscope.errors import NenscopeError

__all__ = ["PROFILE_KIND", "ScannerProfile", "read_scanner_profile"]

PROFILE_KIND = "nenscope scanner profile"


@dataclass(frozen=True)
class ScannerProfile:
    """The effective resolution of one scanner and reconstruction, from a NEMA IEC study.

    Attributes:
        name: what the profile describes (scanner, reconstruction), free text.
        effective_fwhm_mm: Gaussian FWHM (mm) with the measured sphere recoveries, per
            radionuclide measured (``{"F-18": 7.6}``).
        system_fwhm_mm: the scanner blur without positron range (mm).
        details: the rest of the file (recovery coefficients, EARL compliance, source).
    """

    name: str
    effective_fwhm_mm: dict[str, float]
    system_fwhm_mm: float
    details: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def __hash__(self) -> int:
        return hash((self.name, tuple(sorted(self.effective_fwhm_mm.items())), self.system_fwhm_mm))

    def fwhm_for(self, radionuclide: str | None) -> float:
        """Effective FWHM (mm) for ``radionuclide``: the measured value, else the scanner blur
        combined with the radionuclide's positron range."""
        from nenscope.analysis.pvc import effective_fwhm_mm

        if radionuclide in self.effective_fwhm_mm:
            return float(self.effective_fwhm_mm[radionuclide])  # type: ignore[index]
        return effective_fwhm_mm(radionuclide, round(self.system_fwhm_mm, 3))

    def to_dict(self) -> dict[str, Any]:
        """The JSON content of the profile file."""
        return {
            "kind": PROFILE_KIND,
            "version": 1,
            "name": self.name,
            "effective_fwhm_mm": {k: round(v, 3) for k, v in self.effective_fwhm_mm.items()},
            "system_fwhm_mm": round(self.system_fwhm_mm, 3),
            **self.details,
        }

    def write(self, path: str | Path) -> Path:
        """Write the profile as JSON to ``path``."""
        out = Path(path)
        out.write_text(json.dumps(self.to_dict(), indent=2) + "\n", "utf-8")
        return out


def read_scanner_profile(path: str | Path) -> ScannerProfile:
    """Read a profile written by ``nenscope calibrate`` (:meth:`ScannerProfile.write`)."""
    p = Path(path)
    try:
        data = json.loads(p.read_text("utf-8"))
    except FileNotFoundError:
        raise NenscopeError(f"scanner profile {p} does not exist") from None
    except (OSError, ValueError) as exc:
        raise NenscopeError(f"scanner profile {p} is not readable JSON: {exc}") from None
    if not isinstance(data, dict) or data.get("kind") != PROFILE_KIND:
        raise NenscopeError(
            f"{p} is not a nenscope scanner profile; make one with "
            "'nenscope calibrate NEMA_STUDY --out scanner.json'"
        )
    try:
        fwhm = {str(k): float(v) for k, v in data["effective_fwhm_mm"].items()}
        system = float(data["system_fwhm_mm"])
    except (KeyError, TypeError, ValueError, AttributeError):
        raise NenscopeError(
            f"scanner profile {p} lacks effective_fwhm_mm/system_fwhm_mm; make it again "
            "with 'nenscope calibrate'"
        ) from None
    if not fwhm or system <= 0 or any(v <= 0 for v in fwhm.values()):
        raise NenscopeError(f"scanner profile {p} has no positive resolution")
    skip = {"kind", "version", "name", "effective_fwhm_mm", "system_fwhm_mm"}
    details = {k: v for k, v in data.items() if k not in skip}
    return ScannerProfile(str(data.get("name", p.stem)), fwhm, system, details)
