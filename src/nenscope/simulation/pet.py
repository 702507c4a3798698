"""PET scanner model and OSEM reconstruction (PETSTEP-like; Berthon et al., PMB 2015;60:N177).

Chain: activity (Bq/mL) → positron-range blur (by isotope) → system PSF (Gaussian FWHM) →
per-slice parallel-beam projection with attenuation (μ at 511 keV from CT) → expected trues
(sensitivity × β+ yield × minutes per bed) + scatter (smooth, scatter fraction) + randoms
(flat, randoms fraction) → Poisson counts → OSEM with subsets (attenuation, scatter and
randoms in the model, optional PSF) → Gaussian post-filter. Units stay Bq/mL throughout.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

import numpy as np
from scipy import ndimage, signal

from nenscope.errors import NenscopeError
from nenscope.imaging.geometry import SIGMA_PER_FWHM
from nenscope.knowledge.radionuclides import (
    beta_plus_yield,
    positron_range_kernel,
    positron_range_mean_mm,
)
from nenscope.simulation._data import load
from nenscope.simulation.projector import ParallelProjector, get_projector

__all__ = [
    "PetScanner",
    "get_pet_scanner",
    "counts_per_bqml_voxel",
    "object_support",
    "osem_pet",
    "simulate_pet",
]

_POOL = ThreadPoolExecutor(max_workers=2)


@dataclass(frozen=True)
class PetScanner:
    """PET scanner parameters (see ``data/scanners.toml`` for values and sources)."""

    name: str
    fwhm_mm: float
    sensitivity_cps_per_kbq: float
    sensitivity_line_source_mm: float
    axial_fov_mm: float
    bed_overlap: float
    scatter_fraction: float
    randoms_fraction: float
    n_angles: int
    iterations: int
    subsets: int
    postfilter_fwhm_mm: float
    psf: bool
    description: str = ""
    citation: str = ""


def get_pet_scanner(name: str = "earl", **overrides) -> PetScanner:
    """Scanner ``name`` from ``data/scanners.toml`` (earl, digital), with field overrides."""
    table = load("scanners")["pet"]
    if name not in table:
        raise NenscopeError(f"unknown PET scanner model {name!r}; choose one of {', '.join(table)}")
    scanner = PetScanner(name=name, **table[name])
    clean = {k: v for k, v in overrides.items() if v is not None}
    return replace(scanner, **clean) if clean else scanner


def _matmul(m, x: np.ndarray) -> np.ndarray:
    """Sparse × dense split over two threads by columns (SciPy releases the GIL)."""
    n = x.shape[1]
    if n < 16:
        return m @ x
    h = n // 2
    a, b = _POOL.map(lambda sl: m @ np.ascontiguousarray(x[:, sl]), (slice(0, h), slice(h, n)))
    return np.concatenate([a, b], axis=1)


def _blur(volume: np.ndarray, fwhm_mm: float, voxel_mm: float) -> np.ndarray:
    if fwhm_mm <= 0:
        return volume
    return ndimage.gaussian_filter(volume, fwhm_mm * SIGMA_PER_FWHM / voxel_mm, mode="constant")


def resolution_blur(
    activity: np.ndarray, voxel_mm: float, nuclide: str, fwhm_mm: float
) -> np.ndarray:
    """Positron range (isotope kernel, FFT convolution) followed by the Gaussian system PSF."""
    kernel = positron_range_kernel(positron_range_mean_mm(nuclide), float(voxel_mm))
    out = activity.astype(np.float32, copy=False)
    if kernel.size > 1:
        out = signal.oaconvolve(out, kernel, mode="same").astype(np.float32)
        np.maximum(out, 0, out=out)
    return _blur(out, fwhm_mm, voxel_mm).astype(np.float32)


def object_support(mu_per_mm: np.ndarray, margin_px: float = 3.0) -> tuple[float, float] | None:
    """Semi-axes (rows, columns; pixels, rounded up to whole pixels so the projector cache
    hits) of a centred ellipse holding every voxel with μ > 0 in any slice, plus a margin."""
    body = (mu_per_mm > 0).any(axis=0)
    if not body.any():
        return None
    ny, nx = body.shape
    yy, xx = np.nonzero(body)
    y = np.abs(yy - (ny - 1) / 2.0) + 0.5
    x = np.abs(xx - (nx - 1) / 2.0) + 0.5
    ry, rx = y.max(), x.max()
    scale = float(np.sqrt((y / ry) ** 2 + (x / rx) ** 2).max())
    return (float(np.ceil(ry * scale + margin_px)), float(np.ceil(rx * scale + margin_px)))


def counts_per_bqml_voxel(
    scanner: PetScanner, nuclide: str, minutes_per_bed: float, voxel_mm: float
) -> float:
    """Expected unattenuated true counts from one voxel at 1 Bq/mL over a whole-body scan.

    NEMA NU 2 sensitivity S is the count rate per Bq of a 700 mm line source, so the axial
    integral of the sensitivity profile is S·700 mm; beds advance by FOV·(1 − overlap), so a
    slice collects on average S·700/(FOV·(1 − overlap)) counts per Bq per second of bed time.
    S is quoted for 18F: scaled by the nuclide's β+ yield.
    """
    step_mm = scanner.axial_fov_mm * (1.0 - scanner.bed_overlap)
    cps_per_bq = (
        scanner.sensitivity_cps_per_kbq / 1000.0 * scanner.sensitivity_line_source_mm / step_mm
    )
    cps_per_bq *= beta_plus_yield(nuclide) / beta_plus_yield("F-18")
    return cps_per_bq * minutes_per_bed * 60.0 * voxel_mm**3 / 1000.0


def _attenuation_factors(proj: ParallelProjector, mu_per_mm: np.ndarray) -> np.ndarray:
    line = _matmul(proj.matrix, proj.to_fov(mu_per_mm)) * proj.line_integral_scale()
    return np.exp(-line).astype(np.float32)


def osem_pet(
    prompts: np.ndarray,
    weights: np.ndarray,
    additive: np.ndarray,
    proj: ParallelProjector,
    iterations: int,
    *,
    psf_sigma_vox: float = 0.0,
    shape_zyx=None,
    progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """Ordered-subsets EM (Hudson & Larkin, IEEE TMI 1994;13:601) for all slices at once.

    Model: E[prompts] = weights · (A x) + additive, with ``weights`` the per-bin
    attenuation × count scale and A the projector (optionally after a Gaussian PSF in image
    space, ``psf_sigma_vox``). Returns x as (n_fov_pixels, nz).
    """
    nz = prompts.shape[1]
    n_sub = proj.n_subsets

    def psf(x):
        if psf_sigma_vox <= 0:
            return x
        vol = proj.from_fov(x)
        return proj.to_fov(ndimage.gaussian_filter(vol, psf_sigma_vox, mode="constant"))

    sens = []
    for s in range(n_sub):
        r0, r1 = proj.subset_rows[s]
        sens.append(np.maximum(psf(_matmul(proj.subset_transposes[s], weights[r0:r1])), 1e-12))
    x = np.ones((proj.fov_index.size, nz), dtype=np.float32)
    total = float(prompts.sum() - additive.sum())
    # start from a flat image with the right total (speeds up early iterations)
    fp = _matmul(proj.matrix, x) * weights
    x *= max(total, 1.0) / max(float(fp.sum()), 1e-12)
    step = 0
    for _it in range(iterations):
        for s in range(n_sub):
            r0, r1 = proj.subset_rows[s]
            expected = _matmul(proj.subset_matrices[s], psf(x)) * weights[r0:r1] + additive[r0:r1]
            ratio = np.divide(
                prompts[r0:r1], expected, out=np.zeros_like(expected), where=expected > 0
            )
            x *= psf(_matmul(proj.subset_transposes[s], ratio * weights[r0:r1])) / sens[s]
            step += 1
            if progress:
                progress(step, iterations * n_sub)
    return x


def simulate_pet(
    activity_bqml: np.ndarray,
    mu_per_mm: np.ndarray,
    voxel_mm: float,
    nuclide: str,
    scanner: PetScanner,
    minutes_per_bed: float,
    rng: np.random.Generator,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[np.ndarray, dict]:
    """Simulate one PET acquisition and reconstruct it.

    Args:
        activity_bqml: true activity concentration at scan start (nz, N, N), Bq/mL.
        mu_per_mm: attenuation at 511 keV (1/mm), same grid (from the CT).
        voxel_mm: isotropic voxel size (mm); N must be the square transaxial size.
        nuclide: e.g. "Ga-68" (positron range, β+ yield).
        minutes_per_bed: acquisition time per bed position (the overlap doubles coverage,
            so every slice is seen for about this long at the average sensitivity).

    Returns:
        (reconstruction in Bq/mL decay-corrected to scan start, acquisition statistics).
    """
    nz, ny, nx = activity_bqml.shape
    if ny != nx:
        raise NenscopeError("the PET simulator needs a square transaxial matrix")
    if minutes_per_bed <= 0:
        raise NenscopeError("minutes per bed must be positive")
    proj = get_projector(
        nx, float(voxel_mm), scanner.n_angles, scanner.subsets, object_support(mu_per_mm)
    )
    blurred = resolution_blur(activity_bqml, voxel_mm, nuclide, scanner.fwhm_mm)
    x_true = proj.to_fov(blurred)
    att = _attenuation_factors(proj, mu_per_mm)
    scale = counts_per_bqml_voxel(scanner, nuclide, minutes_per_bed, voxel_mm)
    weights = att * np.float32(scale)
    trues = _matmul(proj.matrix, x_true) * weights
    # scatter: trues blurred broadly along the radial axis (σ 60 mm), scaled per slice
    sino = trues.reshape(proj.n_angles, proj.n_bins, nz)
    scat = ndimage.gaussian_filter1d(sino, 60.0 / voxel_mm, axis=1, mode="constant")
    t_slice = trues.sum(axis=0)
    sf = scanner.scatter_fraction
    scat *= (sf / (1.0 - sf) * t_slice / np.maximum(scat.reshape(-1, nz).sum(axis=0), 1e-12))[
        None, None, :
    ]
    scatter = scat.reshape(-1, nz).astype(np.float32)
    rf = scanner.randoms_fraction
    randoms_slice = rf / (1.0 - rf) * (t_slice + scatter.sum(axis=0))
    randoms = np.broadcast_to(randoms_slice[None, :] / proj.n_rows, trues.shape).astype(np.float32)
    additive = scatter + randoms
    prompts = rng.poisson(trues + additive).astype(np.float32)
    psf_sigma = scanner.fwhm_mm * SIGMA_PER_FWHM / voxel_mm if scanner.psf else 0.0
    x = osem_pet(
        prompts,
        weights,
        additive,
        proj,
        scanner.iterations,
        psf_sigma_vox=psf_sigma,
        progress=progress,
    )
    image = proj.from_fov(x)
    image = _blur(image, scanner.postfilter_fwhm_mm, voxel_mm).astype(np.float32)
    stats = {
        "prompts": float(prompts.sum()),
        "trues": float(trues.sum()),
        "scatter": float(scatter.sum()),
        "randoms": float(randoms.sum()),
        "n_angles": proj.n_angles,
        "n_bins": proj.n_bins,
    }
    return image, stats
