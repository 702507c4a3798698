"""Attenuation physics of the emission simulator: CT numbers to linear attenuation coefficients.

Facts come from ``data/physics.toml`` (NIST XCOM, cited per row). Radionuclide facts (positron
range and its blurring kernel, beta+ yield, DICOM codes) live in
:mod:`nenscope.knowledge.radionuclides`.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from nenscope.simulation._data import load

__all__ = ["hu_to_mu_per_mm"]


@lru_cache(maxsize=32)
def _mu_coefficients(energy_kev: float) -> tuple[float, float, float]:
    att = load("physics")["attenuation"]
    e = np.log(att["energy_kev"])
    le = np.log(energy_kev)
    mu_w = float(np.exp(np.interp(le, e, np.log(att["water_cm2_per_g"])))) / 10.0  # 1/mm
    mu_b = float(np.exp(np.interp(le, e, np.log(att["cortical_bone_cm2_per_g"]))))
    mu_b *= att["cortical_bone_density_g_per_ml"] / 10.0
    return mu_w, mu_b, float(att["cortical_bone_hu"])


def hu_to_mu_per_mm(hu: np.ndarray, energy_kev: float) -> np.ndarray:
    """Linear attenuation coefficient (1/mm) from CT numbers by bilinear scaling.

    Below 0 HU the voxel is a water-air mix, above 0 HU a water-bone mix anchored at
    cortical bone (Kinahan PE et al., Med Phys 1998;25:2046); coefficients from NIST XCOM.
    """
    mu_w, mu_b, hu_b = _mu_coefficients(float(energy_kev))
    hu = np.asarray(hu, dtype=np.float32)
    low = mu_w * (1.0 + np.maximum(hu, -1000.0) / 1000.0)
    high = mu_w + hu * ((mu_b - mu_w) / hu_b)
    return np.where(hu <= 0, low, high).astype(np.float32)
