"""Tracer biodistribution: organ SUVs of the diagnostic agents and 177Lu-DOTATATE kinetics.

Organ and lesion uptake come from ``data/uptake.toml`` (one cited row per agent);
177Lu-DOTATATE time-activity curves from ``data/kinetics_lu177.toml``.
SUVbw = C · W / A (C in Bq/mL, W in g, A the injected activity decayed to the scan start).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from nenscope.errors import NenscopeError
from nenscope.simulation._data import load
from nenscope.simulation.lesions import Lesion, lesion_occupancy
from nenscope.simulation.phantom import Phantom

__all__ = [
    "KineticRegion",
    "agent_uptake",
    "gland_suvs",
    "lu177_concentration_bqml",
    "lu177_regions",
    "suv_map",
    "uptake_agents",
]

# phantom label -> uptake-table key
_LABEL_KEY = {
    "body": "soft_tissue",
    "heart": "blood",
    "aorta": "blood",
    "kidney_left": "kidneys",
    "kidney_right": "kidneys",
    "adrenal_left": "adrenals",
    "adrenal_right": "adrenals",
}


def uptake_agents() -> list[str]:
    """Agents with an uptake row (catalogue names)."""
    return list(load("uptake")["agent"])


def agent_uptake(agent: str) -> dict:
    """The uptake row of ``agent``: target, organs (SUV), lesion_suv, uptake_min, citation."""
    table = load("uptake")["agent"]
    if agent not in table:
        raise NenscopeError(f"no uptake data for {agent!r}; simulated agents: {', '.join(table)}")
    return table[agent]


def organ_suv(agent: str, label_name: str, glands: dict[str, float] | None = None) -> float:
    """True SUVmean of phantom label ``label_name`` for ``agent``; ``glands`` (uptake-table
    key -> SUV, :func:`gland_suvs`) replaces the table's value of the small glands."""
    organs = agent_uptake(agent)["organs"]
    key = _LABEL_KEY.get(label_name, label_name)
    if glands and key in glands:
        return float(glands[key])
    if key not in organs:
        raise NenscopeError(f"uptake table of {agent} lacks organ {key!r}")
    return float(organs[key])


def gland_suvs(agent: str, rng: np.random.Generator) -> dict[str, float]:
    """One patient's small-gland SUVs on an SSTR agent (adrenals, pituitary, uncinate process):
    the liver SUV times a ratio drawn uniformly from ``uptake.toml`` ``[gland_liver_ratio]``.
    Empty for other agents (their table values apply)."""
    row = agent_uptake(agent)
    if row["target"] != "sstr":
        return {}
    liver = float(row["organs"]["liver"])
    ranges = {k: v for k, v in load("uptake")["gland_liver_ratio"].items() if k != "citation"}
    return {k: liver * float(rng.uniform(lo, hi)) for k, (lo, hi) in ranges.items()}


def lesion_suv(agent: str, lesion: Lesion) -> float:
    """SUVmean of ``lesion`` for ``agent`` (by the expression of the agent's target)."""
    row = agent_uptake(agent)
    level = lesion.expression.get(row["target"])
    if level not in row["lesion_suv"]:
        raise NenscopeError(f"{agent}: no lesion uptake for {row['target']} level {level!r}")
    return float(row["lesion_suv"][level])


def _paint_lesions(values: np.ndarray, phantom: Phantom, lesions: list[Lesion], level_of) -> None:
    for les in lesions:
        sl, frac = lesion_occupancy(phantom.grid, les.center_mm, les.diameter_mm)
        sub = values[sl]
        sub *= 1.0 - frac
        sub += frac * np.float32(level_of(les))


def suv_map(
    phantom: Phantom, agent: str, lesions: list[Lesion], glands: dict[str, float] | None = None
) -> np.ndarray:
    """True SUV image (float32): organ SUVs by label, lesions mixed in by partial volume;
    ``glands`` replaces the small glands' table SUVs (:func:`gland_suvs`).

    Sets ``lesion.true_suv_mean`` of every lesion.
    """
    lut = np.zeros(256, dtype=np.float32)
    for k, name in phantom.label_names.items():
        lut[k] = organ_suv(agent, name, glands)
    values = lut[phantom.labels]
    for les in lesions:
        les.true_suv_mean = lesion_suv(agent, les)
    _paint_lesions(values, phantom, lesions, lambda les: les.true_suv_mean)
    return values


@dataclass(frozen=True)
class KineticRegion:
    """A(t) = A0 (exp(−ln2 t/T_eff) − exp(−ln2 t/T_up)); A0 in Bq (organs) or c0 in Bq/mL."""

    name: str
    t_eff_h: float
    t_uptake_h: float
    percent_ia: float | None = None
    suv0: float | None = None
    citation: str = ""

    def shape(self, t_h) -> np.ndarray:
        t = np.asarray(t_h, dtype=float)
        return np.exp(-math.log(2) * t / self.t_eff_h) - np.exp(-math.log(2) * t / self.t_uptake_h)

    def integral_h(self) -> float:
        """∫0^∞ shape(t) dt in hours."""
        return (self.t_eff_h - self.t_uptake_h) / math.log(2)


def lu177_regions() -> dict[str, KineticRegion]:
    """The kinetic regions of ``data/kinetics_lu177.toml``."""
    data = load("kinetics_lu177")
    return {
        k: KineticRegion(
            name=k,
            t_eff_h=v["t_eff_h"],
            t_uptake_h=v["t_uptake_h"],
            percent_ia=v.get("percent_ia"),
            suv0=v.get("suv0"),
            citation=v["citation"],
        )
        for k, v in data["region"].items()
    }


def lu177_tumour_region(level: str) -> KineticRegion:
    t = load("kinetics_lu177")["tumour"]
    return KineticRegion(
        name=f"tumour_{level}",
        t_eff_h=t["t_eff_h"],
        t_uptake_h=t["t_uptake_h"],
        suv0=float(t["suv0"][level]),
        citation=t["citation"],
    )


def lu177_concentration_bqml(
    phantom: Phantom, lesions: list[Lesion], t_h: float, injected_bq: float, weight_kg: float
) -> tuple[np.ndarray, dict]:
    """177Lu activity concentration (Bq/mL) at ``t_h`` hours after injection, and the truth.

    Organs given as percent of injected activity are spread uniformly over their phantom
    volume; other regions and the lesions follow c0 = suv0·A_inj/W times the kinetic shape.
    Returns (image, {region: {"bqml": ..., "activity_bq": ...}}).
    """
    data = load("kinetics_lu177")
    regions = lu177_regions()
    voxel_ml = phantom.grid.voxel_mm**3 / 1000.0
    counts = np.bincount(phantom.labels.ravel(), minlength=256)
    region_volume_ml: dict[str, float] = {}
    for k, name in phantom.label_names.items():
        reg = data["label_region"][name]
        region_volume_ml[reg] = region_volume_ml.get(reg, 0.0) + counts[k] * voxel_ml
    lut = np.zeros(256, dtype=np.float32)
    truth: dict[str, dict] = {}
    for k, name in phantom.label_names.items():
        reg = regions[data["label_region"][name]]
        if reg.percent_ia is not None:
            activity = reg.percent_ia / 100.0 * injected_bq * float(reg.shape(t_h))
            conc = activity / max(region_volume_ml[reg.name], 1e-9)
        else:
            conc = reg.suv0 * injected_bq / (weight_kg * 1000.0) * float(reg.shape(t_h))
        lut[k] = conc
        truth[name] = {
            "region": reg.name,
            "bqml": float(conc),
            "activity_bq": float(conc * counts[k] * voxel_ml),
        }
    values = lut[phantom.labels]
    for les in lesions:
        reg = lu177_tumour_region(les.sstr_expression)
        les.extra["bqml_at"] = les.extra.get("bqml_at", {})
        les.extra["bqml_at"][f"{t_h:g}"] = (
            reg.suv0 * injected_bq / (weight_kg * 1000.0) * float(reg.shape(t_h))
        )
    _paint_lesions(values, phantom, lesions, lambda les: les.extra["bqml_at"][f"{t_h:g}"])
    return values, truth
