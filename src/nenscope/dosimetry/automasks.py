"""Dosimetry regions from the analysis layer and the SPECT (``nenscope dosimetry --auto-masks``).

The analysis layer (``nenscope.analysis.analyze_volume``) runs on the SUV of the first 177Lu
SPECT/CT time point as an SSTR agent. Its reference organs (``ReferenceRegions.masks``: the
liver, and the spleen when its finder succeeds) become organ regions (S-values) and each
lesion of its label map a tumour region (sphere model).

The kidneys (and the spleen when the analysis gives none: its finder needs a homogeneous
30 mm window that a normal spleen at SPECT resolution rarely offers) are delineated on the
SPECT itself by :func:`nenscope.dosimetry.organfinder.find_kidneys_and_spleen`: recognised
with the analysis's own anatomical kidney prior in the analysis's frame (its body centroid
and liver z range), delineated at 50 % of each organ's plateau, split into ``kidney_left`` /
``kidney_right`` (patient left = +x), as in SPECT-based 177Lu-DOTATATE kidney dosimetry
(Sandström M et al., J Nucl Med 2010;51:1599-1607). Mass comes from that delineated volume.

Regional activity: the counts inside a kidney outlined at SPECT resolution are only 70-85 %
of its activity (spill-out; MIRD Pamphlet 26, Ljungberg M et al., J Nucl Med 2016;57:151-162),
so the activities are corrected by the geometric transfer matrix (Rousset OG et al., J Nucl
Med 1998;39:904; :mod:`nenscope.dosimetry.pvc`) with the system PSF (``--psf-fwhm-mm``):
:func:`pvc_tacs` solves it over the organ regions, one region for all lesions together and
the background. GTM uses the delineated masks themselves (no second, larger activity VOI
whose spill-in from the liver next to the right kidney and the spleen next to the left one
would need its own correction). The small lesion regions the analysis also returns (some
are a few voxels) are not separate GTM regions: a few-voxel region makes the solution noisy
(negative activities); lesion activities stay the counts in their masks (the sphere model
applies to them). Without a PSF a warning says the kidney activities are low.

The masks are made disjoint: lesion voxels are removed from every organ (a tumour touching a
kidney stays a tumour) and kidney/spleen voxels from the analysis's liver.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import highdicom as hd
import numpy as np
from numpy.typing import NDArray

from nenscope.errors import NenscopeError

__all__ = ["AutoMasks", "SPECT_ORIGIN", "masks_from_analysis", "pvc_tacs"]

SPECT_ORIGIN = "automatic (SPECT)"
KIDNEYS = ("kidney_left", "kidney_right")


@dataclass
class AutoMasks:
    """Region masks on the SUV volume's grid and where they came from.

    masks: ``{name: bool array}`` (``liver``, ``spleen``, ``kidney_left``, ``kidney_right``,
    ``lesion_1`` …; lesions numbered as in the analysis's label map); origins: ``{organ:
    "automatic" | "ct" | "automatic (SPECT)" ...}``; warnings: notes for the user (a kidney
    or the spleen not found, kidney activities without partial-volume correction).
    """

    masks: dict[str, NDArray[np.bool_]]
    origins: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def masks_from_analysis(
    suv: hd.Volume,
    ct: hd.Volume | None = None,
    *,
    agent_class: str = "sstr",
    psf_fwhm_mm: float | None = None,
) -> AutoMasks:
    """Liver, spleen, kidney and lesion masks from the analysis layer and the SPECT.

    Args:
        suv: SUV (body weight) volume of the first time point (``Study.suv("bw")``); the
            analysis thresholds are in SUV, so activity in Bq/ml would not do.
        ct: its CT (any grid, same frame of reference) or ``None``.
        agent_class: ``"sstr"`` for 177Lu-DOTATATE/-DOTATOC.
        psf_fwhm_mm: the PSF FWHM (mm) the dosimetry will correct partial volume with, or
            ``None`` (then a warning says the kidney activities are underestimated).

    Returns:
        :class:`AutoMasks` with masks on ``suv``'s grid.
    """
    from nenscope.analysis import AnalysisOptions, analyze_volume
    from nenscope.dosimetry.organfinder import find_kidneys_and_spleen

    # the kidney is what is wanted here: not split into watershed basins at SPECT noise
    va = analyze_volume(
        suv, agent_class=agent_class, ct=ct, options=AnalysisOptions(split_kidney_lesions=False)
    )
    labels = np.asarray(va.labels)
    lesion_any = labels > 0
    ref = va.reference
    organs: dict[str, NDArray[np.bool_]] = {}
    origins: dict[str, str] = {}
    warnings: list[str] = []
    for organ in ("liver", "spleen"):
        m = ref.masks.get(organ)
        if m is not None and np.any(m):
            organs[organ] = np.asarray(m, bool)
            origins[organ] = str(getattr(getattr(ref, organ, None), "origin", "automatic"))
    if "liver" in organs and ref.liver is not None:
        found = find_kidneys_and_spleen(
            np.asarray(suv.array),
            np.asarray(suv.affine),
            organs["liver"],
            ref.liver.suv_mean,
            va.anchors,
            lesions=lesion_any,
            want_spleen="spleen" not in organs,
        )
        for name, m in found.masks.items():
            organs[name] = m
            origins[name] = SPECT_ORIGIN
    else:
        warnings.append("--auto-masks: the analysis found no liver; no liver region")
    for name in KIDNEYS:
        if name not in organs:
            side = name.split("_")[1]
            warnings.append(
                f"--auto-masks: no {side} kidney found on the SPECT (nephrectomy, or uptake "
                f"the kidney prior does not recognise); no {name} region: give kidney masks "
                "with --masks instead of --auto-masks for kidney dosimetry"
            )
    if "spleen" not in organs:
        warnings.append("--auto-masks: no spleen found (analysis or SPECT); no spleen region")
    if psf_fwhm_mm is None and any(k in organs for k in KIDNEYS):
        warnings.append(
            "--auto-masks: kidney activities are not corrected for partial volume (the counts "
            "inside a SPECT kidney are 70-85 % of its activity): give --psf-fwhm-mm"
        )
    # disjoint regions: lesions first, then the SPECT organs, then the analysis's organs
    taken = lesion_any.copy()
    kept: dict[str, NDArray[np.bool_]] = {}
    for name in sorted(organs, key=lambda n: origins[n] != SPECT_ORIGIN):
        kept[name] = organs[name] & ~taken
        taken |= kept[name]
    masks = {name: kept[name] for name in organs if kept[name].any()}
    for k in np.unique(labels[lesion_any]):
        masks[f"lesion_{int(k)}"] = labels == k
    if not masks:
        raise NenscopeError(
            "--auto-masks: no liver, spleen, kidney or lesion found on the first time point; "
            "give region masks with --masks"
        )
    return AutoMasks(masks, origins, warnings)


def pvc_tacs(
    activity_bq_ml: Sequence[NDArray],
    times_h: Sequence[float],
    spacing_mm: Sequence[float],
    masks: dict[str, NDArray[np.bool_]],
    psf_fwhm_mm: float,
    *,
    density_g_per_ml: float = 1.0,
):
    """Regional TACs (``pipeline.RegionTAC``, MBq) with partial-volume-corrected organs.

    A geometric transfer matrix over the organ regions (every name not starting with
    ``lesion_``), the union of the lesion regions and the background gives each organ's true
    mean concentration at each time point; its activity is that times its volume. Lesions
    keep the activity counted in their masks. Masses are mask volume x density.

    Args:
        activity_bq_ml: activity maps (Bq/ml at acquisition) on the masks' grid, one per time.
        times_h: their times (h after administration).
        spacing_mm: voxel size (mm) per array axis.
        masks: the regions of :func:`masks_from_analysis` (disjoint).
        psf_fwhm_mm: FWHM (mm) of the system's Gaussian PSF at organ depth.
        density_g_per_ml: tissue density for the masses.
    """
    from nenscope.dosimetry.pipeline import RegionTAC
    from nenscope.dosimetry.pvc import GeometricTransferMatrix

    vox_ml = float(np.prod(spacing_mm)) / 1000.0
    organs = {n: np.asarray(m, bool) for n, m in masks.items() if not n.startswith("lesion_")}
    lesions = [np.asarray(m, bool) for n, m in masks.items() if n.startswith("lesion_")]
    gtm_c = None
    if organs:
        regions = dict(organs)
        if lesions:
            regions["lesion_*"] = np.logical_or.reduce(lesions)
        gtm = GeometricTransferMatrix(regions, tuple(spacing_mm), psf_fwhm_mm)
        gtm_c = [gtm.correct(np.asarray(a)) for a in activity_bq_ml]
    out = []
    for name, m in masks.items():
        mb = np.asarray(m, bool)
        n_vox = float(mb.sum())
        if name in organs and gtm_c is not None:
            act = [c[name] * n_vox * vox_ml * 1e-6 for c in gtm_c]
        else:
            act = [
                float(np.asarray(a)[mb].sum(dtype=np.float64)) * vox_ml * 1e-6
                for a in activity_bq_ml
            ]
        out.append(
            RegionTAC(name, list(map(float, times_h)), act, n_vox * vox_ml * density_g_per_ml)
        )
    return out
