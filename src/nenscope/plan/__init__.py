"""PRRT planning from the pre-therapy SSTR PET: checklist, regimen and predicted doses.

* :func:`make_plan` — findings of the SSTR PET analysis + :class:`PatientData` → :class:`Plan`
  (checklist per the NANETS/SNMMI procedure standard and the 2024 SNMMI guideline, the
  catalogue's regimen, predicted kidney/organ/tumour doses, kidneys over the regimen).
* :func:`write_plan` — ``plan.json`` and ``plan.html``.
* :mod:`.prediction` — the 68Ga→177Lu dose model; :mod:`.checklist` — the items;
  :mod:`.pet` — analysis of a PET study and its kidney uptake.
"""

from nenscope.plan.checklist import MET, NOT_MET, UNKNOWN, ChecklistItem, evaluate
from nenscope.plan.html import render_html, write_plan
from nenscope.plan.patient import PatientData
from nenscope.plan.planner import Plan, make_plan, read_findings, regimen
from nenscope.plan.prediction import PredictedDose, fit_model, load_model, predict

__all__ = [
    "MET",
    "NOT_MET",
    "UNKNOWN",
    "ChecklistItem",
    "PatientData",
    "Plan",
    "PredictedDose",
    "evaluate",
    "fit_model",
    "load_model",
    "make_plan",
    "predict",
    "read_findings",
    "regimen",
    "render_html",
    "write_plan",
]
