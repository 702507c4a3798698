"""Unit-density sphere model for tumours (mean absorbed dose of a uniformly filled sphere).

The absorbed fractions are **computed from the shipped 177Lu voxel S-value kernel**, not taken
from a published table: the kernel gives the energy ``E(r) ∝ K(r)·V_voxel`` deposited at
distance r from a decay, and for a uniform source in a sphere of radius R the fraction of the
energy released at distance r that lands inside the sphere, averaged over the sphere, is the
geometric reciprocity factor (Berger MJ, MIRD Pamphlet No. 7, J Nucl Med 1971;12 Suppl 5:5-23)

    f(r; R) = 1 − 3r/(4R) + r³/(16R³)   for r ≤ 2R, 0 beyond.

So the mean dose per decay is S(R) = Σ_voxels K(r)·V_voxel·f(r; R) / V_sphere, in
mGy/(MBq·s). Unit density: the mass in g equals the volume in ml. The kernel's first shell
sits at 4.8 mm, so for spheres below ~1 ml (R < 6 mm) the electron escape is
under-resolved; the model is meant for tumours of a few ml and more.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from nenscope.dosimetry.kernel import lu177_kernel
from nenscope.errors import NenscopeError


@functools.cache
def _energy_by_distance() -> tuple[np.ndarray, np.ndarray]:
    """Distances (mm) of the kernel voxels and their K·V (mGy·ml/(MBq·s))."""
    k, s = lu177_kernel()
    half = (np.asarray(k.shape) - 1) // 2
    g = np.meshgrid(*[np.arange(-h, h + 1) * s for h in half], indexing="ij")
    r = np.sqrt(g[0] ** 2 + g[1] ** 2 + g[2] ** 2).ravel()
    e = k.astype(np.float64).ravel() * s**3 / 1000.0
    return r, e


def sphere_s_value(mass_g: float) -> float:
    """Mean self-dose S-value (mGy/(MBq·s)) of a unit-density sphere of ``mass_g`` grams."""
    if not mass_g > 0:
        raise NenscopeError(f"sphere mass must be > 0 g, got {mass_g}")
    volume_ml = float(mass_g)
    radius_mm = (3.0 * volume_ml * 1000.0 / (4.0 * math.pi)) ** (1.0 / 3.0)
    r, e = _energy_by_distance()
    x = r / radius_mm
    f = np.where(x <= 2.0, 1.0 - 0.75 * x + x**3 / 16.0, 0.0)
    return float(np.sum(e * f) / volume_ml)


def sphere_dose_gy(tia_mbq_h: float, mass_g: float) -> float:
    """Mean absorbed dose (Gy) of a unit-density sphere holding ``tia_mbq_h`` MBq·h."""
    return float(tia_mbq_h * 3600.0 * sphere_s_value(mass_g) / 1000.0)
