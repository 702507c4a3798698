"""Clinical scenarios (``data/scenarios.toml``): their inputs and the branch a patient falls in.

A scenario ranks agents directly, or has branches chosen by the patient's inputs (genotype and
site for pheochromocytoma/paraganglioma, calcitonin/CEA doubling time for MTC); the first
branch whose ``when`` matches is used.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from nenscope.errors import NenscopeError
from nenscope.knowledge.tracers import read_data

#: Scenario inputs and the CLI option that sets each.
INPUT_OPTIONS = {
    "genotype": "--genotype",
    "site": "--site",
    "doubling_time_months": "--doubling-time-months",
}


@lru_cache(maxsize=1)
def scenario_table() -> dict[str, dict[str, Any]]:
    """``{name: scenario row}`` in file order."""
    return {row["name"]: row for row in read_data("scenarios.toml")["scenario"]}


def list_scenarios() -> list[tuple[str, str]]:
    """``(name, title)`` of every scenario."""
    return [(name, row["title"]) for name, row in scenario_table().items()]


def get_scenario(name: str) -> dict[str, Any]:
    """The scenario row, or NenscopeError listing the known names."""
    rows = scenario_table()
    if name not in rows:
        raise NenscopeError(f"unknown scenario {name!r}; choose one of: {', '.join(rows)}")
    return rows[name]


def _choice(value: str, allowed: list[str], option: str) -> str:
    for item in allowed:
        if item.lower() == value.strip().lower():
            return item
    raise NenscopeError(f"{option} {value!r} is not known; choose one of: {', '.join(allowed)}")


def resolve_inputs(row: dict[str, Any], given: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Checked inputs for ``row`` (defaults filled) and the names of the defaulted ones.

    Raises NenscopeError for an input the scenario does not take or a value it does not know.
    """
    accepted = row.get("inputs", [])
    for name, value in given.items():
        if value is not None and name not in accepted:
            takers = [n for n, r in scenario_table().items() if name in r.get("inputs", [])]
            raise NenscopeError(
                f"{INPUT_OPTIONS[name]} applies to the {' and '.join(takers)} scenario(s), "
                f"not {row['name']!r}"
            )
    resolved, defaulted = {}, []
    for name in accepted:
        value = given.get(name)
        if value is None and name in row.get("defaults", {}):
            value = row["defaults"][name]
            defaulted.append(name)
        if isinstance(value, str) and name in row.get("choices", {}):
            value = _choice(value, row["choices"][name], INPUT_OPTIONS[name])
        if name == "doubling_time_months" and value is not None and value <= 0:
            raise NenscopeError(f"--doubling-time-months must be > 0, got {value:g}")
        resolved[name] = value
    return resolved, defaulted


def _matches(when: dict[str, Any], inputs: dict[str, Any]) -> bool:
    for key, wanted in when.items():
        if key == "doubling_time_months_below":
            value = inputs.get("doubling_time_months")
            if value is None or value >= wanted:
                return False
        elif inputs.get(key) not in wanted:
            return False
    return True


def select_branch(row: dict[str, Any], inputs: dict[str, Any]) -> dict[str, Any]:
    """The branch of ``row`` for ``inputs`` (the row itself when it has no branches)."""
    branches = row.get("branch")
    if not branches:
        return row
    for branch in branches:
        if _matches(branch.get("when", {}), inputs):
            return branch
    raise NenscopeError(f"scenario {row['name']!r} has no branch for {inputs}")
