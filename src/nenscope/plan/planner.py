"""A PRRT plan: checklist, regimen, predicted doses and the projected cumulative kidney dose.

:func:`make_plan` takes the pre-therapy SSTR PET analysis (the ``findings.json`` document),
the patient data and the 68Ga organ uptakes, and returns a :class:`Plan`:

* the checklist (:mod:`nenscope.plan.checklist`);
* the regimen of the catalogue (``knowledge``: 177Lu-DOTATATE 4 × 7.4 GBq every 8 weeks,
  amino-acid co-infusion, with their sources);
* predicted doses per cycle (:mod:`nenscope.plan.prediction`);
* the kidneys over the whole regimen (:mod:`nenscope.dosimetry.cycles`): cumulative absorbed
  dose and BED of the predicted cycles against 23 Gy / BED 40 Gy (28 Gy with risk factors),
  and the activity per cycle that keeps all cycles within them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nenscope.dosimetry import cycles, radiobiology
from nenscope.errors import NenscopeError
from nenscope.knowledge.tracers import get_agent
from nenscope.plan import checklist, prediction
from nenscope.plan._data import load
from nenscope.plan.patient import PatientData

AGENT = "177Lu-DOTATATE"


@dataclass
class Plan:
    """Everything ``plan.json`` holds (see :meth:`to_dict`)."""

    agent: str
    regimen: dict[str, Any]
    patient: PatientData
    checklist: list[checklist.ChecklistItem]
    predictions: list[prediction.PredictedDose]
    kidney_projection: dict[str, Any] | None
    study: dict[str, Any] = field(default_factory=dict)
    organ_suv: dict[str, float | None] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    model_source: str = ""

    @property
    def status(self) -> str:
        """``not met`` if any item is not met, else ``unknown`` if any is unknown, else ``met``."""
        states = {i.status for i in self.checklist}
        for s in (checklist.NOT_MET, checklist.UNKNOWN):
            if s in states:
                return s
        return checklist.MET

    def to_dict(self) -> dict[str, Any]:
        """The ``plan.json`` document."""
        return {
            "agent": self.agent,
            "status": self.status,
            "study": {k: _jsonable(v) for k, v in self.study.items()},
            "patient": self.patient.to_dict(),
            "checklist": [i.to_dict() for i in self.checklist],
            "regimen": self.regimen,
            "organ_suv": self.organ_suv,
            "predicted_doses": [p.to_dict() for p in self.predictions],
            "prediction_model": self.model_source,
            "kidney_projection": self.kidney_projection,
            "warnings": list(self.warnings),
        }


def _jsonable(v: Any) -> Any:
    """Datetimes of the study block as ISO text."""
    return v.isoformat() if hasattr(v, "isoformat") else v


def regimen() -> dict[str, Any]:
    """The catalogue's 177Lu-DOTATATE regimen with its sources."""
    a = get_agent(AGENT)
    return {
        "activity_gbq_per_cycle": a.activity.mbq / 1000.0,
        "cycles": a.cycles,
        "interval_weeks": a.cycle_interval_weeks,
        "activity_source": a.activity.source,
        "preparation": [g.to_dict() for g in a.preparation],
        "interfering_drugs": [d.to_dict() for d in a.interfering_drugs],
    }


def _kidney_projection(
    kidney: prediction.PredictedDose, reg: Mapping[str, Any], risk_factors: bool
) -> dict[str, Any]:
    t_eff = float(load("prediction")["kidney_kinetics"]["t_eff_h"])
    p = radiobiology.tissue_parameters("kidney")
    g = p.repair_half_time_h / (p.repair_half_time_h + t_eff)  # mono-exponential (Dale 1985)
    resp = cycles.RegionResponse("kidneys", kidney.dose_gy_per_gbq, g, "kidney")
    planned = [reg["activity_gbq_per_cycle"]] * int(reg["cycles"])
    proj = cycles.project(resp, (0.0, 0.0), planned, risk_factors=risk_factors)
    adv = cycles.max_activity_gbq([resp], {}, n_cycles=len(planned), risk_factors=risk_factors)
    return {
        "dose_gy_per_gbq": kidney.dose_gy_per_gbq,
        "t_eff_h": t_eff,
        "planned_gbq": list(planned),
        "cumulative_dose_gy": proj.projected_dose_gy,
        "cumulative_bed_gy": proj.projected_bed_gy,
        "limits": [
            {"quantity": lim.quantity, "limit_gy": lim.value_gy, "value_gy": v, "reached": hit}
            for lim, v, hit in proj.limits
        ],
        "max_activity_gbq_per_cycle": None if adv is None else adv.activity_gbq,
        "limiting": None if adv is None else f"{adv.limit.quantity} {adv.limit.value_gy:g} Gy",
    }


def make_plan(
    findings: Mapping[str, Any],
    patient: PatientData,
    *,
    organ_suv: Mapping[str, float | None] | None = None,
    model_path: str | Path | None = None,
) -> Plan:
    """The plan for one patient.

    Args:
        findings: the SSTR PET analysis (``findings.json`` document).
        patient: the clinical data.
        organ_suv: 68Ga SUVmean of ``kidneys``, ``spleen``, ``liver`` (default: the spleen and
            liver of the findings' reference regions, kidneys unknown).
        model_path: a site's prediction model (default the shipped one).
    """
    ref = findings.get("reference") or {}
    suv = {"spleen": ref.get("spleen_suv_mean"), "liver": ref.get("liver_suv_mean")}
    suv.update(organ_suv or {})
    suv.setdefault("kidneys", None)
    reg = regimen()
    model = prediction.load_model(model_path)
    preds = prediction.predict(
        suv, findings.get("lesions") or [], model, reg["activity_gbq_per_cycle"]
    )
    warnings = []
    agent = (findings.get("study") or {}).get("agent")
    if agent and not get_agent(agent).is_sstr:
        raise NenscopeError(f"the plan needs an SSTR PET analysis, not {agent}")
    kidney = next((p for p in preds if p.region == "kidneys"), None)
    projection = None
    if kidney is not None and math.isfinite(kidney.dose_gy_per_gbq):
        projection = _kidney_projection(kidney, reg, bool(patient.risk_factors))
        if any(lim["reached"] for lim in projection["limits"]):
            warnings.append(
                "the predicted kidney dose over the planned cycles reaches a limit: "
                f"at most {projection['max_activity_gbq_per_cycle']:.1f} GBq per cycle"
            )
    src = load("prediction")["model"]["source"] if model_path is None else str(model_path)
    return Plan(
        agent=AGENT,
        regimen=reg,
        patient=patient,
        checklist=checklist.evaluate(patient, findings),
        predictions=preds,
        kidney_projection=projection,
        study=dict(findings.get("study") or {}),
        organ_suv=dict(suv),
        warnings=warnings,
        model_source=src,
    )


def read_findings(path: str | Path) -> dict[str, Any]:
    """A ``findings.json`` written by ``nenscope analyze``."""
    p = Path(path)
    if p.is_dir():
        p = p / "findings.json"
    if not p.is_file():
        raise NenscopeError(f"findings file {p} not found (option --findings)")
    try:
        doc = json.loads(p.read_text("utf-8"))
    except json.JSONDecodeError as exc:
        raise NenscopeError(f"{p}: not a findings.json ({exc})") from exc
    if not isinstance(doc, dict) or "lesions" not in doc:
        raise NenscopeError(f"{p}: not a findings.json (no lesions list)")
    return doc
