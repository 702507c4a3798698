"""The pipeline entry: :func:`analyze` (study -> :class:`Findings`).

1. the emission volume: :func:`~nenscope.analysis.volume.analyze_volume` (references,
   threshold plan, lesions with the physiological-uptake veto, per-lesion metrics);
2. Krenning score and SSTR-RADS per lesion (SSTR agents);
3. with the same patient's FDG study: :func:`~nenscope.analysis.netpet.pair_fdg` (FDG
   uptake per lesion, FDG-only lesions) and :func:`~nenscope.analysis.netpet.grade_netpet`;
4. the patient summary (tumour volume, PRRT eligibility, NETPET) and the study record.
"""

from __future__ import annotations

from typing import Any

import highdicom as hd
import numpy as np

from nenscope.analysis._geometry import spacing_from_affine
from nenscope.analysis.findings import FdgOnlyLesion, Findings, Summary
from nenscope.analysis.netpet import grade_netpet, pair_fdg
from nenscope.analysis.options import AnalysisOptions
from nenscope.analysis.rules import agent_class_of, score_rules
from nenscope.analysis.scores import krenning_score, prrt_eligibility, sstr_rads
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
    """Krenning score and SSTR-RADS of every lesion (SSTR agents); returns warnings.

    The lesion value compared is ``scores.toml`` ``krenning.metric`` (the
    partial-volume-corrected uptake; SUVmax when it is missing). Krenning 4 compares with
    the kidneys when there is no spleen (splenectomy).
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
    metric = score_rules()["krenning"]["metric"]
    for les in va.lesions:
        value = getattr(les, metric)
        if value is None:
            value = les.suv_max
        les.krenning = krenning_score(value, liver, spleen, kidney_suv_mean=kidney)
        les.sstr_rads = sstr_rads(
            les.krenning, les.site, ct_correlate=les.ct_correlate if has_ct else None
        )
    return warnings


def _summary(
    va: VolumeAnalysis, fdg_only: list[FdgOnlyLesion] | None, netpet: str | None
) -> Summary:
    """The patient summary; ``fdg_only`` is ``None`` without an FDG study."""
    n_fdg_only = len(fdg_only) if fdg_only is not None else None
    krennings = [les.krenning for les in va.lesions]
    if va.agent_class == "sstr":
        eligible, reason = prrt_eligibility(
            krennings, [les.volume_ml for les in va.lesions], fdg_only_lesions=n_fdg_only or 0
        )
        kmax = max((k for k in krennings if k is not None), default=None)
    else:
        eligible, reason, kmax = None, None, None
    return Summary(
        n_lesions=len(va.lesions),
        sstr_tv_ml=float(sum(les.volume_ml for les in va.lesions)),
        tl_sstr=float(sum(les.tla for les in va.lesions)),
        krenning_max=kmax,
        prrt_eligible=eligible,
        prrt_reason=reason,
        netpet=netpet,
        n_fdg_only=n_fdg_only,
        threshold_suv=va.threshold_suv,
        threshold_method=va.method,
        suppressed=va.suppressed,
    )


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
) -> Findings:
    """Whole-body NEN analysis of one study (optionally with the same patient's FDG study).

    Args:
        study: a :class:`nenscope.imaging.Study` (SSTR, FDG or GLP-1R agent).
        fdg: the same patient's FDG :class:`~nenscope.imaging.Study` for NETPET, or ``None``.
        options: :class:`AnalysisOptions`.
        organ_masks: organ masks (name -> ``highdicom.Volume`` or array on the emission grid)
            that replace the automatic references and drive physiological suppression.
        fdg_organ_masks: the same for the FDG study.

    Returns:
        :class:`Findings` with references, lesions (metrics, Krenning, SSTR-RADS,
        FDG SUVmax), FDG-only lesions and the summary (PRRT eligibility, NETPET).
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
    if cls == "sstr":
        warnings.extend(_score_krenning(va))
    fdg_only: list[FdgOnlyLesion] | None = None
    fdg_ref = None
    netpet = None
    if fdg is not None:
        if cls != "sstr":
            raise NenscopeError("--fdg needs an SSTR study as the main study (NETPET)")
        pairing = pair_fdg(va, fdg, options, fdg_organ_masks)
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
    )
