"""The FDG study next to the SSTR study: FDG uptake per SSTR lesion, FDG-only lesions, NETPET.

The FDG study is analysed in FDG mode (:func:`~nenscope.analysis.volume.analyze_volume`),
brought onto the SSTR grid (:mod:`~nenscope.analysis.matching`), and paired with the SSTR
lesions (:func:`pair_fdg`); :func:`grade_netpet` then grades each lesion and the patient
(Chan DLH et al., Theranostics 2017;7:1149-1158; constants in ``data/scores.toml``
``[netpet]``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from nenscope.analysis._geometry import indices_to_lps, spacing_from_affine
from nenscope.analysis.findings import FdgOnlyLesion
from nenscope.analysis.matching import align_to
from nenscope.analysis.metrics import Lesion, lesion_pvc
from nenscope.analysis.options import AnalysisOptions
from nenscope.analysis.reference import ReferenceRegions
from nenscope.analysis.rules import score_rules
from nenscope.analysis.scores import krenning_score, netpet_grade, netpet_lesion
from nenscope.analysis.suvpeak import suv_peak_map, suv_peak_per_label
from nenscope.analysis.volume import OrganMasks, VolumeAnalysis, analyze_volume
from nenscope.imaging.geometry import robust_sd
from nenscope.imaging.study import Study

__all__ = ["FdgPairing", "analyze_fdg", "grade_netpet", "pair_fdg"]


@dataclass(eq=False)
class FdgPairing:
    """What the FDG study adds to the SSTR study (the SSTR lesions get their FDG uptake).

    Attributes:
        reference: the FDG study's reference regions.
        fdg_only: FDG-avid lesions without an SSTR lesion or SSTR uptake (NETPET P5).
        graded: NETPET grades of FDG lesions without an SSTR lesion but with SSTR uptake
            (graded like matched lesions instead of counting as FDG-only).
        liver_peak_sd: SD of the FDG SUVpeak (1 cm^3 sphere mean) over the FDG liver:
            robust SD of the SUVpeak map in the liver mask eroded by 2 voxels (0 without).
        warnings: notes for the findings (``"FDG: ..."``).
    """

    reference: ReferenceRegions
    fdg_only: list[FdgOnlyLesion] = field(default_factory=list)
    graded: list[str] = field(default_factory=list)
    liver_peak_sd: float = 0.0
    warnings: list[str] = field(default_factory=list)


def analyze_fdg(
    fdg: Study, options: AnalysisOptions, fdg_organ_masks: OrganMasks | None = None
) -> VolumeAnalysis:
    """The FDG study's own analysis in FDG mode; of the user's ``options`` the SUV kind,
    minimum volume, splitting, filling and detection smoothing carry over."""
    fdg_opts = AnalysisOptions(
        tracer="18F-FDG",
        suv_kind=options.suv_kind,
        min_volume_ml=options.min_volume_ml,
        split_lesions=options.split_lesions,
        fill_holes=options.fill_holes,
        detect_smooth_fwhm_mm=options.detect_smooth_fwhm_mm,
    )
    return analyze_volume(
        fdg.suv(options.suv_kind),
        agent_class="fdg",
        ct=fdg.ct,
        organ_masks=fdg_organ_masks,
        options=fdg_opts,
        radionuclide=fdg.radionuclide or "F-18",
    )


def pair_fdg(
    va: VolumeAnalysis,
    fdg: Study,
    options: AnalysisOptions,
    fdg_organ_masks: OrganMasks | None = None,
    fva: VolumeAnalysis | None = None,
) -> FdgPairing:
    """Analyse the FDG study and pair it with the SSTR analysis ``va``.

    Sets ``fdg_suv_max``, ``fdg_suv_peak`` and (with a partial-volume-corrected SSTR
    uptake) ``fdg_suv_pvc``/``fdg_recovery`` on each lesion of ``va``.

    Args:
        va: the SSTR study's volume analysis.
        fdg: the same patient's FDG study.
        options: the user's options (see :func:`analyze_fdg`).
        fdg_organ_masks: organ masks of the FDG study, or ``None``.
        fva: the FDG study's :func:`analyze_fdg` when it ran already (beside the SSTR
            analysis, in another process); ``None``: it runs here.
    """
    fdg_suv = fdg.suv(options.suv_kind)
    if fva is None:
        fva = analyze_fdg(fdg, options, fdg_organ_masks)
    warnings = [f"FDG: {w}" for w in fva.warnings]
    align = align_to(
        va.suv,
        fdg_suv,
        fixed_ct=None if va.ct_on_grid is None else va.suv.with_array(va.ct_on_grid),
        moving_ct=fdg.ct,
    )
    if align.transform is not None:
        warnings.append(f"FDG study aligned by {align.method}")
    fdg_on = align.resample(fdg_suv, va.suv, order=1)
    fdg_lab_on = align.resample(fdg_suv.with_array(fva.labels), va.suv, order=0).astype(np.int32)
    _fdg_suv_max(va, fdg_on, registered=align.transform is not None)
    _fdg_peak_and_pvc(va, fdg_on)
    pairing = FdgPairing(reference=fva.reference, warnings=warnings)
    _unmatched_fdg_lesions(pairing, va, fva, fdg_on, fdg_lab_on)
    pairing.liver_peak_sd = _liver_peak_sd(fva)
    return pairing


def _fdg_suv_max(va: VolumeAnalysis, fdg_on: NDArray, *, registered: bool) -> None:
    """FDG SUVmax in each SSTR lesion (dilated by one voxel after a registration, for the
    residual misalignment)."""
    for les, sl in zip(va.lesions, ndimage.find_objects(va.labels), strict=False):
        if sl is None:
            continue
        box = tuple(
            slice(max(0, s.start - 2), min(d, s.stop + 2))
            for s, d in zip(sl, va.labels.shape, strict=True)
        )
        m = va.labels[box] == les.label
        if registered:
            m = ndimage.binary_dilation(m, iterations=1)
        les.fdg_suv_max = float(fdg_on[box][m].max())


def _fdg_peak_and_pvc(va: VolumeAnalysis, fdg_on: NDArray) -> None:
    """FDG SUVpeak per SSTR lesion, and (with a known resolution) its partial-volume-corrected
    uptake.

    Same lesion, same size, same scanner blur: the SSTR study's recovery of the SUVpeak
    contrast, (peak - background) / (corrected - background), clipped to 0.2-1, applies to
    the FDG SUVpeak contrast over the FDG background around the lesion.
    """
    psf = va.options.psf_fwhm_mm
    spacing = spacing_from_affine(va.suv.affine)
    peaks, _ = suv_peak_per_label(fdg_on, va.labels, spacing)
    objs = ndimage.find_objects(va.labels)
    for les in va.lesions:
        les.fdg_suv_peak = float(peaks[les.label - 1])
    if psf is None:  # no known resolution: no partial-volume correction
        return
    reach = [int(np.ceil(2.0 * psf / sp)) + 1 for sp in spacing]
    for les in va.lesions:
        sl = objs[les.label - 1]
        if sl is None:
            continue
        bg_f, _ = lesion_pvc(
            fdg_on, va.labels, les.label, sl, va.suv.affine, reach, psf, background_only=True
        )
        bg_s = les.background_suv
        if bg_f is not None and bg_s is not None and les.suv_pvc is not None:
            denom = les.suv_pvc - bg_s
            rc = (les.suv_peak - bg_s) / denom if denom > 0 else 1.0
            rc = float(np.clip(rc, 0.2, 1.0))
            les.fdg_suv_pvc = bg_f + (les.fdg_suv_peak - bg_f) / rc
            les.fdg_recovery = rc


def _sstr_positive_grade(
    va: VolumeAnalysis, sstr_max: float, sstr_mean: float, fdg_suv: float, fdg_liver: float | None
) -> tuple[int | None, str | None]:
    """Krenning score (the SSTR SUVmax in the FDG lesion's core, as the Krenning score is
    read) and NETPET grade (the core's SSTR mean over the liver's) of an FDG lesion without
    an SSTR lesion; the grade is ``None`` unless the uptake is SSTR-positive."""
    liver, spleen = va.reference.liver, va.reference.spleen
    if liver is None or va.agent_class != "sstr":
        return None, None
    k = krenning_score(sstr_max, liver.suv_mean, spleen.suv_mean if spleen else None)
    min_k = int(score_rules()["netpet"]["sstr_positive_min_krenning"])
    if k is None or k < min_k or fdg_liver is None:
        return k, None
    return k, netpet_lesion(k, sstr_mean / liver.suv_mean, fdg_suv, fdg_liver)


def _unmatched_fdg_lesions(
    pairing: FdgPairing,
    va: VolumeAnalysis,
    fva: VolumeAnalysis,
    fdg_on: NDArray,
    fdg_lab_on: NDArray[np.int32],
) -> None:
    """FDG lesions without an SSTR lesion within the match distance: graded, FDG-only, or
    left out (not clearly FDG-avid: physiological bowel, muscle or marrow uptake).

    No SSTR lesion there is not the same as no SSTR expression (NETPET P5): a lesion with
    uptake about the liver's is invisible on SSTR PET inside the liver and at the detection
    limit elsewhere. The SSTR uptake in the FDG lesion's core (its voxels at >= 70 % of its
    FDG maximum: the FDG extent is blurred into the surroundings, e.g. the liver) is scored
    on the Krenning scale (its SSTR SUVmax); if SSTR-positive, the lesion is graded P2-P4
    like a matched one (FDG partial-volume-corrected uptake from the FDG study, or its SUVpeak)
    instead of counting as FDG-only.
    """
    spacing = spacing_from_affine(va.suv.affine)
    iters = max(1, int(round(va.options.match_distance_mm / min(spacing))))
    sstr_near = ndimage.binary_dilation(va.labels > 0, iterations=iters)
    fl_lesions = {fl.label: fl for fl in fva.lesions}
    fdg_liver = fva.reference.liver.suv_mean if fva.reference.liver else None
    fdg_only_ratio = float(score_rules()["netpet"]["fdg_only_min_liver_ratio"])
    sstr_arr = np.asarray(va.suv.array, dtype=np.float32)
    for lab in range(1, int(fdg_lab_on.max()) + 1):
        m = fdg_lab_on == lab
        if not m.any() or (m & sstr_near).any() or lab not in fl_lesions:
            continue
        fl = fl_lesions[lab]
        com = np.array(ndimage.center_of_mass(m))
        centre = tuple(float(c) for c in indices_to_lps(va.suv.affine, com)[0])
        core = m & (fdg_on >= 0.7 * float(fdg_on[m].max()))
        sstr_mean = float(sstr_arr[core].mean())
        # the sphere-model correction of a uniform lesion cannot fall below the measured
        # SUVpeak; when it does, the fit followed the FDG delineation's noise (liver mean
        # + 1 SD inside the liver) and the SUVpeak is the better estimate
        k, grade = _sstr_positive_grade(
            va,
            float(sstr_arr[core].max()),
            sstr_mean,
            max(fl.suv_pvc or 0.0, fl.suv_peak),
            fdg_liver,
        )
        if grade is not None:
            pairing.graded.append(grade)
            pairing.warnings.append(
                f"FDG lesion at {[round(c, 1) for c in centre]} mm has no SSTR lesion but "
                f"SSTR uptake {sstr_mean:.2f} (Krenning {k}): NETPET {grade}, not FDG-only"
            )
            continue
        if fdg_liver is not None and fl.suv_peak < fdg_only_ratio * fdg_liver:
            continue
        pairing.fdg_only.append(
            FdgOnlyLesion(
                id=len(pairing.fdg_only) + 1,
                center_mm=centre,  # type: ignore[arg-type]
                volume_ml=fl.volume_ml,
                fdg_suv_max=fl.suv_max,
                fdg_suv_mean=fl.suv_mean,
            )
        )


def _liver_peak_sd(fva: VolumeAnalysis) -> float:
    """Robust SD of the FDG SUVpeak map over the FDG liver mask eroded by 2 voxels (0
    without a liver mask or with <= 100 voxels left)."""
    fl_mask = fva.reference.masks.get("liver")
    if fl_mask is None or not fl_mask.any():
        return 0.0
    sl = ndimage.find_objects(fl_mask.astype(np.uint8))[0]
    core = ndimage.binary_erosion(fl_mask[sl], iterations=2)
    if core.sum() <= 100:
        return 0.0
    suv = np.asarray(fva.suv.array, dtype=np.float32)[sl]
    return robust_sd(suv_peak_map(suv, spacing_from_affine(fva.suv.affine))[core])


def grade_netpet(
    lesions: list[Lesion], pairing: FdgPairing, sstr_liver_suv: float | None
) -> str | None:
    """NETPET grade of each lesion (``Lesion.netpet``) and of the patient.

    NETPET compares partial-volume-corrected uptakes (the same sphere model as the Krenning
    score, on each study): a voxel maximum of a noisy FDG image would call every lesion
    FDG-positive, and blur affects the two tracers' contrasts unequally. FDG-positive must
    be significant: the correction divides the SUVpeak contrast by the lesion's recovery
    (0.2-1), and its noise with it, so the positivity threshold is raised by k SD of the
    SUVpeak noise (measured in the FDG liver) divided by that recovery: noise is not turned
    into FDG avidity. ``"P0"`` when no lesion is graded but the FDG liver is known.
    """
    fdg_liver = pairing.reference.liver.suv_mean if pairing.reference.liver else None
    grades = []
    for les in lesions:
        sstr_val = les.suv_pvc if les.suv_pvc is not None else les.suv_peak
        fdg_val = les.fdg_suv_pvc if les.fdg_suv_pvc is not None else les.fdg_suv_peak
        rc = les.fdg_recovery if les.fdg_suv_pvc is not None else 1.0
        les.netpet = netpet_lesion(
            les.krenning,
            sstr_val / sstr_liver_suv if sstr_liver_suv else None,
            fdg_val,
            fdg_liver,
            fdg_liver_suv_sd=pairing.liver_peak_sd / (rc or 1.0),
        )
        grades.append(les.netpet)
    netpet = netpet_grade(grades + pairing.graded, n_fdg_only=len(pairing.fdg_only))
    if netpet is None and fdg_liver is not None:
        netpet = "P0"
    return netpet
