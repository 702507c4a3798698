"""Local intensity (IBSI-1 3.2), intensity statistics (3.3), intensity histogram (3.4) and
intensity-volume histogram (3.5) features."""

from __future__ import annotations

import numpy as np
from scipy import signal

from nenscope.radiomics._kernels import MOMENT_FEATURES, sorted_moments
from nenscope.radiomics.processing import discretise


def local_intensity_features(
    image: np.ndarray, int_mask: np.ndarray, spacing_mm, volume_cm3: float = 1.0
) -> dict[str, float]:
    """Local and global intensity peak: mean intensity in a sphere of ``volume_cm3`` (1 cm³,
    radius 6.20 mm) around the ROI maximum (local) and the largest such mean in the ROI
    (global). Voxels whose centres lie in the sphere count, inside or outside the ROI; the
    sphere mean is one FFT convolution (divided by the in-image count at the image edge)."""
    spacing = np.asarray(spacing_mm, dtype=float)
    radius = (3.0 * volume_cm3 * 1000.0 / (4.0 * np.pi)) ** (1 / 3)
    half = np.floor(radius / spacing).astype(int)
    grids = np.meshgrid(
        *[np.arange(-h, h + 1) * s for h, s in zip(half, spacing, strict=True)], indexing="ij"
    )
    kernel = (sum(g**2 for g in grids) <= radius**2 + 1e-9).astype(np.float64)
    total = signal.fftconvolve(image, kernel, mode="same")
    count = signal.fftconvolve(np.ones_like(image), kernel, mode="same")
    local_mean = total / np.maximum(np.rint(count), 1)
    vals = image[int_mask]
    means = local_mean[int_mask]
    return {
        "loc_peak_loc": float(means[vals == vals.max()].max()),
        "loc_peak_glob": float(means.max()),
    }


def _moments(x: np.ndarray, presorted: bool = False) -> dict[str, float]:
    """Moments, percentiles and deviations of ``x``: one sort serves every percentile and the
    median, the rest is one compiled two-pass loop (``_kernels.sorted_moments``; a dozen
    NumPy reductions otherwise, each a call's overhead for a few thousand values)."""
    xs = x if presorted else np.sort(x)
    vals = sorted_moments(np.ascontiguousarray(xs, dtype=np.float64))
    return dict(zip(MOMENT_FEATURES, vals.tolist(), strict=True))


def statistics_features(values: np.ndarray, presorted: bool = False) -> dict[str, float]:
    """``stat_*`` features of the ROI intensities (re-segmented, not discretised)."""
    x = values.astype(np.float64)
    out = {f"stat_{k}": v for k, v in _moments(x, presorted).items()}
    out["stat_energy"] = float(np.sum(x**2))
    out["stat_rms"] = float(np.sqrt(np.mean(x**2)))
    return out


def histogram_features(levels: np.ndarray, ng: int, presorted: bool = False) -> dict[str, float]:
    """``ih_*`` features of the discretised grey levels 1..Ng."""
    g = levels.astype(np.float64)
    out = {f"ih_{k}": v for k, v in _moments(g, presorted).items()}
    h = np.bincount(levels.astype(np.int64) - 1, minlength=ng).astype(np.float64)
    p = h / h.sum()
    out["ih_mode"] = float(np.argmax(h) + 1)
    nz = p[p > 0]
    out["ih_entropy"] = float(-(nz * np.log2(nz)).sum())
    out["ih_uniformity"] = float((p**2).sum())
    if ng > 1:
        grad = np.gradient(h)  # central differences inside, one-sided at the ends (IBSI 3.4.21)
    else:
        grad = np.zeros(1)
    out["ih_max_grad"] = float(grad.max())
    out["ih_max_grad_g"] = float(np.argmax(grad) + 1)
    out["ih_min_grad"] = float(grad.min())
    out["ih_min_grad_g"] = float(np.argmin(grad) + 1)
    return out


def ivh_features(
    values: np.ndarray,
    method: str,
    *,
    bin_number: int = 1000,
    bin_width: float = 0.1,
    value_range: tuple[float, float] | None = None,
) -> dict[str, float]:
    """``ivh_*`` features (IBSI 3.5).

    Intensities are first discretised for the IVH (``none``: integer intensities themselves;
    ``fbs``: bins of ``bin_width`` from the lower range bound, represented by bin centres;
    ``fbn``: ``bin_number`` bins, represented by the bin index). ν(i) is the fraction of the
    volume with intensity ≥ i and γ(i) the intensity fraction (i - i_min)/(i_max - i_min).
    """
    x = values.astype(np.float64)
    lo, hi = value_range if value_range is not None else (x.min(), x.max())
    if method == "none":
        lo, hi = np.floor(min(lo, x.min())), np.ceil(max(hi, x.max()))
        levels = np.arange(lo, hi + 1)
        idx = np.rint(x - lo).astype(np.int64)
    elif method == "fbs":
        n_bins = int(np.ceil((hi - lo) / bin_width)) + 1
        idx = np.clip(np.floor((x - lo) / bin_width).astype(np.int64), 0, n_bins - 1)
        levels = lo + (np.arange(n_bins) + 0.5) * bin_width
    else:
        q, n_bins = discretise(x, "fbn", bin_number=bin_number)
        idx = q - 1
        levels = np.arange(1, n_bins + 1, dtype=np.float64)
    counts = np.bincount(idx, minlength=levels.size).astype(np.float64)
    nu = 1.0 - np.concatenate([[0.0], np.cumsum(counts)[:-1]]) / x.size
    span = levels[-1] - levels[0]
    gamma = (levels - levels[0]) / span if span > 0 else np.zeros_like(levels)

    def v_at(frac):
        sel = gamma >= frac
        return float(nu[sel].max()) if sel.any() else 0.0

    def i_at(frac):
        sel = nu <= frac
        return (
            float(levels[sel].min())
            if sel.any()
            else float(levels[-1] + (levels[1] - levels[0] if levels.size > 1 else 1))
        )

    v10, v90, i10, i90 = v_at(0.1), v_at(0.9), i_at(0.1), i_at(0.9)
    return {
        "ivh_v10": v10,
        "ivh_v90": v90,
        "ivh_i10": i10,
        "ivh_i90": i90,
        "ivh_diff_v10_v90": v10 - v90,
        "ivh_diff_i10_i90": i10 - i90,
        "ivh_auc": float(np.trapezoid(nu, gamma)) if levels.size > 1 else 0.0,
    }
