"""Tracer biodistribution: organ SUVs of the diagnostic agents and 177Lu-DOTATATE kinetics.

Organ and lesion uptake come from ``data/uptake.toml`` (one cited row per agent);
177Lu-DOTATATE time-activity curves from ``data/kinetics_lu177.toml``.
SUVbw = C · W / A (C in Bq/mL, W in g, A the injected activity decayed to the scan start).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from nenscope.errors import NenscopeError
from nenscope.simulation._data import load
from nenscope.simulation.lesions import Lesion, lesion_occupancy
from nenscope.simulation.phantom import Phantom, build_patient_phantom
from nenscope.simulation.retention import RemainderRegion, remainder_regions
from nenscope.simulation.variability import PatientVariation

__all__ = [
    "KineticRegion",
    "agent_uptake",
    "lu177_concentration_bqml",
    "lu177_patient_regions",
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


def organ_suv(agent: str, label_name: str, variation: PatientVariation | None = None) -> float:
    """True SUVmean of phantom label ``label_name`` for ``agent`` (this patient's, with a
    ``variation``: the kidney uptake factor applies to SSTR agents)."""
    row = agent_uptake(agent)
    organs = row["organs"]
    key = _LABEL_KEY.get(label_name, label_name)
    if key not in organs:
        raise NenscopeError(f"uptake table of {agent} lacks organ {key!r}")
    factor = 1.0
    if variation is not None and key == "kidneys" and row["target"] == "sstr":
        factor = variation.kidney_uptake_factor
    return float(organs[key]) * factor


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
    phantom: Phantom,
    agent: str,
    lesions: list[Lesion],
    variation: PatientVariation | None = None,
) -> np.ndarray:
    """True SUV image (float32): organ SUVs by label, lesions mixed in by partial volume.

    Sets ``lesion.true_suv_mean`` of every lesion.
    """
    lut = np.zeros(256, dtype=np.float32)
    for k, name in phantom.label_names.items():
        lut[k] = organ_suv(agent, name, variation)
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

    def describe(self, amplitude: str = "A0") -> dict:
        """The kinetics entry of the truth manifest (``a0_mbq``/``c0_bqml`` added there)."""
        return {
            "model": f"{amplitude}*(exp(-ln2 t/t_eff_h) - exp(-ln2 t/t_uptake_h))",
            "t_eff_h": self.t_eff_h,
            "t_uptake_h": self.t_uptake_h,
            "citation": self.citation,
        }


def lu177_regions(variation: PatientVariation | None = None) -> dict[str, KineticRegion]:
    """The named kinetic regions of ``data/kinetics_lu177.toml`` (not the remainder); with a
    ``variation``, this patient's kidney uptake and half-life."""
    data = load("kinetics_lu177")
    out = {
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
    if variation is not None:
        kid = out["kidneys"]
        out["kidneys"] = KineticRegion(
            kid.name,
            variation.kidney_t_eff_h,
            kid.t_uptake_h,
            kid.percent_ia * variation.kidney_uptake_factor,
            kid.suv0,
            f"{kid.citation}; this patient: {data['variability']['kidneys']['citation']}",
        )
    return out


def lu177_tumour_region(level: str, variation: PatientVariation | None = None) -> KineticRegion:
    """Kinetics of a lesion of SSTR ``level`` (this patient's tumour half-life with a variation)."""
    t = load("kinetics_lu177")["tumour"]
    return KineticRegion(
        name=f"tumour_{level}",
        t_eff_h=t["t_eff_h"] if variation is None else variation.tumour_t_eff_h,
        t_uptake_h=t["t_uptake_h"],
        suv0=float(t["suv0"][level]),
        citation=t["citation"],
    )


@functools.cache
def _full_phantom_volumes_ml(sex: str, height_cm: float, weight_kg: float) -> dict[str, float]:
    """Kinetic region → volume (ml) in the whole (uncropped) phantom of this patient."""
    full = build_patient_phantom(voxel_mm=6.0, sex=sex, height_cm=height_cm, weight_kg=weight_kg)
    label_region = load("kinetics_lu177")["label_region"]
    counts = np.bincount(full.labels.ravel(), minlength=256)
    out: dict[str, float] = {}
    for k, name in full.label_names.items():
        reg = label_region[name]
        out[reg] = out.get(reg, 0.0) + float(counts[k]) * full.grid.voxel_mm**3 / 1000.0
    return out


def lu177_patient_regions(
    phantom: Phantom, variation: PatientVariation | None = None
) -> dict[str, KineticRegion | RemainderRegion]:
    """Every kinetic region of ``phantom``'s patient: the named ones and the remainder.

    The remainder's share of the whole-body retention uses the volumes of the whole phantom,
    whatever the scan's crop.
    """
    return _patient_regions(phantom.sex, phantom.height_cm, phantom.weight_kg, variation)


@functools.cache
def _patient_regions(
    sex: str, height_cm: float, weight_kg: float, variation: PatientVariation | None
) -> dict:
    named = lu177_regions(variation)
    volumes = _full_phantom_volumes_ml(sex, height_cm, weight_kg)
    return {**named, **remainder_regions(named, volumes, weight_kg)}


def _organ_volumes_ml(phantom: Phantom, counts: np.ndarray, label_region: dict) -> dict:
    """Region → volume (ml) over which a percent of injected activity is spread: its voxels in
    this phantom, or, for a region cut by the scan's axial edges, the whole phantom's."""
    full = _full_phantom_volumes_ml(phantom.sex, phantom.height_cm, phantom.weight_kg)
    edge = set(np.unique(phantom.labels[0]).tolist()) | set(np.unique(phantom.labels[-1]).tolist())
    voxel_ml = phantom.grid.voxel_mm**3 / 1000.0
    out: dict[str, float] = {}
    cut: set[str] = set()
    for k, name in phantom.label_names.items():
        reg = label_region[name]
        out[reg] = out.get(reg, 0.0) + float(counts[k]) * voxel_ml
        if k in edge:
            cut.add(reg)
    return {r: (full[r] if r in cut else v) for r, v in out.items()}


def lu177_concentration_bqml(
    phantom: Phantom,
    lesions: list[Lesion],
    t_h: float,
    injected_bq: float,
    weight_kg: float,
    variation: PatientVariation | None = None,
) -> tuple[np.ndarray, dict]:
    """177Lu activity concentration (Bq/mL) at ``t_h`` hours after injection, and the truth.

    Organs given as percent of injected activity are spread uniformly over their volume (the
    whole phantom's where the scan's axial edges cut them); other named regions and the lesions follow c0 = suv0·A_inj/W times the
    kinetic shape; the remainder tissues carry what the cited whole-body retention leaves
    (:mod:`nenscope.simulation.retention`).
    Returns (image, {label: {"region", "bqml", "activity_bq"}}) — the activity inside this
    phantom's field.
    """
    label_region = load("kinetics_lu177")["label_region"]
    regions = lu177_patient_regions(phantom, variation)
    voxel_ml = phantom.grid.voxel_mm**3 / 1000.0
    counts = np.bincount(phantom.labels.ravel(), minlength=256)
    volumes = _organ_volumes_ml(phantom, counts, label_region)
    lut = np.zeros(256, dtype=np.float32)
    truth: dict[str, dict] = {}
    for k, name in phantom.label_names.items():
        reg = regions[label_region[name]]
        if reg.percent_ia is not None:
            activity = reg.percent_ia / 100.0 * injected_bq * float(reg.shape(t_h))
            conc = activity / max(volumes[reg.name], 1e-9)
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
        reg = lu177_tumour_region(les.sstr_expression, variation)
        les.extra["bqml_at"] = les.extra.get("bqml_at", {})
        les.extra["bqml_at"][f"{t_h:g}"] = (
            reg.suv0 * injected_bq / (weight_kg * 1000.0) * float(reg.shape(t_h))
        )
    _paint_lesions(values, phantom, lesions, lambda les: les.extra["bqml_at"][f"{t_h:g}"])
    return values, truth
