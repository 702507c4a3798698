"""Physics of the emission simulator: positron range, attenuation, radionuclide codes.

Facts come from ``data/physics.toml`` (cited per row) and, for half-lives, from
:mod:`nenscope.knowledge.radionuclides` (ICRP-107 via radioactivedecay).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from pydicom.sr.codedict import codes

from nenscope.errors import NenscopeError
from nenscope.knowledge.radionuclides import canonical_nuclide, half_life_s
from nenscope.simulation._data import load

__all__ = [
    "beta_plus_yield",
    "half_life_s",
    "hu_to_mu_per_mm",
    "positron_range_kernel",
    "positron_range_mean_mm",
    "radionuclide_code",
]


def positron_range_mean_mm(nuclide: str) -> float:
    """Mean positron range in water in mm (Conti & Eriksson, EJNMMI Phys 2016;3:8)."""
    table = load("physics")["positron_range_mean_mm"]
    key = canonical_nuclide(nuclide)
    if key not in table:
        raise NenscopeError(f"{key} is not a positron emitter known to the PET simulator")
    return float(table[key]["value"])


def beta_plus_yield(nuclide: str) -> float:
    """Positrons per decay (ICRP-107)."""
    table = load("physics")["beta_plus_yield"]
    key = canonical_nuclide(nuclide)
    if key not in table:
        raise NenscopeError(
            f"{key} emits no positrons known to the PET simulator; use --scanner spect"
        )
    return float(table[key]["value"])


@lru_cache(maxsize=16)
def positron_range_kernel(
    mean_range_mm: float, voxel_mm: float, n_samples: int = 400_000
) -> np.ndarray:
    """Voxel-to-voxel blurring kernel of positron range (3D, sums to 1).

    The 3D emission-to-annihilation distance is modelled as exponential with the tabulated
    mean range (isotropic direction), which reproduces the cusp-and-tail shape of measured
    range profiles (Derenzo 1979; Conti & Eriksson 2016). The kernel is the histogram of
    the displacement of a point emitted uniformly inside a voxel, sampled with a fixed seed
    (so it is deterministic), on the voxel grid.
    """
    rng = np.random.default_rng(12345)
    r = rng.exponential(mean_range_mm, n_samples)
    v = rng.normal(size=(n_samples, 3))
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    p = v * r[:, None] / voxel_mm + rng.uniform(-0.5, 0.5, size=(n_samples, 3))
    half = max(1, int(np.ceil(4.0 * mean_range_mm / voxel_mm)))
    edges = np.arange(-half - 0.5, half + 1.0, 1.0)
    hist, _ = np.histogramdd(p, bins=(edges, edges, edges))
    hist /= hist.sum()
    return hist.astype(np.float32)


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


def radionuclide_code(nuclide: str):
    """SNOMED CT code of the radionuclide (DICOM CID 4020 / CID 18) as a pydicom Code."""
    key = canonical_nuclide(nuclide)
    symbol, mass = key.split("-")
    names = {
        "F": "Fluorine",
        "Ga": "Gallium",
        "Cu": "Copper",
        "In": "Indium",
        "Lu": "Lutetium",
        "I": "Iodine",
        "Zr": "Zirconium",
        "Tc": "Technetium",
        "Y": "Yttrium",
        "C": "Carbon",
    }
    name = f"_{mass}{names.get(symbol, symbol)}"
    try:
        return getattr(codes.SCT, name)
    except AttributeError as exc:
        raise NenscopeError(f"no SNOMED code known for {key}") from exc


__all__ += ["canonical_nuclide"]
