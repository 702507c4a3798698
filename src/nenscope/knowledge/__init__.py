"""Knowledge base: radionuclides, the tracer catalogue, patient dosing and protocol advice."""

from nenscope.knowledge.dosing import PatientDose, dose_for_patient
from nenscope.knowledge.guidance import (
    APPROVAL_STATUSES,
    JURISDICTIONS,
    Approval,
    Guidance,
    InterferingDrug,
)
from nenscope.knowledge.protocol import ProtocolAdvice, Recommendation, advise
from nenscope.knowledge.radionuclides import (
    activity_after,
    canonical_nuclide,
    decay_constant_per_s,
    decay_factor,
    half_life_s,
)
from nenscope.knowledge.scenarios import list_scenarios
from nenscope.knowledge.tracers import ActivityRule, Agent, get_agent, list_agents

__all__ = [
    "APPROVAL_STATUSES",
    "JURISDICTIONS",
    "ActivityRule",
    "Agent",
    "Approval",
    "Guidance",
    "InterferingDrug",
    "PatientDose",
    "ProtocolAdvice",
    "Recommendation",
    "activity_after",
    "advise",
    "canonical_nuclide",
    "decay_constant_per_s",
    "decay_factor",
    "dose_for_patient",
    "get_agent",
    "half_life_s",
    "list_agents",
    "list_scenarios",
]
