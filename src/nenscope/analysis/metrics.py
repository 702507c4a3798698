"""Per-lesion measurements on the emission grid (crop per lesion, no full-volume passes).

Volume, SUVmax, SUVmean, SUVpeak (see :mod:`nenscope.analysis.suvpeak`), total lesion
activity TLA = SUVmean x volume (TL-SSTR on SSTR imaging, TLG on FDG; DESIGN §4),
tumour-to-liver ratio TLR = SUVmax / liver SUVmean and tumour-to-spleen ratio
TSR = SUVmax / spleen SUVmean, the centre of mass in patient LPS mm, the anatomical site
(:mod:`~nenscope.analysis.sites`) and, with a CT, whether the lesion has an anatomic correlate;
with a known scanner resolution, the partial-volume-corrected uptake ``suv_pvc``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from nenscope.analysis._geometry import indices_to_lps
from nenscope.analysis.pvc import blurred_sphere_profile, fit_blurred_sphere
from nenscope.analysis.reference import ReferenceRegions
from nenscope.analysis.rules import score_rules
from nenscope.analysis.sites import SiteContext, lesion_site
from nenscope.analysis.suvpeak import suv_peak_per_label

__all__ = ["Lesion", "lesion_pvc", "measure_lesions"]

_BONE_HU = 200.0
_PVC_MAX_GAIN = 2.5  # corrected contrast <= 2.5 x (SUVmax - background)
# the background ring's distance beyond the lesion without a known resolution (with one: 1 FWHM)
_RING_MM = 10.0


def _r(v: float | None, nd: int = 3) -> float | None:
    return None if v is None or not np.isfinite(v) else round(float(v), nd)


@dataclass
class Lesion:
    """One lesion with its measurements and scores (SUV values in the study's SUV kind).

    ``label`` is its value in the label map; ``id`` its 1-based number in the report.
    ``prrt_target``: a target lesion of the SSTR imaging criterion for PRRT (measurable, at a
    typical site; SSTR agents). ``reading``: the agent class's reading of the lesion (GLP-1R
    at the pancreas: ``"insulinoma candidate"``).
    """

    id: int
    label: int
    site: str
    center_mm: tuple[float, float, float]
    volume_ml: float
    n_voxels: int
    suv_max: float
    suv_peak: float
    suv_mean: float
    tla: float
    tlr: float | None = None
    tsr: float | None = None
    suv_peak_center_mm: tuple[float, float, float] | None = None
    suv_pvc: float | None = None
    diameter_pvc_mm: float | None = None
    background_suv: float | None = None
    ct_correlate: bool | None = None
    ct_mean_hu: float | None = None
    krenning: int | None = None
    sstr_rads: str | None = None
    fdg_suv_max: float | None = None
    fdg_suv_peak: float | None = None
    fdg_suv_pvc: float | None = None
    fdg_recovery: float | None = None
    netpet: str | None = None
    prrt_target: bool | None = None
    reading: str | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "site": self.site,
            "center_mm": [round(c, 2) for c in self.center_mm],
            "volume_ml": _r(self.volume_ml),
            "suv_max": _r(self.suv_max),
            "suv_peak": _r(self.suv_peak),
            "suv_mean": _r(self.suv_mean),
            "tla": _r(self.tla),
            "tlr": _r(self.tlr),
            "tsr": _r(self.tsr),
            "suv_pvc": _r(self.suv_pvc),
            "diameter_pvc_mm": _r(self.diameter_pvc_mm, 1),
            "background_suv": _r(self.background_suv),
            "krenning": self.krenning,
            "sstr_rads": self.sstr_rads,
            "fdg_suv_max": _r(self.fdg_suv_max),
            "fdg_suv_peak": _r(self.fdg_suv_peak),
            "fdg_suv_pvc": _r(self.fdg_suv_pvc),
            "netpet": self.netpet,
            "prrt_target": self.prrt_target,
            "reading": self.reading,
            "ct_correlate": self.ct_correlate,
            "ct_mean_hu": _r(self.ct_mean_hu, 1),
            "suv_peak_center_mm": None
            if self.suv_peak_center_mm is None
            else [round(c, 2) for c in self.suv_peak_center_mm],
            "n_voxels": self.n_voxels,
        }


def lesion_pvc(
    suv: NDArray,
    labels: NDArray,
    lab: int,
    sl: tuple[slice, ...],
    affine: NDArray,
    reach: list[int],
    fwhm_mm: float | None,
    *,
    diameter_mm: float | None = None,
    background_only: bool = False,
) -> tuple[float | None, float | None]:
    """Sphere-model partial-volume correction of one lesion (see :mod:`.pvc`).

    With ``diameter_mm`` (e.g. the SSTR fit's, for the same lesion on FDG) only the contrast
    is fitted (linear least squares). With ``background_only`` the result is
    ``(background, None)``: the median of the ring 1-1.5 FWHM beyond the lesion (10-15 mm
    when ``fwhm_mm`` is ``None``, which returns ``(None, None)`` otherwise: no correction
    without a known resolution).

    Background: median SUV of the voxels between 1 and 1.5 FWHM beyond the lesion's
    equivalent sphere; centre: the uptake-weighted centroid; fit of (C, d) to the voxels
    within 1 FWHM of that sphere.
    """
    if fwhm_mm is None and not background_only:
        return None, None
    ring_mm = _RING_MM if fwhm_mm is None else fwhm_mm
    box = tuple(
        slice(max(0, s.start - p), min(d, s.stop + p))
        for s, p, d in zip(sl, reach, labels.shape, strict=True)
    )
    lab_crop = labels[box]
    crop = np.asarray(suv[box], dtype=np.float64)
    m = lab_crop == lab
    use = ~((lab_crop > 0) & ~m)  # other lesions are neither lesion nor background
    grid = np.argwhere(np.ones(crop.shape, bool)) + np.array([b.start for b in box])
    coords = indices_to_lps(affine, grid).reshape(*crop.shape, 3)
    w = np.where(m, crop, 0.0)
    centre = (coords * w[..., None]).sum(axis=(0, 1, 2)) / max(float(w.sum()), 1e-9)
    r = np.linalg.norm(coords - centre, axis=-1)
    vol_ml = float(m.sum()) * abs(float(np.linalg.det(np.asarray(affine)[:3, :3]))) / 1000.0
    r0 = 0.5 * (6.0 * vol_ml * 1000.0 / np.pi) ** (1.0 / 3.0)
    ring = use & (r >= r0 + ring_mm) & (r <= r0 + 1.5 * ring_mm)
    if ring.sum() < 10:
        return None, None
    bg = float(np.median(crop[ring]))
    if background_only or fwhm_mm is None:
        return bg, None
    near = use & (r <= r0 + fwhm_mm)
    if diameter_mm is not None:
        prof = blurred_sphere_profile(r[near], diameter_mm, fwhm_mm)
        c = float(
            max(((crop[near] - bg) * prof).sum() / max(float((prof * prof).sum()), 1e-12), 0.0)
        )
        return bg + c, diameter_mm
    fit = fit_blurred_sphere(crop[near], r[near], fwhm_mm, background=bg, diameter0_mm=2 * r0)
    if fit is None:
        return None, None
    c, d = fit
    # a noisy small lesion can fit as a near point source of huge contrast: cap the gain
    c = min(c, _PVC_MAX_GAIN * max(float(crop[m].max()) - bg, 0.0))
    return bg + c, d


def measure_lesions(
    suv: NDArray,
    labels: NDArray[np.int32],
    spacing_mm: tuple[float, float, float],
    affine: NDArray,
    reference: ReferenceRegions,
    *,
    ct_hu: NDArray | None = None,
    sites: SiteContext | None = None,
    psf_fwhm_mm: float | None = None,
) -> list[Lesion]:
    """Measure every labelled lesion; scores are filled in by the pipeline.

    Args:
        suv: SUV array; labels: lesion labels 1..N on the same grid.
        spacing_mm: voxel spacing, mm; affine: index -> LPS mm.
        reference: liver/spleen references for TLR/TSR.
        ct_hu: CT on the emission grid (HU) for the anatomic correlate, or ``None``.
        sites: what names the sites (:class:`~nenscope.analysis.sites.SiteContext`); ``None``:
            the reference's organ masks and the CT only.
        psf_fwhm_mm: the scanner's effective resolution (FWHM, mm) for the
            partial-volume-corrected uptake ``suv_pvc`` (:mod:`nenscope.analysis.pvc`), or
            ``None`` (unknown: no ``suv_pvc``).
    """
    n = int(labels.max()) if labels.size else 0
    if n == 0:
        return []
    if sites is None:
        sites = SiteContext(reference.masks, affine, np.zeros(3), None, ct_hu=ct_hu)
    voxel_ml = float(np.prod(spacing_mm)) / 1000.0
    peaks, peak_ijk = suv_peak_per_label(suv, labels, spacing_mm)
    contrast = float(score_rules()["sstr_rads"]["ct_contrast_hu"])
    liver = reference.liver.suv_mean if reference.liver else None
    spleen = reference.spleen.suv_mean if reference.spleen else None
    reach = [int(np.ceil(2.0 * max(psf_fwhm_mm or 0.0, _RING_MM) / sp)) + 1 for sp in spacing_mm]
    out: list[Lesion] = []
    for idx, sl in enumerate(ndimage.find_objects(labels)):
        if sl is None:
            continue
        lab = idx + 1
        # crop with a 2-voxel margin for the CT shell
        box = tuple(
            slice(max(0, s.start - 2), min(d, s.stop + 2))
            for s, d in zip(sl, labels.shape, strict=True)
        )
        lab_crop = labels[box]
        m = lab_crop == lab
        vals = np.asarray(suv[box][m], dtype=np.float64)
        nvox = int(vals.size)
        vol = nvox * voxel_ml
        com = np.array(ndimage.center_of_mass(m)) + np.array([b.start for b in box])
        centre = tuple(float(c) for c in indices_to_lps(affine, com)[0])
        suv_mean = float(vals.mean())
        suv_max = float(vals.max())
        ct_mean = ct_corr = None
        if ct_hu is not None:
            ct_crop = ct_hu[box]
            ct_mean = float(ct_crop[m].mean())
            shell = ndimage.binary_dilation(m, iterations=2) & (lab_crop == 0)
            if shell.any():
                ct_corr = bool(
                    abs(ct_mean - float(np.median(ct_crop[shell]))) >= contrast
                    or ct_mean >= _BONE_HU
                )
        pvc, dpvc = lesion_pvc(suv, labels, lab, sl, affine, reach, psf_fwhm_mm)
        # the reported background is the same ring whatever the scanner (10-15 mm out)
        bg_ring, _ = lesion_pvc(suv, labels, lab, sl, affine, reach, None, background_only=True)
        les = Lesion(
            id=lab,
            label=lab,
            site=lesion_site(sites, m, box, voxel_ml),
            center_mm=centre,  # type: ignore[arg-type]
            volume_ml=vol,
            n_voxels=nvox,
            suv_max=suv_max,
            suv_peak=float(peaks[idx]),
            suv_mean=suv_mean,
            tla=suv_mean * vol,
            tlr=suv_max / liver if liver else None,
            tsr=suv_max / spleen if spleen else None,
            suv_peak_center_mm=tuple(float(c) for c in indices_to_lps(affine, peak_ijk[idx])[0]),  # type: ignore[arg-type]
            ct_correlate=ct_corr,
            ct_mean_hu=ct_mean,
            suv_pvc=pvc,
            diameter_pvc_mm=dpvc,
            background_suv=bg_ring,
        )
        out.append(les)
    return out
