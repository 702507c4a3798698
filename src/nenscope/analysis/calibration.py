"""Scanner calibration on a NEMA NU 2 / IEC body phantom: recovery, resolution, EARL compliance.

:func:`calibrate_nema` measures a PET study of the IEC body phantom (six hot spheres of 10-37
mm in a warm background, a known sphere-to-background ratio):

1. the background is the median of the phantom body (most of it is uniform background);
2. the spheres are located from the three largest hot components (37, 28, 22 mm), matched by
   size to the phantom geometry (``data/nema_iec.toml``); a rigid fit (Kabsch) of those three
   centres places all six;
3. recovery coefficients per sphere: RCmax (the maximum voxel) and RCmean (the A50 VOI:
   voxels above the background-adapted 50 % isocontour) against the true sphere
   concentration, ratio x the background (Boellaard R et al., Eur J Nucl Med Mol Imaging
   2015;42:328-354);
4. the effective resolution: one Gaussian FWHM (and each sphere's centre) fitted by least
   squares to the voxels around all six spheres with the blurred-sphere model of
   :mod:`nenscope.analysis.pvc` (known diameters and contrast);
5. EARL1 and EARL2 compliance: every RCmax and RCmean within its limits.

The result becomes a :class:`~nenscope.analysis.scanner.ScannerProfile` (``nenscope
calibrate NEMA_STUDY --out scanner.json``), which ``nenscope analyze --scanner`` uses for the
partial-volume-corrected uptake.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

import cc3d
import numpy as np
from numpy.typing import NDArray
from scipy import ndimage
from scipy.optimize import least_squares

from nenscope.analysis._geometry import indices_to_lps, spacing_from_affine
from nenscope.analysis.pvc import blurred_sphere_profile, system_fwhm_mm
from nenscope.analysis.scanner import ScannerProfile
from nenscope.errors import NenscopeError
from nenscope.imaging.study import Study

__all__ = ["NemaCalibration", "SphereRecovery", "calibrate_nema", "iec_spheres", "earl_limits"]


@lru_cache(maxsize=1)
def _data() -> dict[str, Any]:
    text = resources.files("nenscope.analysis").joinpath("data/nema_iec.toml").read_text("utf-8")
    return tomllib.loads(text)


def iec_spheres() -> list[tuple[float, NDArray[np.float64]]]:
    """(inner diameter mm, centre mm in the phantom frame) of the six spheres, largest first."""
    rows = sorted(_data()["sphere"], key=lambda r: -float(r["diameter_mm"]))
    return [(float(r["diameter_mm"]), np.array(r["center_mm"], dtype=float)) for r in rows]


def earl_limits(standard: str) -> dict[str, dict[float, tuple[float, float]]]:
    """``{"rc_max": {37.0: (lo, hi), ...}, "rc_mean_a50": {...}}`` of ``"earl1"``/``"earl2"``."""
    t = _data()[standard]
    return {
        key: {float(d): (float(lo), float(hi)) for d, (lo, hi) in t[key].items()}
        for key in ("rc_max", "rc_mean_a50")
    }


@dataclass(frozen=True)
class SphereRecovery:
    """One sphere's recovery coefficients and fitted centre (LPS mm)."""

    diameter_mm: float
    rc_max: float
    rc_mean_a50: float
    center_mm: tuple[float, float, float]


@dataclass
class NemaCalibration:
    """What :func:`calibrate_nema` measured.

    Attributes:
        radionuclide: the phantom's radionuclide (``"F-18"``).
        background_bqml: the measured background concentration.
        sphere_ratio: the true sphere-to-background ratio used.
        spheres: recovery per sphere, largest first.
        effective_fwhm_mm: the fitted Gaussian FWHM (mm) for this radionuclide.
        earl: ``{"earl1": {"compliant": bool, "failures": [...]}, "earl2": {...}}``.
    """

    radionuclide: str | None
    background_bqml: float
    sphere_ratio: float
    spheres: list[SphereRecovery]
    effective_fwhm_mm: float
    earl: dict[str, dict[str, Any]] = field(default_factory=dict)

    def profile(self, name: str, source: dict[str, Any] | None = None) -> ScannerProfile:
        """The scanner profile of this calibration (``nenscope calibrate --out``)."""
        nuclide = self.radionuclide or "F-18"
        details = {
            "radionuclide_measured": nuclide,
            "sphere_ratio": self.sphere_ratio,
            "background_bqml": round(self.background_bqml, 3),
            "recovery": [
                {
                    "diameter_mm": s.diameter_mm,
                    "rc_max": round(s.rc_max, 4),
                    "rc_mean_a50": round(s.rc_mean_a50, 4),
                }
                for s in self.spheres
            ],
            "earl": self.earl,
            "source": source or {},
        }
        return ScannerProfile(
            name=name,
            effective_fwhm_mm={nuclide: self.effective_fwhm_mm},
            system_fwhm_mm=system_fwhm_mm(nuclide, self.effective_fwhm_mm),
            details=details,
        )


def _background(img: NDArray) -> tuple[float, NDArray[np.bool_]]:
    """Median of the phantom body (voxels above a fifth of the 99th percentile)."""
    body = img > 0.2 * float(np.percentile(img, 99))
    if body.sum() < 1000:
        raise NenscopeError("no phantom body in the image: is this a NEMA IEC phantom study?")
    return float(np.median(img[body])), body


def _large_sphere_centres(img: NDArray, bg: float, ratio: float, affine: NDArray) -> NDArray:
    """LPS centroids (mm) of the three largest hot components, largest first."""
    smooth = ndimage.gaussian_filter(img.astype(np.float32), 1.0)
    hot = smooth > bg * (1.0 + 0.5 * (ratio - 1.0))
    labels = cc3d.connected_components(hot, connectivity=26)
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    order = np.argsort(sizes)[::-1][:3]
    if len(order) < 3 or sizes[order[-1]] < 3:
        raise NenscopeError(
            "the three largest spheres of the IEC phantom were not found: check the "
            "sphere-to-background ratio (--sphere-ratio)"
        )
    com = ndimage.center_of_mass(img, labels, [int(k) for k in order])
    return indices_to_lps(affine, np.array(com))


def _kabsch(src: NDArray, dst: NDArray) -> tuple[NDArray, NDArray]:
    """Rotation R and translation t with R @ src + t ~ dst (proper rotation)."""
    cs, cd = src.mean(axis=0), dst.mean(axis=0)
    h = (src - cs).T @ (dst - cd)
    u, _, vt = np.linalg.svd(h)
    d = np.sign(np.linalg.det(vt.T @ u.T))
    rot = vt.T @ np.diag([1.0, 1.0, d]) @ u.T
    return rot, cd - rot @ cs


def _a50(
    img: NDArray, affine: NDArray, centre: NDArray, diameter: float, bg: float
) -> tuple[float, float]:
    """Maximum and A50 mean within one diameter of the sphere's centre."""
    spacing = spacing_from_affine(affine)
    ijk = np.linalg.solve(np.asarray(affine)[:3, :3], centre - np.asarray(affine)[:3, 3])
    half = [int(np.ceil(diameter / s)) for s in spacing]
    lo = [max(0, int(round(c)) - h) for c, h in zip(ijk, half, strict=True)]
    hi = [min(n, int(round(c)) + h + 1) for c, h, n in zip(ijk, half, img.shape, strict=True)]
    box = img[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]]
    vmax = float(box.max())
    lab, _ = ndimage.label(box >= bg + 0.5 * (vmax - bg))
    peak = np.unravel_index(int(np.argmax(box)), box.shape)
    return vmax, float(box[lab == lab[peak]].mean())


def _fit_fwhm(
    img: NDArray, affine: NDArray, spheres: list[tuple[float, NDArray]], bg: float, contrast: float
) -> tuple[float, list[NDArray]]:
    """One Gaussian FWHM and six centres fitted to the voxels around the spheres."""
    spacing = spacing_from_affine(affine)
    a = np.asarray(affine)
    samples = []
    for diameter, centre in spheres:
        ijk = np.linalg.solve(a[:3, :3], centre - a[:3, 3])
        reach = [int(np.ceil((diameter / 2 + 15.0) / s)) for s in spacing]
        lo = [max(0, int(round(c)) - r) for c, r in zip(ijk, reach, strict=True)]
        hi = [min(n, int(round(c)) + r + 1) for c, r, n in zip(ijk, reach, img.shape, strict=True)]
        idx = np.argwhere(np.ones([b - a for a, b in zip(lo, hi, strict=True)], bool)) + lo
        xyz = indices_to_lps(a, idx)
        near = np.linalg.norm(xyz - centre, axis=1) <= diameter / 2 + 12.0
        samples.append((diameter, xyz[near], img[tuple(idx[near].T)].astype(float)))

    def resid(p: NDArray) -> NDArray:
        out = []
        for k, (diameter, xyz, vals) in enumerate(samples):
            c = spheres[k][1] + p[1 + 3 * k : 4 + 3 * k]
            r = np.linalg.norm(xyz - c, axis=1)
            out.append(bg + contrast * blurred_sphere_profile(r, diameter, p[0]) - vals)
        return np.concatenate(out) / max(contrast, 1e-9)

    p0 = np.concatenate([[8.0], np.zeros(3 * len(samples))])
    lb = np.concatenate([[1.0], np.full(3 * len(samples), -6.0)])
    ub = np.concatenate([[30.0], np.full(3 * len(samples), 6.0)])
    fit = least_squares(resid, p0, bounds=(lb, ub), max_nfev=400)
    centres = [spheres[k][1] + fit.x[1 + 3 * k : 4 + 3 * k] for k in range(len(samples))]
    return float(fit.x[0]), centres


def _compliance(spheres: list[SphereRecovery]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for std in ("earl1", "earl2"):
        lim = earl_limits(std)
        fails = []
        for s in spheres:
            for key in ("rc_max", "rc_mean_a50"):
                lo, hi = lim[key][s.diameter_mm]
                value = getattr(s, key)
                if not lo <= value <= hi:
                    fails.append(f"{s.diameter_mm:.0f} mm {key} {value:.2f} outside {lo}-{hi}")
        out[std] = {"compliant": not fails, "failures": fails}
    return out


def calibrate_nema(study: Study, *, sphere_ratio: float) -> NemaCalibration:
    """Recovery coefficients, effective resolution and EARL compliance of a NEMA IEC study.

    Args:
        study: the phantom's PET study (activity concentration, Bq/mL).
        sphere_ratio: the true sphere-to-background activity ratio of the filling (EARL:
            10:1; NEMA NU 2: 4:1 or 8:1).
    """
    if not sphere_ratio > 1.0:
        raise NenscopeError("--sphere-ratio must be above 1 (sphere activity over background)")
    vol = study.emission
    img = np.asarray(vol.array, dtype=np.float64)
    affine = np.asarray(vol.affine, dtype=float)
    bg, _ = _background(img)
    geometry = iec_spheres()
    found = _large_sphere_centres(img, bg, sphere_ratio, affine)
    rot, t = _kabsch(np.array([g[1] for g in geometry[:3]]), found)
    placed = [(d, rot @ c + t) for d, c in geometry]
    fwhm, centres = _fit_fwhm(img, affine, placed, bg, (sphere_ratio - 1.0) * bg)
    true = sphere_ratio * bg
    spheres = []
    for (diameter, _), centre in zip(placed, centres, strict=True):
        vmax, vmean = _a50(img, affine, centre, diameter, bg)
        spheres.append(
            SphereRecovery(diameter, vmax / true, vmean / true, tuple(float(c) for c in centre))  # type: ignore[arg-type]
        )
    return NemaCalibration(
        radionuclide=study.radionuclide,
        background_bqml=bg,
        sphere_ratio=float(sphere_ratio),
        spheres=spheres,
        effective_fwhm_mm=fwhm,
        earl=_compliance(spheres),
    )
