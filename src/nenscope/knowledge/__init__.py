"""Knowledge base: radionuclides, the tracer catalogue and protocol advice."""

from nenscope.knowledge.protocol import ProtocolAdvice, Recommendation, advise, list_scenarios
from nenscope.knowledge.radionuclides import (
    activity_after,
    canonical_nuclide,
    decay_constant_per_s,
    decay_factor,
    half_life_s,
)
from nenscope.knowledge.tracers import ActivityRule, Agent, get_agent, list_agents

__all__ = [
    "ActivityRule",
    "Agent",
    "ProtocolAdvice",
    "Recommendation",
    "activity_after",
    "advise",
    "canonical_nuclide",
    "decay_constant_per_s",
    "decay_factor",
    "get_agent",
    "half_life_s",
    "list_agents",
    "list_scenarios",
]
