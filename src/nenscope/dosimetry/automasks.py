"""Dosimetry regions from the analysis layer and the SPECT (``nenscope dosimetry --auto-masks``).

:func:`masks_from_timepoints` works at any imaging schedule: the time points, registered to
one grid, are averaged as SUV from 12 h on (:func:`delineation_image`; earlier images carry the
urine in the renal collecting system and the blood pool, and alone would outline the renal
pelvis instead of the kidney) and the regions are delineated once on that image, for every
time point. :func:`masks_from_analysis` delineates on one SUV volume:

* the analysis layer (``nenscope.analysis.analyze_volume``, SSTR agent, with the SPECT settings
  of ``data/automasks.toml``: 8 mm detection smoothing, no lesion under 1 ml) gives the liver,
  the lesions (physiological uptake removed) and its anatomical frame; the liver mask is
  trimmed to the organ's outline half-way between its plateau and the background around it
  (:func:`outline_liver`);
* the kidneys (and the spleen when the analysis gives none) are delineated on the SPECT by
  :func:`nenscope.dosimetry.organfinder.find_kidneys_and_spleen` (as in SPECT-based
  177Lu-DOTATATE kidney dosimetry, Sandström M et al., J Nucl Med 2010;51:1599-1607),
  split into ``kidney_left`` / ``kidney_right`` (patient left = +x);
* with several time points, lesion regions that do not stand above their surroundings at each
  of them are dropped as noise; with one, those below the liver's uptake.

Regional activity: the counts inside a kidney outlined at SPECT resolution are only 70-85 %
of its activity (spill-out; MIRD Pamphlet 26, Ljungberg M et al., J Nucl Med 2016;57:151-162),
so the activities are corrected by the geometric transfer matrix (Rousset OG et al., J Nucl
Med 1998;39:904; :mod:`nenscope.dosimetry.pvc`) with the system PSF (``--psf-fwhm-mm``):
:func:`pvc_tacs` solves it over the organ regions, one region for all lesions together and
the background (a few-voxel lesion as its own GTM region makes the solution noisy); lesion
activities stay the counts in their masks (the sphere model applies to them). Without a PSF a
warning says the kidney activities are low.

The masks are disjoint: lesion voxels (and their one-FWHM rim) belong to no organ, and
kidney/spleen voxels are removed from the liver.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import highdicom as hd
import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from nenscope.dosimetry._data import load_toml
from nenscope.errors import NenscopeError
from nenscope.imaging.geometry import fwhm_to_sigma

if TYPE_CHECKING:
    from nenscope.analysis import AnalysisOptions

__all__ = [
    "AutoMasks",
    "SPECT_ORIGIN",
    "delineation_image",
    "masks_from_analysis",
    "masks_from_timepoints",
    "outline_liver",
    "pvc_tacs",
]

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
    delineation_times_h: tuple[float, ...] = ()


def _spect_options() -> AnalysisOptions:
    """Analysis options for a 177Lu SPECT (``data/automasks.toml`` [analysis])."""
    from nenscope.analysis import AnalysisOptions

    a = load_toml("automasks.toml")["analysis"]
    return AnalysisOptions(
        split_kidney_lesions=False,
        detect_smooth_fwhm_mm=float(a["detect_smooth_fwhm_mm"]),
        min_volume_ml=float(a["min_volume_ml"]),
    )


def masks_from_analysis(
    suv: hd.Volume,
    ct: hd.Volume | None = None,
    *,
    agent_class: str = "sstr",
    psf_fwhm_mm: float | None = None,
    spect: bool = True,
) -> AutoMasks:
    """Liver, spleen, kidney and lesion masks from the analysis layer and the SPECT.

    Args:
        suv: SUV (body weight) volume of the first time point (``Study.suv("bw")``); the
            analysis thresholds are in SUV, so activity in Bq/ml would not do.
        ct: its CT (any grid, same frame of reference) or ``None``.
        agent_class: ``"sstr"`` for 177Lu-DOTATATE/-DOTATOC.
        psf_fwhm_mm: the PSF FWHM (mm) the dosimetry will correct partial volume with, or
            ``None`` (then a warning says the kidney activities are underestimated).
        spect: detect lesions with the SPECT settings of ``data/automasks.toml`` (8 mm
            smoothing, 1 ml minimum); ``False``: the analysis defaults (a PET).

    Returns:
        :class:`AutoMasks` with masks on ``suv``'s grid.
    """
    from nenscope.analysis import AnalysisOptions, analyze_volume
    from nenscope.dosimetry.organfinder import find_kidneys_and_spleen

    # the kidney is what is wanted here: not split into watershed basins at SPECT noise
    opts = _spect_options() if spect else AnalysisOptions(split_kidney_lesions=False)
    va = analyze_volume(suv, agent_class=agent_class, ct=ct, options=opts)
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
    if "liver" in organs and ref.liver is not None:
        organs["liver"] = outline_liver(
            np.asarray(suv.array, np.float32),
            suv.spacing,
            organs["liver"],
            ref.liver.suv_mean,
            exclude=lesion_any | np.logical_or.reduce([organs[k] for k in organs if k != "liver"]),
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


def outline_liver(
    suv: NDArray[np.float32],
    spacing_mm: Sequence[float],
    liver: NDArray[np.bool_],
    liver_suv_mean: float,
    *,
    exclude: NDArray[np.bool_] | None = None,
    smooth_fwhm_mm: float = 8.0,
) -> NDArray[np.bool_]:
    """The analysis's liver mask trimmed to the organ's outline at SPECT resolution.

    The blurred edge of a uniform organ lies half-way between its plateau (the reference VOI
    mean) and the surrounding background (median of a 10-25 mm shell outside the mask, other
    regions excluded); voxels of the mask below that level are spill-out. On the virtual
    patient the analysis's mask is +23-36 % of the liver, the outline within 2 %.
    """
    sm = ndimage.gaussian_filter(suv, fwhm_to_sigma(smooth_fwhm_mm, spacing_mm, exact=True))
    step = float(np.mean(spacing_mm))
    near = ndimage.binary_dilation(liver, iterations=max(1, round(10.0 / step)))
    far = ndimage.binary_dilation(liver, iterations=max(2, round(25.0 / step)))
    shell = far & ~near & (suv > 0)
    if exclude is not None:
        shell &= ~exclude
    if not shell.any():
        return liver
    bg = float(np.median(sm[shell]))
    out = liver & (sm >= bg + 0.5 * (liver_suv_mean - bg))
    lab, n = ndimage.label(out)
    if n == 0:
        return liver
    return lab == int(np.argmax(np.bincount(lab.ravel())[1:])) + 1


def delineation_image(
    activity_bq_ml: Sequence[NDArray], times_h: Sequence[float], suv_factors: Sequence[float]
) -> tuple[NDArray[np.float32], list[int]]:
    """Mean SUV of the time points from ``[delineation] min_time_h`` (12 h) on, and their
    indices; the latest time point alone when all are earlier."""
    t_min = float(load_toml("automasks.toml")["delineation"]["min_time_h"])
    use = [i for i, t in enumerate(times_h) if t >= t_min]
    if not use:
        use = [int(np.argmax(times_h))]
    img = np.zeros(np.shape(activity_bq_ml[use[0]]), np.float32)
    for i in use:
        img += np.asarray(activity_bq_ml[i], np.float32) * np.float32(suv_factors[i])
    return img / np.float32(len(use)), use


def _persistent(
    mask: NDArray[np.bool_], taken: NDArray[np.bool_], images: Sequence[NDArray], k: float
) -> bool:
    """Whether the region stands ``k`` x above a 2-voxel shell around it at every image."""
    shell = ndimage.binary_dilation(mask, iterations=2) & ~mask & ~taken
    if not shell.any():
        return True
    for a in images:
        bg = float(np.mean(a[shell], dtype=np.float64))
        if float(np.mean(a[mask], dtype=np.float64)) < k * max(bg, 1e-12):
            return False
    return True


def _doubtful_lesions(
    masks: dict[str, NDArray[np.bool_]], activity_bq_ml: Sequence[NDArray], suv: NDArray
) -> list[str]:
    """Lesion regions that are likely noise: with several time points, those not standing
    ``[persistence] min_contrast`` above their surroundings at each; with one, those whose
    mean SUV stays below the liver's (noise cannot be told from a faint tumour on one image,
    and a tumour below the liver's uptake is no PRRT target)."""
    lesions = [n for n in masks if n.startswith("lesion_")]
    if len(activity_bq_ml) > 1:
        k = float(load_toml("automasks.toml")["persistence"]["min_contrast"])
        taken = np.logical_or.reduce(list(masks.values()))
        return [
            n for n in lesions if not _persistent(masks[n], taken & ~masks[n], activity_bq_ml, k)
        ]
    if "liver" not in masks:
        return []
    liver = float(np.mean(suv[masks["liver"]], dtype=np.float64))
    return [n for n in lesions if float(np.mean(suv[masks[n]], dtype=np.float64)) < liver]


def masks_from_timepoints(
    activity_bq_ml: Sequence[NDArray],
    times_h: Sequence[float],
    suv_factors: Sequence[float],
    affine: NDArray,
    ct: hd.Volume | None = None,
    *,
    psf_fwhm_mm: float | None = None,
) -> AutoMasks:
    """Automatic regions of a serial 177Lu SPECT on its reference grid.

    The regions are delineated once, on the mean SUV of the time points from 12 h on
    (:func:`delineation_image`: urine and blood pool gone, noise averaged), and apply to
    every time point (the time points are registered to the reference grid beforehand).
    With several time points, lesion regions that do not stand above their surroundings at
    each of them are dropped (noise); with one, those below the liver's uptake. The organ masses are checked against their references
    by the dosimetry job (:mod:`nenscope.dosimetry.organmass`).

    Args:
        activity_bq_ml: activity maps on one grid (Bq/ml at acquisition).
        times_h: their times after administration (h).
        suv_factors: Bq/ml → SUV of each (body weight / decayed administered activity).
        affine: the grid's 4x4 index → LPS affine.
        ct: the CT (any grid, same frame) or ``None``.
        psf_fwhm_mm: the PSF FWHM (mm) of the partial-volume correction, or ``None``.
    """
    import highdicom as hd

    img, used = delineation_image(activity_bq_ml, times_h, suv_factors)
    vol = hd.Volume(img, np.asarray(affine), coordinate_system="PATIENT")
    auto = masks_from_analysis(vol, ct, psf_fwhm_mm=psf_fwhm_mm)
    for n in _doubtful_lesions(auto.masks, activity_bq_ml, img):
        del auto.masks[n]
    auto.delineation_times_h = tuple(float(times_h[i]) for i in used)
    return auto


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
