"""Cumulative dose-volume histograms and their usual summary points (D2, D50, D98, V_x)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nenscope.errors import NenscopeError


@dataclass(frozen=True)
class DVH:
    """Cumulative DVH of one region.

    dose_gy: bin edges (Gy, ascending, from 0); volume_fraction: fraction of the region's
    voxels receiving at least that dose; volume_ml: region volume; mean_gy/min_gy/max_gy;
    d2_gy, d50_gy, d98_gy: near-maximum, median and near-minimum dose (ICRU Report 83).
    """

    region: str
    dose_gy: np.ndarray
    volume_fraction: np.ndarray
    volume_ml: float
    mean_gy: float
    min_gy: float
    max_gy: float
    d2_gy: float
    d50_gy: float
    d98_gy: float

    def v_gy(self, threshold_gy: float) -> float:
        """Fraction of the volume receiving at least ``threshold_gy`` (V_x)."""
        return float(np.interp(threshold_gy, self.dose_gy, self.volume_fraction, right=0.0))


def dvh(
    region: str,
    dose_gy: np.ndarray,
    mask: np.ndarray,
    spacing_mm: tuple[float, float, float],
    *,
    n_bins: int = 200,
    max_dose_gy: float | None = None,
) -> DVH:
    """Cumulative DVH of ``dose_gy`` inside ``mask`` (one sort of the region's voxels)."""
    m = np.asarray(mask, dtype=bool)
    if m.shape != dose_gy.shape:
        raise NenscopeError(f"mask {m.shape} and dose map {dose_gy.shape} differ in shape")
    vals = np.sort(dose_gy[m].astype(np.float64))
    if vals.size == 0:
        raise NenscopeError(f"region {region!r} is empty on the dose grid")
    top = max_dose_gy if max_dose_gy else float(vals[-1]) * 1.0001 + 1e-12
    edges = np.linspace(0.0, top, n_bins + 1)
    # fraction with dose >= edge, from the sorted values
    frac = 1.0 - np.searchsorted(vals, edges, side="left") / vals.size
    q = np.quantile(vals, [0.98, 0.5, 0.02])  # D2 is exceeded by 2 % of the volume
    return DVH(
        region=region,
        dose_gy=edges,
        volume_fraction=frac,
        volume_ml=float(vals.size * np.prod(spacing_mm) / 1000.0),
        mean_gy=float(vals.mean()),
        min_gy=float(vals[0]),
        max_gy=float(vals[-1]),
        d2_gy=float(q[0]),
        d50_gy=float(q[1]),
        d98_gy=float(q[2]),
    )
