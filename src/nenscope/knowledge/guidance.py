"""Cited guidance records of the tracer catalogue: advice, interfering drugs, approval status.

Each record carries the label (US prescribing information, EU SmPC) or guideline it comes from;
``data/agents.toml`` holds the values.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from nenscope.errors import NenscopeError

#: Jurisdictions with an approval status in the catalogue: US (FDA) and EU (EMA or national).
JURISDICTIONS = ("us", "eu")
#: Approval vocabulary, most to least available.
APPROVAL_STATUSES = (
    "approved",
    "approved for another indication",
    "not approved",
    "investigational",
    "preclinical",
)


@dataclass(frozen=True)
class Guidance:
    """One piece of advice (preparation, pregnancy, breast-feeding) and its source.

    ``interrupt_h`` is the breast-feeding interruption in hours where the source gives one.
    """

    text: str
    source: str
    interrupt_h: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


@dataclass(frozen=True)
class InterferingDrug:
    """A drug that changes the tracer's uptake, what to do about it, and the source."""

    drug: str
    advice: str
    source: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Approval:
    """Regulatory status of an agent in one jurisdiction (see :data:`APPROVAL_STATUSES`)."""

    jurisdiction: str
    status: str
    note: str
    source: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_jurisdiction(jurisdiction: str | None) -> str | None:
    """Lower-cased jurisdiction, or NenscopeError naming the allowed ones (None passes)."""
    if jurisdiction is None:
        return None
    key = jurisdiction.strip().lower()
    if key not in JURISDICTIONS:
        raise NenscopeError(
            f"unknown jurisdiction {jurisdiction!r}; choose one of: {', '.join(JURISDICTIONS)}"
        )
    return key


def parse_approvals(table: dict[str, Any], agent: str) -> dict[str, Approval]:
    """``{jurisdiction: Approval}`` from an agent's ``approval`` table (every jurisdiction)."""
    out = {}
    for jurisdiction in JURISDICTIONS:
        row = table.get(jurisdiction)
        if row is None or row.get("status") not in APPROVAL_STATUSES:
            raise NenscopeError(f"agents.toml: {agent} needs a valid approval.{jurisdiction}")
        out[jurisdiction] = Approval(jurisdiction, row["status"], row["note"], row["source"])
    return out
