"""Scores: Krenning, SSTR-RADS 1.0, the SSTR imaging criterion for PRRT, NETPET.

Constants and citations are in ``data/scores.toml``.

- Krenning scale (Krenning EP et al., Eur J Nucl Med 1993;20:716; Ann N Y Acad Sci
  2004;1014:234-245), PET reading: lesion SUVmax against the liver and spleen SUVmean of the
  same image (SNMMI/EANM SSTR PET guideline, Hope TA et al., J Nucl Med 2023;64:204).
- SSTR-RADS 1.0 (Werner RA et al., J Nucl Med 2018;59:1085-1091).
- SSTR imaging criterion for PRRT, per lesion: every target (measurable) lesion has uptake
  >= normal liver (NETTER-1, Strosberg J et al., N Engl J Med 2017;376:125; NANETS/SNMMI
  procedure standard, Hope TA et al., J Nucl Med 2019;60:937), and no FDG-positive,
  SSTR-negative disease (NETPET P5).
- NETPET (Chan DLH et al., Theranostics 2017;7:1149-1158).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from nenscope.analysis.rules import score_rules

__all__ = [
    "PrrtCriterion",
    "krenning_score",
    "netpet_grade",
    "netpet_lesion",
    "prrt_criterion",
    "prrt_target",
    "sstr_rads",
]


def krenning_score(
    suv_max: float,
    liver_suv_mean: float | None,
    spleen_suv_mean: float | None,
    *,
    kidney_suv_mean: float | None = None,
) -> int | None:
    """Krenning score 0-4 of one lesion from its SUVmax.

    0 none (below ``none_below_liver_fraction`` x liver), 1 below liver, 2 about liver
    (within ``about_liver_band`` of the liver SUVmean), 3 above liver, 4 above spleen
    (kidney when there is no spleen). Returns ``None`` without a liver reference.
    """
    if liver_suv_mean is None or not liver_suv_mean > 0:
        return None
    k = score_rules()["krenning"]
    band = float(k["about_liver_band"])
    if suv_max < float(k["none_below_liver_fraction"]) * liver_suv_mean:
        return 0
    if suv_max < (1.0 - band) * liver_suv_mean:
        return 1
    if suv_max <= (1.0 + band) * liver_suv_mean:
        return 2
    upper = spleen_suv_mean if spleen_suv_mean else kidney_suv_mean
    if upper is not None and suv_max > upper:
        return 4
    return 3


def sstr_rads(krenning: int | None, site: str, *, ct_correlate: bool | None) -> str | None:
    """SSTR-RADS 1.0 category of one lesion.

    ``ct_correlate`` is ``None`` when no CT is available (then intense uptake at a typical
    site is category 4, as no anatomic correlate can be shown). Categories 1 and 2 concern
    normal or benign-appearing findings and are not assigned to segmented lesions.
    """
    if krenning is None:
        return None
    r = score_rules()["sstr_rads"]
    atypical = site.split(" ")[0] in set(r["atypical_sites"])
    if krenning >= int(r["intense_min_krenning"]):
        if atypical:
            return "3C"
        return "5" if ct_correlate else "4"
    if krenning == 0:
        return "3D" if ct_correlate else None
    return "3B" if site == "bone" else "3A"


def prrt_target(
    volume_ml: float, site: str, sstr_rads_category: str | None, ct_correlate: bool | None
) -> bool:
    """Whether a lesion is a target lesion of the PRRT imaging criterion.

    Measurable (RECIST 1.1 size, from the diameter of the sphere of its volume; lymph nodes
    15 mm), seen on the CT when there is one (``ct_correlate`` ``False``: a focus without an
    anatomic lesion is not measurable; ``None``: no CT), and not at a site atypical for NET
    (SSTR-RADS 3C).
    """
    r = score_rules()["prrt"]
    if sstr_rads_category == "3C" or ct_correlate is False:
        return False
    diameter = (6.0 * max(volume_ml, 0.0) * 1000.0 / math.pi) ** (1.0 / 3.0)
    key = "target_min_node_diameter_mm" if site == "lymph node" else "target_min_diameter_mm"
    return diameter >= float(r[key])


@dataclass(frozen=True)
class PrrtCriterion:
    """The SSTR imaging criterion for PRRT of one study.

    Attributes:
        met: every target lesion has uptake >= liver and there is no SSTR-negative FDG-avid
            disease; ``None`` when it cannot be judged (no liver reference, no lesion).
        reason: one sentence (what was compared, which lesions fail).
        failing: ids of the target lesions with uptake below the liver.
        targets: ids of the target lesions.
        not_assessed: the clinical criteria an image cannot judge (``scores.toml``).
    """

    met: bool | None
    reason: str
    failing: tuple[int, ...] = ()
    targets: tuple[int, ...] = ()
    not_assessed: tuple[str, ...] = field(default_factory=tuple)


def prrt_criterion(
    lesion_ids: Sequence[int],
    krennings: Sequence[int | None],
    targets: Sequence[bool],
    *,
    fdg_only_lesions: int = 0,
) -> PrrtCriterion:
    """The SSTR imaging criterion for PRRT: every target lesion at Krenning >= ``min_krenning``
    (uptake >= normal liver), no FDG-only lesion (NETPET P5).

    Without a measurable lesion every lesion is a target (a note says so).
    """
    r = score_rules()["prrt"]
    kmin = int(r["min_krenning"])
    skip = tuple(str(x) for x in r["not_assessed"])
    if not lesion_ids:
        return PrrtCriterion(None, "no SSTR-positive lesion was found", not_assessed=skip)
    if any(k is None for k in krennings):
        return PrrtCriterion(
            None, "Krenning scores unavailable (no liver reference)", not_assessed=skip
        )
    chosen = [i for i, t in zip(lesion_ids, targets, strict=True) if t]
    note = ""
    if not chosen:
        chosen = list(lesion_ids)
        note = "no measurable lesion (>= 10 mm), all lesions judged; "
    k_of = dict(zip(lesion_ids, krennings, strict=True))
    failing = tuple(i for i in chosen if k_of[i] < kmin)  # type: ignore[operator]
    ids = ", ".join(str(i) for i in failing)
    band = 100 * float(score_rules()["krenning"]["about_liver_band"])
    if failing:
        reason = (
            f"{note}{len(failing)} of {len(chosen)} target lesions (lesion {ids}) have SSTR "
            f"uptake below the liver (Krenning < {kmin}: SUVmax more than {band:.0f} % below "
            "the liver SUVmean)"
        )
    else:
        reason = (
            f"{note}all {len(chosen)} target lesions have SSTR uptake at least that of the "
            f"liver (Krenning >= {kmin}: SUVmax at least the liver SUVmean within {band:.0f} %)"
        )
    if fdg_only_lesions:
        reason += (
            f"; {fdg_only_lesions} FDG-positive lesion(s) without SSTR uptake (NETPET P5): "
            "SSTR-negative disease would not be treated"
        )
    met = not failing and not fdg_only_lesions
    return PrrtCriterion(met, reason, failing, tuple(chosen), skip)


def netpet_lesion(
    sstr_krenning: int | None,
    sstr_tlr: float | None,
    fdg_suv: float | None,
    fdg_liver_suv_mean: float | None,
    fdg_liver_suv_sd: float = 0.0,
) -> str | None:
    """NETPET grade of one lesion seen on both studies (P0-P5), or ``None`` if unknown.

    ``fdg_suv`` is the lesion's FDG uptake (the pipeline passes SUVpeak, robust to noise) and
    ``sstr_tlr`` its SSTR uptake over the SSTR liver mean (same measure). FDG-positive: above
    ``fdg_positive_liver_ratio`` x the FDG liver mean + ``fdg_positive_k_sd`` liver SDs;
    the FDG/SSTR comparison uses the liver-normalised uptakes.
    """
    if fdg_suv is None or fdg_liver_suv_mean is None or sstr_krenning is None:
        return None
    r = score_rules()["netpet"]
    fdg_tlr = fdg_suv / fdg_liver_suv_mean
    fdg_pos = fdg_suv > (
        float(r["fdg_positive_liver_ratio"]) * fdg_liver_suv_mean
        + float(r["fdg_positive_k_sd"]) * fdg_liver_suv_sd
    )
    sstr_pos = sstr_krenning >= int(r["sstr_positive_min_krenning"])
    if not fdg_pos:
        return "P1" if sstr_pos else "P0"
    if not sstr_pos:
        return "P5"
    ratio = fdg_tlr / sstr_tlr if sstr_tlr else float("inf")
    if ratio < float(r["about_low"]):
        return "P2"
    if ratio <= float(r["about_high"]):
        return "P3"
    return "P4"


def netpet_grade(lesion_grades: Sequence[str | None], *, n_fdg_only: int = 0) -> str | None:
    """Patient NETPET grade: the highest lesion grade (P5 with any FDG-only lesion)."""
    if n_fdg_only > 0:
        return "P5"
    grades = [g for g in lesion_grades if g is not None]
    if not grades:
        return None
    return max(grades, key=lambda g: int(g[1]))
