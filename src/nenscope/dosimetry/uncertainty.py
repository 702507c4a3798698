"""Uncertainty of TIA, absorbed dose and BED per region (EANM guidance, Gear et al. 2018).

The law of propagation of uncertainty (GUM) through the dosimetry chain (Gear JI et al., Eur J
Nucl Med Mol Imaging 2018;45:2456-2474), 1 SD, relative quantities written u_x = u(x)/x:

* calibration factor Q (u_Q): the same for every time point and region, fully correlated;
* recovery: the partial-volume correction (GTM with the PSF, :mod:`nenscope.dosimetry.pvc`)
  depends on the PSF's FWHM, known to u_F; the activity's relative SD from it is
  u_rec = |d ln RC / d ln FWHM| · u_F, RC the region's own recovery (its mask blurred by the
  PSF, averaged over the mask); 0 without a correction;
* TIA from the curve fit: its covariance (delta method, :mod:`nenscope.dosimetry.kinetics`)
  carries the count noise of the time points; the systematic terms add in quadrature:
  u_TIA² = (σ_fit/TIA)² + u_Q² + u_rec²;
* volume V of the delineation: the boundary lies anywhere within one voxel (uniform, SD
  voxel/√12), so u(V) = surface × voxel/√12 (surface by marching cubes). The dose moves with
  it through the mass, d ln D/d ln V = −1 (the GTM recovers the region's activity whatever its
  outline; with a recovery coefficient looked up from the volume, as in Gear 2018, the
  sensitivity is −(1 + d ln RC/d ln V), which ``dose_sensitivity`` can carry);
* absorbed dose D = D_self + D_cross: u(D)² = (D·u_Q)² + D_self²[(σ_fit/TIA)² + u_rec² +
  (s_V·u_V)² + u_S²] + (D_cross·u_cross)², S-value u_S, cross-dose u_cross;
* BED = D + G·D²/(α/β): u(BED) = (1 + 2G·D/(α/β))·u(D) (radiobiological parameters exact).

Defaults (calibration 5 %, FWHM 10 %) are in ``data/uncertainty.toml``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage
from skimage.measure import marching_cubes, mesh_surface_area

from nenscope.dosimetry._data import load_toml
from nenscope.errors import NenscopeError
from nenscope.imaging.geometry import fwhm_to_sigma


@dataclass(frozen=True)
class VolumeTerms:
    """Delineation terms of one region: volume (ml) and its SD (ml), the dose's sensitivity to
    the volume (d ln D / d ln V, −1: the mass) and the activity's relative SD from the
    recovery correction (0 without one)."""

    volume_ml: float
    volume_std_ml: float
    dose_sensitivity: float = -1.0
    recovery_rel: float = 0.0


@dataclass(frozen=True)
class RegionUncertainty:
    """1-SD uncertainties of one region and the dose budget.

    budget: term → its relative SD contribution to the dose (fraction); the terms add in
    quadrature to ``dose_std_gy / dose_gy``.
    """

    tia_std_mbq_h: float
    dose_std_gy: float
    bed_std_gy: float
    budget: dict[str, float] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        """JSON block (keys with units; budget as relative SDs)."""
        return {
            "tia_std_mbq_h": self.tia_std_mbq_h,
            "dose_std_gy": self.dose_std_gy,
            "bed_std_gy": self.bed_std_gy,
            "dose_budget_relative": dict(self.budget),
            "notes": list(self.notes),
        }


def default_calibration_rel() -> float:
    """Relative SD of the calibration factor from ``data/uncertainty.toml``."""
    return float(load_toml("uncertainty.toml")["calibration"]["relative"])


def _recovery(mask: NDArray[np.bool_], sigma_vox: Sequence[float]) -> float:
    """Mean over ``mask`` of the mask blurred by the PSF (its own recovery, spill-out only)."""
    pad = [int(math.ceil(3 * s)) + 1 for s in sigma_vox]
    idx = np.nonzero(mask)
    sl = tuple(
        slice(max(int(i.min()) - p, 0), int(i.max()) + p + 1) for i, p in zip(idx, pad, strict=True)
    )
    sub = mask[sl].astype(np.float32)
    sub = np.pad(sub, [(p, p) for p in pad])
    blurred = ndimage.gaussian_filter(sub, sigma_vox, mode="constant")
    return float(blurred[sub > 0].mean(dtype=np.float64))


def volume_terms(
    mask: NDArray[np.bool_],
    spacing_mm: Sequence[float],
    *,
    psf_fwhm_mm: float | None = None,
    boundary_voxels: float | None = None,
    fwhm_rel: float | None = None,
) -> VolumeTerms:
    """Volume, its SD and the recovery term of a delineated region.

    Args:
        mask: the region's voxels.
        spacing_mm: voxel size per axis (mm).
        psf_fwhm_mm: PSF of the partial-volume correction (None: no correction, no term).
        boundary_voxels: boundary uncertainty in voxels (default ``data/uncertainty.toml``).
        fwhm_rel: relative SD of the PSF's FWHM (default ``data/uncertainty.toml``).
    """
    m = np.asarray(mask, dtype=bool)
    if not m.any():
        raise NenscopeError("cannot estimate the volume uncertainty of an empty mask")
    data = load_toml("uncertainty.toml")
    b = float(boundary_voxels or data["boundary"]["voxels"])
    verts, faces, _, _ = marching_cubes(
        np.pad(m, 1).astype(np.float32), 0.5, spacing=tuple(float(s) for s in spacing_mm)
    )
    voxel_mm = float(np.prod(spacing_mm)) ** (1.0 / 3.0)
    u_v = mesh_surface_area(verts, faces) * voxel_mm * b / math.sqrt(12.0) / 1000.0
    v = float(m.sum()) * float(np.prod(spacing_mm)) / 1000.0
    rec = 0.0
    if psf_fwhm_mm:
        u_f = float(fwhm_rel if fwhm_rel is not None else data["psf"]["fwhm_relative"])
        lo, hi = (
            _recovery(m, fwhm_to_sigma(psf_fwhm_mm * f, spacing_mm, exact=True))
            for f in (0.95, 1.05)
        )
        rec = abs(math.log(hi / lo) / math.log(1.05 / 0.95)) * u_f
    return VolumeTerms(v, u_v, -1.0, rec)


def propagate(
    *,
    tia_mbq_h: float,
    tia_fit_std_mbq_h: float,
    dose_gy: float,
    self_gy: float | None = None,
    bed_gy: float | None = None,
    alpha_beta_gy: float = 2.6,
    volume: VolumeTerms | None = None,
    calibration_rel: float | None = None,
    s_value_rel: float = 0.0,
    cross_rel: float = 0.0,
) -> RegionUncertainty:
    """Propagate the terms of one region to its TIA, dose and BED (see the module docstring).

    Args:
        tia_mbq_h, tia_fit_std_mbq_h: TIA and its 1 SD from the fit covariance (NaN: none).
        dose_gy: total dose; self_gy: its self part (default all of it).
        bed_gy, alpha_beta_gy: BED and α/β (G from them) for the BED's SD.
        volume: delineation terms (None: the volume's and recovery's uncertainty unknown,
            noted).
        calibration_rel: u_Q (default ``data/uncertainty.toml``).
        s_value_rel: u_S of the self S-value; cross_rel: relative SD of the cross-dose.
    """
    u_q = default_calibration_rel() if calibration_rel is None else float(calibration_rel)
    notes = []
    fit_rel = tia_fit_std_mbq_h / tia_mbq_h if tia_mbq_h > 0 else 0.0
    if not math.isfinite(fit_rel):
        fit_rel = 0.0
        notes.append("fit left no degree of freedom: curve-fit term not estimated")
    if volume is None:
        u_v, sens, rec = 0.0, 0.0, 0.0
        notes.append("no delineation: volume and recovery terms not estimated")
    else:
        u_v = volume.volume_std_ml / volume.volume_ml
        sens, rec = volume.dose_sensitivity, volume.recovery_rel
    tia_rel = math.sqrt(fit_rel**2 + u_q**2 + rec**2)
    d_self = dose_gy if self_gy is None else float(self_gy)
    f_self = d_self / dose_gy if dose_gy > 0 else 1.0
    budget = {
        "calibration": u_q,
        "curve_fit": f_self * fit_rel,
        "recovery": f_self * rec,
        "volume": f_self * abs(sens) * u_v,
        "s_value": f_self * s_value_rel,
        "cross_dose": (1.0 - f_self) * cross_rel,
    }
    dose_rel = math.sqrt(sum(v * v for v in budget.values()))
    dose_std = dose_gy * dose_rel
    bed_std = float("nan")
    if bed_gy is not None and dose_gy > 0:
        g = (bed_gy - dose_gy) * alpha_beta_gy / (dose_gy * dose_gy)
        bed_std = (1.0 + 2.0 * g * dose_gy / alpha_beta_gy) * dose_std
    return RegionUncertainty(tia_mbq_h * tia_rel, dose_std, bed_std, budget, tuple(notes))
