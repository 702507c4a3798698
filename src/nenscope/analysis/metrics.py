"""Per-lesion measurements on the emission grid (crop per lesion, no full-volume passes).

Volume, SUVmax, SUVmean, SUVpeak (see :mod:`nenscope.analysis.suvpeak`), total lesion
activity TLA = SUVmean x volume (TL-SSTR on SSTR imaging, TLG on FDG; DESIGN §4),
tumour-to-liver ratio TLR = SUVmax / liver SUVmean and tumour-to-spleen ratio
TSR = SUVmax / spleen SUVmean, the centre of mass in patient LPS mm, the anatomical site and,
with a CT, whether the lesion has an anatomic correlate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from nenscope.analysis._geometry import indices_to_lps
from nenscope.analysis.reference import ReferenceRegions
from nenscope.analysis.rules import score_rules
from nenscope.analysis.suvpeak import suv_peak_per_label

__all__ = ["Lesion", "measure_lesions"]

_BONE_HU = 200.0


def _r(v: float | None, nd: int = 3) -> float | None:
    return None if v is None or not np.isfinite(v) else round(float(v), nd)


@dataclass
class Lesion:
    """One lesion with its measurements and scores (SUV values in the study's SUV kind).

    ``label`` is its value in the label map; ``id`` its 1-based number in the report.
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
    ct_correlate: bool | None = None
    ct_mean_hu: float | None = None
    krenning: int | None = None
    sstr_rads: str | None = None
    fdg_suv_max: float | None = None
    netpet: str | None = None
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
            "krenning": self.krenning,
            "sstr_rads": self.sstr_rads,
            "fdg_suv_max": _r(self.fdg_suv_max),
            "netpet": self.netpet,
            "ct_correlate": self.ct_correlate,
            "ct_mean_hu": _r(self.ct_mean_hu, 1),
            "suv_peak_center_mm": None
            if self.suv_peak_center_mm is None
            else [round(c, 2) for c in self.suv_peak_center_mm],
            "n_voxels": self.n_voxels,
        }


def _site(
    lesion: NDArray[np.bool_],
    box: tuple[slice, ...],
    masks: dict[str, NDArray[np.bool_]],
    ct_mean_hu: float | None,
) -> str:
    """Organ holding most of the lesion (>= 50 %), else bone by CT, else soft tissue."""
    n = lesion.sum()
    best, best_frac = None, 0.0
    for name, m in masks.items():
        if name in ("body",):
            continue
        frac = float((m[box] & lesion).sum()) / n
        if frac > best_frac:
            best, best_frac = name, frac
    if best is not None and best_frac >= 0.5:
        key = best.lower()
        for prefix in ("kidney", "adrenal", "lung", "parotid", "submandibular"):
            if key.startswith(prefix):
                return prefix
        return key.replace("_", " ")
    if ct_mean_hu is not None and ct_mean_hu >= _BONE_HU:
        return "bone"
    return "soft tissue"


def measure_lesions(
    suv: NDArray,
    labels: NDArray[np.int32],
    spacing_mm: tuple[float, float, float],
    affine: NDArray,
    reference: ReferenceRegions,
    *,
    ct_hu: NDArray | None = None,
    site_masks: dict[str, NDArray[np.bool_]] | None = None,
) -> list[Lesion]:
    """Measure every labelled lesion; scores are filled in by the pipeline.

    Args:
        suv: SUV array; labels: lesion labels 1..N on the same grid.
        spacing_mm: voxel spacing, mm; affine: index -> LPS mm.
        reference: liver/spleen references for TLR/TSR.
        ct_hu: CT on the emission grid (HU) for site and anatomic correlate, or ``None``.
        site_masks: organ masks used to name the site (liver, spleen, pancreas, ...).
    """
    n = int(labels.max()) if labels.size else 0
    if n == 0:
        return []
    site_masks = site_masks or reference.masks
    voxel_ml = float(np.prod(spacing_mm)) / 1000.0
    peaks, peak_ijk = suv_peak_per_label(suv, labels, spacing_mm)
    contrast = float(score_rules()["sstr_rads"]["ct_contrast_hu"])
    liver = reference.liver.suv_mean if reference.liver else None
    spleen = reference.spleen.suv_mean if reference.spleen else None
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
                    abs(ct_mean - float(ct_crop[shell].mean())) >= contrast or ct_mean >= _BONE_HU
                )
        les = Lesion(
            id=lab,
            label=lab,
            site=_site(m, box, site_masks, ct_mean),
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
        )
        out.append(les)
    return out
