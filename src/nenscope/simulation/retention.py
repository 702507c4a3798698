"""Whole-body retention of 177Lu-DOTATATE and the remainder tissue that carries it.

The cited urinary excretion (``data/kinetics_lu177.toml``, ``[whole_body]``) fixes how much of
the injected activity is still in the patient at any time. The named regions of the kinetics
table (kidneys, liver, spleen, blood pool, marrow, gut, urine, …) hold a small part of it;
the rest sits in the *remainder* (soft tissue, fat, lung, brain, bone, and the limbs the
phantom does not model). The remainder's concentration is therefore the whole-body activity
minus the named regions, spread over the patient's remainder mass:

    c_rem(t) = [A·e^(−λt)·R(t) − Σ A_named(t)] / M_rem_eff,
    M_rem_eff = Σ_r w_r·V_r + (W − V_phantom)·w_soft_tissue,

with R(t) the decay-corrected retention, ``w_r`` the relative concentration of each remainder
region, ``V_r`` its volume in the full (uncropped) phantom and ``W − V_phantom`` the patient mass
outside the phantom (arms, lower legs), taken as soft tissue. The named regions are counted
over the full phantom as well, so a cropped scan shows the same concentrations as a
whole-body one.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
from scipy import integrate, optimize

from nenscope.knowledge.radionuclides import half_life_s
from nenscope.simulation._data import load

__all__ = ["RemainderRegion", "WholeBodyRetention", "remainder_regions", "whole_body_retention"]

LN2 = math.log(2.0)
#: integration horizon of the remainder curve (h): > 30 physical half-lives of 177Lu
_T_MAX_H = 6000.0


@dataclass(frozen=True)
class WholeBodyRetention:
    """Decay-corrected whole-body retention R(t) = f·2^(−t/T_slow) + (1 − f)·2^(−t/T_fast).

    Fitted exactly through the cited cumulative urinary excretion (R = 1 − excreted);
    half-lives are biological (physical decay is applied separately).
    """

    slow_fraction: float
    slow_half_life_h: float
    fast_half_life_h: float
    citation: str

    def fraction(self, t_h: float | np.ndarray) -> np.ndarray:
        """R(t): fraction of the injected activity retained, decay-corrected."""
        t = np.asarray(t_h, dtype=float)
        f = self.slow_fraction
        return f * np.exp(-LN2 * t / self.slow_half_life_h) + (1.0 - f) * np.exp(
            -LN2 * t / self.fast_half_life_h
        )


@functools.cache
def whole_body_retention() -> WholeBodyRetention:
    """The bi-exponential through the cited excretion points of ``[whole_body]``."""
    row = load("kinetics_lu177")["whole_body"]
    t = np.asarray(row["time_h"], dtype=float)
    r = 1.0 - np.asarray(row["cumulative_urinary_excretion"], dtype=float)

    def resid(x: np.ndarray) -> np.ndarray:
        w = WholeBodyRetention(1.0 / (1.0 + math.exp(-x[0])), math.exp(x[1]), math.exp(x[2]), "")
        return w.fraction(t) - r

    x = optimize.least_squares(resid, [0.0, math.log(90.0), math.log(2.0)], xtol=1e-14).x
    return WholeBodyRetention(
        1.0 / (1.0 + math.exp(-x[0])), math.exp(x[1]), math.exp(x[2]), row["citation"]
    )


@dataclass(frozen=True)
class RemainderRegion:
    """A remainder tissue: c(t) = suv0·A/W·shape(t), shape(t) the remainder's SUV curve.

    ``suv0`` is the region's concentration relative to the remainder mean (its weight);
    ``shape(t)`` the remainder mean SUV (activity per patient mass, relative to A/W).
    """

    name: str
    suv0: float
    citation: str
    times_h: tuple[float, ...]
    suv_curve: tuple[float, ...]
    integral_suv_h: float
    percent_ia: None = None

    def shape(self, t_h: float | np.ndarray) -> np.ndarray:
        """Remainder mean SUV at ``t_h`` (interpolated on a dense log-spaced grid)."""
        return np.interp(np.asarray(t_h, dtype=float), self.times_h, self.suv_curve, right=0.0)

    def integral_h(self) -> float:
        """∫0^∞ shape(t) dt in hours."""
        return self.integral_suv_h

    def describe(self) -> dict:
        """The kinetics entry of the truth manifest."""
        return {
            "model": "whole-body retention minus the named regions, per remainder mass",
            "relative_concentration": self.suv0,
            "citation": self.citation,
        }


def _named_fraction(regions: dict, volumes_ml: dict[str, float], weight_g: float, t_h):
    """Σ of the named regions' activity over the whole patient, fraction of injected."""
    total = np.zeros_like(np.asarray(t_h, dtype=float))
    for name, reg in regions.items():
        if reg.percent_ia is not None:
            total = total + reg.percent_ia / 100.0 * reg.shape(t_h)
        else:
            total = total + reg.suv0 * reg.shape(t_h) * volumes_ml.get(name, 0.0) / weight_g
    return total


def remainder_regions(
    named: dict, volumes_ml: dict[str, float], weight_kg: float
) -> dict[str, RemainderRegion]:
    """The remainder regions of ``[remainder]`` for one patient.

    Args:
        named: the named kinetic regions (``activity.lu177_regions()``).
        volumes_ml: region → volume (ml) in the full phantom of this patient (every region,
            named and remainder).
        weight_kg: patient weight (mass outside the phantom = weight − phantom volume).
    """
    data = load("kinetics_lu177")
    rem = data["remainder"]
    weight_g = weight_kg * 1000.0
    lam = LN2 / (half_life_s("Lu-177") / 3600.0)
    wbr = whole_body_retention()
    outside_ml = max(weight_g - sum(volumes_ml.values()), 0.0)
    m_eff = sum(w * volumes_ml.get(r, 0.0) for r, w in rem["relative_concentration"].items())
    m_eff += outside_ml * rem["relative_concentration"]["soft_tissue"]
    t = np.concatenate([[0.0], np.geomspace(0.01, _T_MAX_H, 4000)])
    left = np.exp(-lam * t) * wbr.fraction(t) - _named_fraction(named, volumes_ml, weight_g, t)
    suv = np.clip(left, 0.0, None) * weight_g / m_eff
    integral = integrate.trapezoid(suv, t)
    cite = f"{rem['citation']}; retention: {wbr.citation}"
    return {
        r: RemainderRegion(r, float(w), cite, tuple(t), tuple(suv), float(integral))
        for r, w in rem["relative_concentration"].items()
    }
