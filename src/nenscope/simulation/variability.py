"""Between-patient variation of the virtual patient (``[variability]`` of kinetics_lu177.toml).

With ``SimulationConfig(patient_variability=True)`` each seed draws, from its own random stream
(so the lesions and noise of a seed do not change), a kidney uptake factor that scales the
kidneys' SSTR uptake in every agent (the 68Ga SUV and the 177Lu percent of injected activity
alike: the same receptors), and 177Lu effective half-lives of the kidneys and the tumours that
the pre-therapy PET cannot see. The same seed gives the same patient for 68Ga-DOTATATE and
177Lu-DOTATATE, so paired studies of one virtual patient can be simulated.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from nenscope.simulation._data import load

__all__ = ["PatientVariation", "draw_variation"]

_STREAM = 19  # the variation's own random stream, beside the seed's main one


@dataclass(frozen=True)
class PatientVariation:
    """One virtual patient's departures from the reference kinetics.

    kidney_uptake_factor: multiplies the kidneys' SUV (diagnostic agents) and percent of
    injected activity (177Lu); kidney_t_eff_h, tumour_t_eff_h: 177Lu effective half-lives.
    """

    kidney_uptake_factor: float
    kidney_t_eff_h: float
    tumour_t_eff_h: float

    def to_dict(self) -> dict[str, float]:
        """JSON block of the truth manifest."""
        return {
            "kidney_uptake_factor": round(self.kidney_uptake_factor, 6),
            "kidney_t_eff_h": round(self.kidney_t_eff_h, 4),
            "tumour_t_eff_h": round(self.tumour_t_eff_h, 4),
        }


def draw_variation(seed: int) -> PatientVariation:
    """The variation of the patient of ``seed`` (log-normal uptake within 0.5-2, normal
    half-lives within ±40 % of the reference)."""
    data = load("kinetics_lu177")
    var = data["variability"]
    rng = np.random.default_rng([int(seed), _STREAM])
    cv = float(var["kidneys"]["uptake_cv"])
    sigma = math.sqrt(math.log(1.0 + cv * cv))
    # mean 1, kept within a factor of 2 of the reference
    factor = float(np.clip(rng.lognormal(-0.5 * sigma * sigma, sigma), 0.5, 2.0))
    k_ref = float(data["region"]["kidneys"]["t_eff_h"])
    t_ref = float(data["tumour"]["t_eff_h"])
    k_teff = float(
        np.clip(rng.normal(k_ref, var["kidneys"]["t_eff_sd_h"]), 0.6 * k_ref, 1.4 * k_ref)
    )
    t_teff = float(
        np.clip(rng.normal(t_ref, var["tumour"]["t_eff_sd_h"]), 0.6 * t_ref, 1.4 * t_ref)
    )
    return PatientVariation(factor, k_teff, t_teff)
