"""The :class:`Findings` record: what the report, the SEG/SR writers, the CLI and the store read.

``Findings.to_dict()`` is the content of ``findings.json``::

    {"study": {...}, "reference": {"liver_suv_mean", "spleen_suv_mean", ...},
     "lesions": [{"id", "site", "center_mm", "volume_ml", "suv_max", "suv_peak", "suv_mean",
                  "tla", "tlr", "krenning", "sstr_rads", "fdg_suv_max", ...}],
     "summary": {"n_lesions", "sstr_tv_ml", "tl_sstr", "krenning_max", "prrt_criterion_met",
                 "prrt_reason", "prrt_failing_lesions", "prrt_not_assessed", "netpet", ...},
     "method": {"reading", "krenning", "pvc", "prrt"}}

``center_mm`` is in DICOM patient coordinates (LPS, mm). The label map (``labels``, a
``highdicom.Volume`` on the emission grid whose values are the lesion ``label``) is kept on
the record for the DICOM-SEG writer and the figures; it is not serialised.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import highdicom as hd

from nenscope.analysis.metrics import Lesion
from nenscope.analysis.reference import ReferenceRegions

__all__ = ["Findings", "Summary", "FdgOnlyLesion"]


@dataclass
class FdgOnlyLesion:
    """An FDG-positive lesion without an SSTR-positive counterpart (NETPET P5 driver)."""

    id: int
    center_mm: tuple[float, float, float]
    volume_ml: float
    fdg_suv_max: float
    fdg_suv_mean: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "center_mm": [round(c, 2) for c in self.center_mm],
            "volume_ml": round(self.volume_ml, 3),
            "fdg_suv_max": round(self.fdg_suv_max, 3),
            "fdg_suv_mean": round(self.fdg_suv_mean, 3),
        }


@dataclass
class Summary:
    """Patient-level numbers and scores.

    Attributes:
        n_lesions: number of lesions.
        sstr_tv_ml: total tumour volume (SSTR-TV on SSTR imaging, MTV on FDG), ml.
        tl_sstr: total lesion SSTR expression = sum of SUVmean x volume (TLG on FDG), SUV.ml.
        krenning_max: highest Krenning score (SSTR imaging only).
        prrt_criterion_met: the SSTR imaging criterion for PRRT (every target lesion with
            uptake >= liver, no SSTR-negative FDG-avid disease); SSTR imaging only, ``None``
            when it cannot be judged. It is one criterion, not eligibility.
        prrt_reason: what was compared and which lesions fail.
        prrt_failing_lesions: ids of the target lesions below the liver.
        prrt_not_assessed: the clinical criteria an image cannot judge.
        netpet: NETPET grade P0-P5 (with an FDG study).
        n_fdg_only: FDG-positive lesions without SSTR uptake.
        threshold_suv: SUV threshold used for segmentation; threshold_method: its name.
        suppressed: physiological uptake removed (organs and auto-detected structures).
    """

    n_lesions: int
    sstr_tv_ml: float
    tl_sstr: float
    krenning_max: int | None
    prrt_criterion_met: bool | None
    prrt_reason: str | None
    netpet: str | None
    n_fdg_only: int | None
    threshold_suv: float
    threshold_method: str
    suppressed: list[str] = field(default_factory=list)
    prrt_failing_lesions: list[int] = field(default_factory=list)
    prrt_not_assessed: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "n_lesions": self.n_lesions,
            "sstr_tv_ml": round(self.sstr_tv_ml, 3),
            "tl_sstr": round(self.tl_sstr, 3),
            "krenning_max": self.krenning_max,
            "prrt_criterion_met": self.prrt_criterion_met,
            "prrt_reason": self.prrt_reason,
            "prrt_failing_lesions": list(self.prrt_failing_lesions),
            "prrt_not_assessed": list(self.prrt_not_assessed),
            "netpet": self.netpet,
            "n_fdg_only": self.n_fdg_only,
            "threshold_suv": round(self.threshold_suv, 4),
            "threshold_method": self.threshold_method,
            "suppressed": list(self.suppressed),
        }


@dataclass
class Findings:
    """Everything one analysis found (see the module docstring for the JSON layout).

    ``method`` states what was measured and compared, in sentences for the report's method
    section: ``reading`` (the agent class's reading), ``krenning`` (SSTR: the values
    compared), ``pvc`` (the partial-volume correction and the resolution it used, or why
    there is none) and ``prrt`` (SSTR: the criterion and its rule).
    """

    study: dict[str, Any]
    reference: ReferenceRegions
    lesions: list[Lesion]
    summary: Summary
    labels: hd.Volume | None = field(default=None, repr=False)
    fdg_only_lesions: list[FdgOnlyLesion] = field(default_factory=list)
    fdg_reference: ReferenceRegions | None = None
    warnings: list[str] = field(default_factory=list)
    method: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (``findings.json``)."""
        out: dict[str, Any] = {
            "study": dict(self.study),
            "reference": self.reference.to_dict(),
            "lesions": [les.to_dict() for les in self.lesions],
            "summary": self.summary.to_dict(),
        }
        if self.fdg_reference is not None:
            out["fdg_reference"] = self.fdg_reference.to_dict()
            out["fdg_only_lesions"] = [f.to_dict() for f in self.fdg_only_lesions]
        out["method"] = dict(self.method)
        out["warnings"] = list(self.warnings)
        return out
