"""Scores: Krenning, SSTR-RADS 1.0, PRRT eligibility, NETPET (constants in ``data/scores.toml``).

- Krenning scale (Krenning EP et al., Ann N Y Acad Sci 2004;1014:234-245), PET adaptation by
  lesion SUVmax against liver and spleen SUVmean (SNMMI/EANM SSTR PET guideline, Hope TA et al.,
  J Nucl Med 2023;64:204; NANETS/SNMMI PRRT procedure standard, J Nucl Med 2019;60:937).
- SSTR-RADS 1.0 (Werner RA et al., J Nucl Med 2018;59:1085-1091).
- PRRT eligibility (Hicks RJ et al., Neuroendocrinology 2017;105:295; Zaknun JJ et al.,
  EJNMMI 2013;40:800): sufficient SSTR expression (Krenning >= 3) in the tumour burden and no
  FDG-positive, SSTR-negative disease.
- NETPET (Chan DLH et al., Theranostics 2017;7:1149-1158).
"""

from __future__ import annotations

from collections.abc import Sequence

from nenscope.analysis.rules import score_rules

__all__ = ["krenning_score", "sstr_rads", "prrt_eligibility", "netpet_lesion", "netpet_grade"]


def krenning_score(
    suv: float,
    liver_suv_mean: float | None,
    spleen_suv_mean: float | None,
    *,
    kidney_suv_mean: float | None = None,
) -> int | None:
    """Krenning score 0-4 of one lesion from its uptake (SUVmax by default).

    0 none (below ``none_below_liver_fraction`` x liver), 1 below liver, 2 about liver
    (``about_liver_low``-``about_liver_high`` x liver), 3 above liver, 4 above spleen (kidney
    when there is no spleen).
    Returns ``None`` without a liver reference.
    """
    if liver_suv_mean is None or not liver_suv_mean > 0:
        return None
    k = score_rules()["krenning"]
    if suv < float(k["none_below_liver_fraction"]) * liver_suv_mean:
        return 0
    if suv < float(k["about_liver_low"]) * liver_suv_mean:
        return 1
    if suv <= float(k["about_liver_high"]) * liver_suv_mean:
        return 2
    upper = spleen_suv_mean if spleen_suv_mean else kidney_suv_mean
    if upper is not None and suv > upper:
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


def prrt_eligibility(
    krennings: Sequence[int | None],
    volumes_ml: Sequence[float],
    *,
    fdg_only_lesions: int = 0,
) -> tuple[bool, str]:
    """Whether the SSTR expression supports PRRT, with the reason in one sentence."""
    r = score_rules()["prrt"]
    kmin = int(r["min_krenning"])
    if not krennings:
        return False, "no SSTR-positive lesion was found"
    if any(k is None for k in krennings):
        return False, "Krenning scores unavailable (no liver reference)"
    total = float(sum(volumes_ml))
    ok = float(sum(v for k, v in zip(krennings, volumes_ml, strict=True) if k >= kmin))  # type: ignore[operator]
    frac = ok / total if total > 0 else 0.0
    if fdg_only_lesions:
        return False, (
            f"{fdg_only_lesions} FDG-positive lesion(s) without SSTR uptake (NETPET P5): "
            "SSTR-negative disease would not be treated"
        )
    if frac >= float(r["min_volume_fraction"]):
        return True, (
            f"{100 * frac:.0f} % of the tumour volume has uptake above the liver "
            f"(Krenning >= {kmin}) in {sum(1 for k in krennings if k >= kmin)} of "  # type: ignore[operator]
            f"{len(krennings)} lesions"
        )
    return False, (
        f"only {100 * frac:.0f} % of the tumour volume has uptake above the liver "
        f"(Krenning >= {kmin}); {100 * float(r['min_volume_fraction']):.0f} % is required"
    )


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
