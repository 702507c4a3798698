"""Activity and effective dose for one patient: adult rules and caps, children by age.

Adults get the catalogue's rule (per kg with its cap, or fixed). Children (``age_years`` < 18)
get the EANM paediatric dosage card where the agent is on it (baseline x class multiple at the
nearest tabulated weight, at least the card's minimum, never more than the adult maximum) and
an age-specific effective-dose coefficient: ICRP's own where ``data/paediatric.toml`` has it,
otherwise the adult coefficient scaled by the 18F-FDG child/adult ratio (flagged as an
estimate). Agents without a paediatric rule get no activity, with the reason.

Example
-------
>>> from nenscope.knowledge.tracers import get_agent
>>> d = dose_for_patient(get_agent("18F-FDG"), weight_kg=35.0, age_years=10.0)
>>> d.activity_mbq, d.effective_dose_msv
(108.1, 4.0)
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any

from nenscope.errors import NenscopeError
from nenscope.knowledge.tracers import Agent, get_agent, read_data

ADULT_AGE_YEARS = 18.0
MAX_AGE_YEARS = 120.0


@dataclass(frozen=True)
class PatientDose:
    """Injected activity (MBq) and effective dose (mSv) for one patient, with their sources."""

    activity_mbq: float | None
    activity_method: str
    activity_source: str
    effective_dose_msv: float | None
    dose_coefficient_msv_per_mbq: float | None
    dose_method: str
    dose_source: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@lru_cache(maxsize=1)
def _paediatric() -> dict[str, Any]:
    return read_data("paediatric.toml")


def is_child(age_years: float | None) -> bool:
    """True when ``age_years`` is given and below 18."""
    return age_years is not None and age_years < ADULT_AGE_YEARS


def check_age(age_years: float | None) -> None:
    """NenscopeError unless ``age_years`` is None or within 0-120."""
    if age_years is not None and not 0.0 <= age_years <= MAX_AGE_YEARS:
        raise NenscopeError(f"age must be between 0 and {MAX_AGE_YEARS:g} years, got {age_years:g}")


def card_multiple(weight_kg: float) -> tuple[float, float]:
    """EANM class-B multiple for ``weight_kg``: ``(multiple, tabulated weight used)``.

    The nearest tabulated weight is used (halfway rounds down); above 68 kg the 68 kg row.
    """
    card = _paediatric()["card"]
    weights, multiples = card["weights_kg"], card["class_b"]
    i = bisect_right(weights, weight_kg)
    if i == 0:
        j = 0
    elif i == len(weights):
        j = len(weights) - 1
    else:
        j = i - 1 if weight_kg - weights[i - 1] <= weights[i] - weight_kg else i
    return float(multiples[j]), float(weights[j])


def _card_activity(agent: Agent, weight_kg: float) -> tuple[float, str, str]:
    ped = agent.paediatric or {}
    multiple, row_kg = card_multiple(weight_kg)
    activity = max(ped["baseline_mbq"] * multiple, ped["min_mbq"])
    adult_max = agent.activity.max_mbq if agent.activity.rule == "per_kg" else agent.activity.mbq
    capped = adult_max is not None and adult_max < activity
    activity = min(activity, adult_max) if capped else activity
    method = (
        f"EANM paediatric dosage card: class {ped['card_class']}, {ped['baseline_mbq']:g} MBq x "
        f"{multiple:g} ({row_kg:g} kg row), minimum {ped['min_mbq']:g} MBq"
        + (f", capped at the adult maximum {adult_max:g} MBq" if capped else "")
    )
    source = f"{ped['source']}; {_paediatric()['card']['source']}"
    return round(activity, 1), method, source


def _child_activity(
    agent: Agent, weight_kg: float, age_years: float
) -> tuple[float | None, str, str]:
    ped = agent.paediatric
    if ped is None:
        return None, "no paediatric dosing rule in nenscope's sources for this agent", "—"
    if "card_class" in ped:
        return _card_activity(agent, weight_kg)
    if "min_age_years" in ped and age_years >= ped["min_age_years"]:
        return (
            agent.activity_mbq(weight_kg),
            "adult activity (label allows this age)",
            ped["source"],
        )
    reason = ped.get("note") or f"not established below {ped.get('min_age_years', 18):g} years"
    return None, f"no paediatric activity: {reason}", ped["source"]


def _age_index(age_years: float) -> int:
    groups = _paediatric()["age_groups"]
    return bisect_right(groups["upper_bounds_years"], age_years)


def dose_coefficient(agent: Agent, age_years: float | None) -> tuple[float | None, str, str]:
    """Effective-dose coefficient (mSv/MBq) for the patient's age: ``(value, method, source)``."""
    adult = agent.effective_dose_msv_per_mbq
    if adult is None or not is_child(age_years):
        return adult, "adult coefficient", agent.dose_source
    i = _age_index(age_years)
    group = _paediatric()["age_groups"]["ages_years"][i]
    for row in _paediatric()["coefficient"]:
        if row["agent"] == agent.name:
            return (
                row["msv_per_mbq"][i],
                f"ICRP coefficient for a {group:g}-year-old",
                row["source"],
            )
    scaling = _paediatric()["scaling"]
    ref = get_agent(scaling["reference_agent"])
    ref_child, _, _ = dose_coefficient(ref, age_years)
    ratio = ref_child / ref.effective_dose_msv_per_mbq
    method = (
        f"estimate: adult coefficient x {ratio:.2f} (18F-FDG child/adult ratio, "
        f"{group:g}-year-old phantom)"
    )
    return round(adult * ratio, 4), method, f"{scaling['source']}; adult: {agent.dose_source}"


def dose_for_patient(
    agent: Agent, *, weight_kg: float | None, age_years: float | None = None
) -> PatientDose:
    """Activity (MBq) and effective dose (mSv) of ``agent`` for a patient.

    Parameters
    ----------
    weight_kg : body weight in kg (needed for per-kg rules and for children).
    age_years : age in years; below 18 the paediatric rules apply.
    """
    check_age(age_years)
    if is_child(age_years):
        if weight_kg is None:
            raise NenscopeError("children are dosed by weight: give --weight-kg")
        activity, method, source = _child_activity(agent, weight_kg, age_years)
    else:
        activity = agent.activity_mbq(weight_kg)
        method, source = "adult rule", agent.activity.source
        if agent.activity.max_mbq is not None and activity == agent.activity.max_mbq:
            method = f"adult rule, capped at {agent.activity.max_mbq:g} MBq"
            source = f"{source}; cap: {agent.activity.max_source}"
    coefficient, dose_method, dose_source = dose_coefficient(agent, age_years)
    dose = None if activity is None or coefficient is None else round(activity * coefficient, 2)
    return PatientDose(activity, method, source, dose, coefficient, dose_method, dose_source)
