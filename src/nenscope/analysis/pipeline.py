"""The pipeline entry: :func:`analyze` (study -> :class:`Findings`).

1. the emission volume: :func:`~nenscope.analysis.volume.analyze_volume` (references,
   threshold plan, lesions with the physiological-uptake veto, per-lesion metrics);
2. Krenning score (SUVmax against the liver and spleen SUVmean), SSTR-RADS and the PRRT
   target flag per lesion (SSTR agents only); the class's reading for the others (GLP-1R:
   a pancreatic focus is an insulinoma candidate);
3. with the same patient's FDG study: :func:`~nenscope.analysis.netpet.pair_fdg` (FDG
   uptake per lesion, FDG-only lesions) and :func:`~nenscope.analysis.netpet.grade_netpet`;
4. the patient summary (tumour volume, the SSTR imaging criterion for PRRT, NETPET), the
   method sentences and the study record.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import highdicom as hd
import numpy as np

from nenscope.analysis._geometry import spacing_from_affine
from nenscope.analysis.findings import FdgOnlyLesion, Findings, Summary
from nenscope.analysis.netpet import grade_netpet, pair_fdg
from nenscope.analysis.options import AnalysisOptions
from nenscope.analysis.rules import agent_class_of, class_rules, score_rules
from nenscope.analysis.scores import krenning_score, prrt_criterion, prrt_target, sstr_rads
from nenscope.analysis.volume import OrganMasks, VolumeAnalysis, analyze_volume
from nenscope.errors import NenscopeError
from nenscope.imaging.study import Study

__all__ = ["analyze", "analyze_volume", "VolumeAnalysis"]


def _kidney_reference(va: VolumeAnalysis) -> float | None:
    """Median SUV over the kidney masks (the Krenning 4 reference without a spleen)."""
    kid = [m for k, m in va.reference.masks.items() if k.lower().startswith("kidney")]
    if not kid:
        return None
    union = np.logical_or.reduce(kid)
    if not union.any():
        return None
    return float(np.median(np.asarray(va.suv.array)[union]))


def _score_krenning(va: VolumeAnalysis) -> list[str]:
    """Krenning score, SSTR-RADS and the PRRT target flag of every lesion (SSTR agents);
    returns warnings.

    The Krenning score compares the lesion SUVmax with the liver and spleen SUVmean (the
    kidneys' when there is no spleen: splenectomy).
    """
    ref = va.reference
    liver = ref.liver.suv_mean if ref.liver else None
    spleen = ref.spleen.suv_mean if ref.spleen else None
    warnings: list[str] = []
    kidney = None
    if spleen is None:
        kidney = _kidney_reference(va)
        if kidney is not None:
            warnings.append(f"no spleen reference: Krenning 4 against the kidneys ({kidney:.2f})")
    has_ct = va.ct_on_grid is not None
    for les in va.lesions:
        les.krenning = krenning_score(les.suv_max, liver, spleen, kidney_suv_mean=kidney)
        les.sstr_rads = sstr_rads(
            les.krenning, les.site, ct_correlate=les.ct_correlate if has_ct else None
        )
        les.prrt_target = prrt_target(
            les.volume_ml, les.site, les.sstr_rads, les.ct_correlate if has_ct else None
        )
    return warnings


def _read_lesions(va: VolumeAnalysis) -> None:
    """The reading of a class without SSTR scores (GLP-1R: a focus at the pancreas is an
    insulinoma candidate)."""
    pancreas = class_rules(va.agent_class).get("pancreas_reading")
    for les in va.lesions:
        if pancreas and les.site.startswith("pancreas"):
            les.reading = str(pancreas)


def _summary(
    va: VolumeAnalysis, fdg_only: list[FdgOnlyLesion] | None, netpet: str | None
) -> Summary:
    """The patient summary; ``fdg_only`` is ``None`` without an FDG study."""
    n_fdg_only = len(fdg_only) if fdg_only is not None else None
    krennings = [les.krenning for les in va.lesions]
    met, reason, kmax = None, None, None
    failing: list[int] = []
    skipped: list[str] = []
    if class_rules(va.agent_class)["scores"] == "sstr":
        crit = prrt_criterion(
            [les.id for les in va.lesions],
            krennings,
            [bool(les.prrt_target) for les in va.lesions],
            fdg_only_lesions=n_fdg_only or 0,
        )
        met, reason = crit.met, crit.reason
        failing, skipped = list(crit.failing), list(crit.not_assessed)
        kmax = max((k for k in krennings if k is not None), default=None)
    return Summary(
        n_lesions=len(va.lesions),
        sstr_tv_ml=float(sum(les.volume_ml for les in va.lesions)),
        tl_sstr=float(sum(les.tla for les in va.lesions)),
        krenning_max=kmax,
        prrt_criterion_met=met,
        prrt_reason=reason,
        netpet=netpet,
        n_fdg_only=n_fdg_only,
        threshold_suv=va.threshold_suv,
        threshold_method=va.method,
        suppressed=va.suppressed,
        prrt_failing_lesions=failing,
        prrt_not_assessed=skipped,
    )


def _method(va: VolumeAnalysis, options: AnalysisOptions) -> dict[str, str]:
    """What was measured and compared, in sentences (``Findings.method``)."""
    cls = class_rules(va.agent_class)
    out = {"reading": f"{cls['reading']} ({cls['citation']})"}
    psf = va.options.psf_fwhm_mm
    if psf is None:
        out["pvc"] = (
            "no partial-volume correction: the scanner's resolution is unknown (give "
            "--psf-fwhm-mm or a scanner profile from 'nenscope calibrate')"
        )
    else:
        source = (
            "--psf-fwhm-mm"
            if options.psf_fwhm_mm is not None
            else f"scanner profile {options.scanner.name}"  # type: ignore[union-attr]
        )
        out["pvc"] = (
            f"partial-volume-corrected uptake (SUV PVC column): blurred-sphere model with a "
            f"Gaussian of {psf:.1f} mm FWHM ({source}); not used by the Krenning score"
        )
    if cls["scores"] == "sstr":
        k = score_rules()["krenning"]
        band = 100 * float(k["about_liver_band"])
        out["krenning"] = (
            "Krenning score: lesion SUVmax against the liver and spleen SUVmean of the same "
            f"image, uncorrected (1 below liver, 2 within +-{band:.0f} % of the liver SUVmean, "
            "3 above liver, 4 above spleen)"
        )
        r = score_rules()["prrt"]
        out["prrt"] = (
            "SSTR imaging criterion for PRRT: every target lesion (measurable: >= "
            f"{float(r['target_min_diameter_mm']):.0f} mm, lymph nodes >= "
            f"{float(r['target_min_node_diameter_mm']):.0f} mm, with a CT correlate when "
            "there is a CT; not at an atypical site) has "
            f"uptake >= liver (Krenning >= {int(r['min_krenning'])}) and no FDG-positive "
            f"SSTR-negative lesion (NETPET P5) ({r['citation']}); the clinical criteria are "
            "not assessed"
        )
    return out


def _study_summary(
    study: Study, agent: str, agent_class: str, suv: hd.Volume, kind: str
) -> dict[str, Any]:
    p = study.patient
    act = study.injected_activity_bq
    return {
        "agent": agent,
        "agent_class": agent_class,
        "modality": study.modality,
        "units": study.units,
        "suv_kind": kind,
        "study_instance_uid": study.study_instance_uid,
        "series_instance_uid": study.series_instance_uid,
        "ct_series_instance_uid": study.ct_series_instance_uid,
        "frame_of_reference_uid": suv.frame_of_reference_uid,
        "injected_activity_mbq": None if act is None else round(act / 1e6, 2),
        "scan_start_datetime": study.scan_start_datetime,
        "patient_sex": p.sex,
        "patient_weight_kg": p.weight_kg,
        "patient_height_m": p.height_m,
        "grid_shape": list(suv.spatial_shape),
        "spacing_mm": [round(s, 4) for s in spacing_from_affine(suv.affine)],
        "has_ct": study.ct is not None,
    }


def analyze(
    study: Study,
    *,
    fdg: Study | None = None,
    options: AnalysisOptions = AnalysisOptions(),
    organ_masks: OrganMasks | None = None,
    fdg_organ_masks: OrganMasks | None = None,
    pending_fdg: Callable[[], tuple[Study, VolumeAnalysis]] | None = None,
) -> Findings:
    """Whole-body NEN analysis of one study (optionally with the same patient's FDG study).

    Args:
        study: a :class:`nenscope.imaging.Study` (SSTR, FDG or GLP-1R agent).
        fdg: the same patient's FDG :class:`~nenscope.imaging.Study` for NETPET, or ``None``.
        options: :class:`AnalysisOptions`.
        organ_masks: organ masks (name -> ``highdicom.Volume`` or array on the emission grid)
            that replace the automatic references and drive physiological suppression.
        fdg_organ_masks: the same for the FDG study.
        pending_fdg: instead of ``fdg``, a call that gives the FDG study and its
            :func:`~nenscope.analysis.netpet.analyze_fdg` with these ``options`` and
            ``fdg_organ_masks``; made after this study's own analysis, so that the FDG study
            can be read and analysed meanwhile elsewhere (the analysis job: in a child
            process).

    Returns:
        :class:`Findings` with references, lesions (metrics, Krenning, SSTR-RADS,
        FDG SUVmax), FDG-only lesions, the summary (SSTR imaging criterion for PRRT, NETPET)
        and the method sentences.
    """
    agent = options.tracer or study.agent
    cls = agent_class_of(agent)
    suv = study.suv(options.suv_kind)
    va = analyze_volume(
        suv,
        agent_class=cls,
        ct=study.ct,
        organ_masks=organ_masks,
        options=options,
        radionuclide=study.radionuclide,
    )
    warnings = list(va.warnings) + list(study.warnings or [])
    if class_rules(cls)["scores"] == "sstr":
        warnings.extend(_score_krenning(va))
    else:
        _read_lesions(va)
    fdg_only: list[FdgOnlyLesion] | None = None
    fdg_ref = None
    netpet = None
    if fdg is not None or pending_fdg is not None:
        if cls != "sstr":
            raise NenscopeError("--fdg needs an SSTR study as the main study (NETPET)")
        fdg_analysis = None
        if pending_fdg is not None:
            fdg, fdg_analysis = pending_fdg()
        pairing = pair_fdg(va, fdg, options, fdg_organ_masks, fdg_analysis)
        warnings.extend(pairing.warnings)
        liver = va.reference.liver.suv_mean if va.reference.liver else None
        netpet = grade_netpet(va.lesions, pairing, liver)
        fdg_only, fdg_ref = pairing.fdg_only, pairing.reference
    return Findings(
        study=_study_summary(study, str(agent), cls, suv, options.suv_kind),
        reference=va.reference,
        lesions=va.lesions,
        summary=_summary(va, fdg_only, netpet),
        labels=suv.with_array(va.labels),
        fdg_only_lesions=fdg_only or [],
        fdg_reference=fdg_ref,
        warnings=warnings,
        method=_method(va, options),
    )
