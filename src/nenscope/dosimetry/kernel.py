"""The 177Lu voxel S-value (dose-point) kernel and its resampling to an image's voxel size.

The kernel shipped in ``data/`` is a 51×51×51 float32 little-endian array of voxel S-values
for 177Lu in ICRP soft tissue at 4.7952 mm voxels (Interfile header beside it), in
mGy/(MBq·s): the absorbed dose rate in a target voxel per MBq in the central source voxel.
Source: the PyTheranostics data folder (github qurit/PyTheranostics, Apache-2.0); the values
follow the MIRD voxel S-value formalism (Bolch WE et al., MIRD Pamphlet No. 17, J Nucl Med
1999;40:11S-36S).

Resampling to another voxel size (:func:`resample_kernel`) is written here because no
library does it with energy conservation: the off-centre values are interpolated
log-linearly in the distance r from the radially averaged profile (the kernel is nearly
isotropic), truncated at the inscribed radius (25 voxels), and the central voxel receives the
remainder so that the absorbed energy Σ K·V is preserved. At the kernel's own spacing the
original array is returned unchanged.
"""

from __future__ import annotations

import functools
import re

import numpy as np

from nenscope.dosimetry._data import KERNEL_FILE, KERNEL_HEADER, load_toml
from nenscope.errors import NenscopeError
from nenscope.knowledge.radionuclides import mean_energy_per_decay_mev


@functools.cache
def _lu177_kernel() -> tuple[np.ndarray, float]:
    header = KERNEL_HEADER.read_text(errors="replace")
    sizes = [int(v) for v in re.findall(r"matrix size \[\d\]\s*:=\s*(\d+)", header)]
    spacing = [
        float(v) for v in re.findall(r"scaling factor \(mm/pixel\) \[\d\]\s*:=\s*([\d.]+)", header)
    ]
    arr = np.fromfile(KERNEL_FILE, dtype="<f4").reshape(sizes[::-1])
    if len(set(spacing)) != 1:
        raise NenscopeError("the shipped kernel must be isotropic")
    arr.setflags(write=False)
    return arr, spacing[0]


def lu177_kernel() -> tuple[np.ndarray, float]:
    """The 177Lu soft-tissue voxel S-value kernel (mGy/(MBq·s), read-only) and its voxel size (mm)."""
    return _lu177_kernel()


def kernel_energy(kernel: np.ndarray, spacing_mm: tuple[float, float, float]) -> float:
    """Σ K·V in mGy·ml/(MBq·s): proportional to the absorbed energy per decay (× density)."""
    return float(np.sum(kernel, dtype=np.float64) * np.prod(spacing_mm) / 1000.0)


def resample_kernel(
    spacing_mm: tuple[float, float, float] | float,
    *,
    kernel: np.ndarray | None = None,
    kernel_spacing_mm: float | None = None,
) -> np.ndarray:
    """The voxel S-value kernel (mGy/(MBq·s)) for voxels of ``spacing_mm`` (z, y, x in mm).

    Energy is conserved (Σ K·V unchanged within the inscribed sphere); odd sizes, centre at
    the middle. Anisotropic spacings are handled (SPECT slices are often thicker).
    """
    if kernel is None:
        kernel, kernel_spacing_mm = lu177_kernel()
    assert kernel_spacing_mm is not None
    sp = np.broadcast_to(np.asarray(spacing_mm, dtype=float), (3,))
    if np.any(sp <= 0):
        raise NenscopeError(f"voxel spacing must be > 0 mm, got {tuple(sp)}")
    if np.allclose(sp, kernel_spacing_mm, rtol=1e-4):
        return np.array(kernel, dtype=np.float32)
    half = (np.asarray(kernel.shape) - 1) // 2
    r_max = float(half.min() * kernel_spacing_mm)
    # radial profile of the source kernel (mean over voxels at the same distance)
    grids = np.meshgrid(*[np.arange(-h, h + 1) for h in half], indexing="ij")
    r2 = sum(g.astype(np.int64) ** 2 for g in grids)
    inside = (r2 > 0) & (r2 * kernel_spacing_mm**2 <= r_max**2 + 1e-9)
    uniq, inv = np.unique(r2[inside], return_inverse=True)
    prof = np.bincount(inv, weights=kernel[inside].astype(np.float64)) / np.bincount(inv)
    r_prof = np.sqrt(uniq) * kernel_spacing_mm
    logk = np.log(np.clip(prof, 1e-30, None))
    energy = float(np.sum(kernel[(r2 * kernel_spacing_mm**2 <= r_max**2 + 1e-9)], dtype=np.float64))
    energy *= kernel_spacing_mm**3
    # target grid
    n = np.floor(r_max / sp + 1e-9).astype(int)
    axes = [np.arange(-k, k + 1) * s for k, s in zip(n, sp, strict=True)]
    zz, yy, xx = np.meshgrid(*axes, indexing="ij")
    r = np.sqrt(zz**2 + yy**2 + xx**2)
    out = np.exp(np.interp(r, r_prof, logk, left=logk[0]))
    out[r > r_max + 1e-9] = 0.0
    c = tuple(n)
    out[c] = 0.0
    v_new = float(np.prod(sp))
    rest = energy / v_new - out.sum()
    if rest > 0:
        out[c] = rest
    else:  # very fine grids: the interpolated tail alone exceeds the energy; rescale it
        out *= energy / v_new / out.sum()
    return out.astype(np.float32)


def local_s_value(spacing_mm: tuple[float, float, float] | float) -> float:
    """S-value (mGy/(MBq·s)) of local energy deposition in one voxel of ``spacing_mm``.

    The non-penetrating energy per decay (β⁻ + internal-conversion + Auger electrons, 0.148
    MeV from ICRP-107, :func:`nenscope.knowledge.radionuclides.mean_energy_per_decay_mev`) is
    absorbed in the source voxel, photons are neglected; soft tissue of the density of the
    voxel kernel's medium (``data/kernel.toml``). The usual local-deposition method (e.g.
    Pasciak AS et al., Front Oncol 2014;4:121; Ljungberg M et al., J Nucl Med 2016;57:151-162).
    """
    e_j = mean_energy_per_decay_mev("Lu-177")["electrons"] * 1.602176634e-13
    rho = float(load_toml("kernel.toml")["medium"]["density_g_per_ml"])
    sp = np.broadcast_to(np.asarray(spacing_mm, dtype=float), (3,))
    mass_kg = rho * float(np.prod(sp)) / 1000.0 / 1000.0
    return e_j / mass_kg * 1e6 * 1e3  # Gy/(Bq·s) → mGy/(MBq·s)
