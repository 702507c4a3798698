"""The PRRT checklist: each item of ``data/checklist.toml`` met, not met or unknown.

Items read either a patient datum (:class:`~nenscope.plan.patient.PatientData`) or the
pre-therapy SSTR PET analysis (``findings.json``): SSTR uptake at or above the liver in all
target lesions (Krenning ≥ 3, NETTER-1) and no FDG-positive SSTR-negative disease (NETPET P5).
A missing datum makes its item ``unknown``, never ``met``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from nenscope.plan._data import load
from nenscope.plan.patient import PatientData

MET, NOT_MET, UNKNOWN = "met", "not met", "unknown"


@dataclass(frozen=True)
class ChecklistItem:
    """One checked criterion: its status, the value it was judged on, and its sources."""

    key: str
    label: str
    status: str
    value: str | None
    sources: tuple[str, ...]
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON row."""
        return {
            "key": self.key,
            "label": self.label,
            "status": self.status,
            "value": self.value,
            "sources": list(self.sources),
            "note": self.note,
        }


def _fmt(v: float, unit: str) -> str:
    return f"{v:g} {unit}".strip()


def _threshold(row: Mapping[str, Any], value: float | None) -> tuple[str, str | None]:
    if value is None:
        return UNKNOWN, None
    ok = value <= row["limit"] if row["rule"] == "max" else value >= row["limit"]
    return (MET if ok else NOT_MET), _fmt(value, row.get("unit", ""))


def _performance(row: Mapping[str, Any], p: PatientData) -> tuple[str, str | None]:
    if p.karnofsky is not None:
        return (
            MET if p.karnofsky >= row["karnofsky_min"] else NOT_MET
        ), f"Karnofsky {p.karnofsky:g}"
    if p.ecog is not None:
        return (MET if p.ecog <= row["ecog_max"] else NOT_MET), f"ECOG {p.ecog:g}"
    return UNKNOWN, None


def _sstr_uptake(findings: Mapping[str, Any]) -> tuple[str, str | None]:
    lesions = findings.get("lesions") or []
    if not lesions:
        return NOT_MET, "no SSTR-positive lesion found on the PET"
    scores = [les.get("krenning") for les in lesions]
    if any(s is None for s in scores):
        return UNKNOWN, "Krenning score missing for some lesions"
    low = sum(1 for s in scores if s < 3)
    value = f"{len(scores) - low} of {len(scores)} lesions at or above the liver"
    return (MET if low == 0 else NOT_MET), value


def _netpet(findings: Mapping[str, Any]) -> tuple[str, str | None]:
    grade = (findings.get("summary") or {}).get("netpet")
    if grade is None:
        return UNKNOWN, "no FDG PET analysed with the SSTR PET"
    return (NOT_MET if str(grade).upper() == "P5" else MET), f"NETPET {grade}"


def evaluate(patient: PatientData, findings: Mapping[str, Any]) -> list[ChecklistItem]:
    """Every checklist item, in the data file's order."""
    data = load("checklist")
    refs = data["sources"]
    out = []
    for key, row in data["item"].items():
        rule = row["rule"]
        if rule in ("max", "min"):
            status, value = _threshold(row, getattr(patient, row["input"]))
        elif rule == "false":
            v = getattr(patient, row["input"])
            status = UNKNOWN if v is None else (NOT_MET if v else MET)
            value = None if v is None else ("yes" if v else "no")
        elif rule == "performance":
            status, value = _performance(row, patient)
        elif rule == "record":
            v = patient.prior_therapies
            status = UNKNOWN if v is None else MET
            value = None if v is None else (", ".join(v) or "none")
        elif key == "sstr_uptake":
            status, value = _sstr_uptake(findings)
        else:
            status, value = _netpet(findings)
        sources = tuple(refs[s] for s in row["source"])
        out.append(ChecklistItem(key, row["label"], status, value, sources, row.get("note")))
    return out
