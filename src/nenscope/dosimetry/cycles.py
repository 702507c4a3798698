"""Cycles of PRRT: cumulative dose and BED projected over the planned cycles, and the activity
that keeps the next cycle within the limits.

Each later cycle is assumed to repeat the measured cycle's kinetics: its absorbed dose scales
with the administered activity (``dose_gy_per_gbq``) and its dose-rate shape, hence its
Lea–Catcheside factor G, is the same. The BED of one cycle is D + G·D²/(α/β) (Dale 1985);
cycles weeks apart are fully repaired in between, so BEDs (and doses) add
(:func:`nenscope.dosimetry.radiobiology.cumulative`). Limits come from
``data/radiobiology.toml``: kidney 23 Gy and BED 40 Gy (28 Gy with risk factors), red marrow
2 Gy.

For a limit L on the cumulative BED with B already delivered, the largest next-cycle dose d
solves G·d²/(α/β) + d = L − B:

    d = (α/β)/(2G) · (√(1 + 4G(L − B)/(α/β)) − 1)      (d = L − B when G = 0),

and the activity is d / (Gy/GBq). Over n equal remaining cycles the same holds with L − B
divided by n.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from nenscope.dosimetry import radiobiology
from nenscope.dosimetry._data import load_toml
from nenscope.errors import NenscopeError


@dataclass(frozen=True)
class RegionResponse:
    """What one GBq does to a region, from the measured cycle.

    dose_gy_per_gbq: absorbed dose per administered activity; g_factor: Lea–Catcheside G of
    the cycle's dose-rate curve (dimensionless); tissue: key of ``radiobiology.toml``.
    """

    region: str
    dose_gy_per_gbq: float
    g_factor: float
    tissue: str

    @classmethod
    def from_cycle(
        cls, region: str, dose_gy: float, bed_gy: float, injected_gbq: float, tissue: str
    ) -> RegionResponse:
        """From a measured cycle's dose and BED: G = (BED − D)·(α/β)/D²."""
        if injected_gbq <= 0:
            raise NenscopeError("the measured cycle's administered activity must be > 0 GBq")
        ab = radiobiology.tissue_parameters(tissue).alpha_beta_gy
        g = (bed_gy - dose_gy) * ab / (dose_gy * dose_gy) if dose_gy > 0 else 0.0
        return cls(region, dose_gy / injected_gbq, max(g, 0.0), tissue)

    def cycle(self, activity_gbq: float) -> tuple[float, float]:
        """(dose_gy, bed_gy) of one cycle of ``activity_gbq``."""
        d = self.dose_gy_per_gbq * activity_gbq
        ab = radiobiology.tissue_parameters(self.tissue).alpha_beta_gy
        return d, d + self.g_factor * d * d / ab


@dataclass(frozen=True)
class Limit:
    """One limit of ``radiobiology.toml`` that applies: quantity ``dose_gy`` or ``bed_gy``."""

    tissue: str
    quantity: str
    value_gy: float
    source: str


def applicable_limits(tissue: str, *, risk_factors: bool = False) -> list[Limit]:
    """The absorbed-dose and BED limits of ``tissue`` (28 Gy kidney BED with risk factors)."""
    out = []
    for row in load_toml("radiobiology.toml")["limit"]:
        if row["tissue"] != tissue:
            continue
        q = row["quantity"]
        if q == "bed_gy_risk_factors":
            if risk_factors:
                out.append(Limit(tissue, "bed_gy", float(row["value"]), row["source"]))
        elif q == "bed_gy" and risk_factors and _has_risk_row(tissue):
            continue
        else:
            out.append(Limit(tissue, q, float(row["value"]), row["source"]))
    return out


def _has_risk_row(tissue: str) -> bool:
    rows = load_toml("radiobiology.toml")["limit"]
    return any(r["tissue"] == tissue and r["quantity"] == "bed_gy_risk_factors" for r in rows)


@dataclass(frozen=True)
class Projection:
    """One region over the whole regimen.

    delivered_*: cumulative up to and including the measured cycle; planned_gbq: the
    activities of the remaining cycles; projected_*: cumulative after all of them;
    limits: (limit, projected value, reached) for each applicable limit.
    """

    region: str
    delivered_dose_gy: float
    delivered_bed_gy: float
    planned_gbq: tuple[float, ...]
    projected_dose_gy: float
    projected_bed_gy: float
    limits: tuple[tuple[Limit, float, bool], ...]


def project(
    response: RegionResponse,
    delivered: tuple[float, float],
    planned_gbq: Sequence[float],
    *,
    risk_factors: bool = False,
) -> Projection:
    """Cumulative dose and BED of ``response.region`` after the planned cycles.

    Args:
        response: the region's per-GBq response from the measured cycle.
        delivered: (dose_gy, bed_gy) cumulative so far (earlier cycles + the measured one).
        planned_gbq: administered activity of each remaining cycle (GBq).
    """
    dose, bed = delivered
    for a in planned_gbq:
        if a < 0:
            raise NenscopeError("planned activities must be ≥ 0 GBq")
        d, b = response.cycle(a)
        dose, bed = dose + d, bed + b
    checks = []
    for lim in applicable_limits(response.tissue, risk_factors=risk_factors):
        value = dose if lim.quantity == "dose_gy" else bed
        checks.append((lim, value, value >= lim.value_gy))
    return Projection(response.region, *delivered, tuple(planned_gbq), dose, bed, tuple(checks))


def _max_cycle_dose(limit: Limit, left_gy: float, g: float, ab: float, n: int) -> float:
    """Largest per-cycle dose for ``n`` equal cycles that keeps ``left_gy`` of the limit."""
    per = left_gy / n
    if per <= 0:
        return 0.0
    if limit.quantity == "dose_gy" or g <= 0:
        return per
    k = g / ab
    return (math.sqrt(1.0 + 4.0 * k * per) - 1.0) / (2.0 * k)


@dataclass(frozen=True)
class ActivityAdvice:
    """The largest activity per cycle (GBq) and the limit that sets it."""

    activity_gbq: float
    region: str
    limit: Limit
    n_cycles: int


def max_activity_gbq(
    responses: Sequence[RegionResponse],
    delivered: dict[str, tuple[float, float]],
    *,
    n_cycles: int = 1,
    risk_factors: bool = False,
) -> ActivityAdvice | None:
    """The activity per cycle, over ``n_cycles`` equal cycles, that keeps every region within
    its limits (the next cycle alone with ``n_cycles=1``); None if no region has a limit."""
    if n_cycles < 1:
        raise NenscopeError("the number of remaining cycles must be ≥ 1")
    best: ActivityAdvice | None = None
    for r in responses:
        if r.dose_gy_per_gbq <= 0:
            continue
        dose, bed = delivered.get(r.region, (0.0, 0.0))
        ab = radiobiology.tissue_parameters(r.tissue).alpha_beta_gy
        for lim in applicable_limits(r.tissue, risk_factors=risk_factors):
            left = lim.value_gy - (dose if lim.quantity == "dose_gy" else bed)
            a = _max_cycle_dose(lim, left, r.g_factor, ab, n_cycles) / r.dose_gy_per_gbq
            if best is None or a < best.activity_gbq:
                best = ActivityAdvice(a, r.region, lim, n_cycles)
    return best
