"""PERCIST 1.0 response between two studies of the same patient (constants in data/scores.toml).

Wahl RL et al., J Nucl Med 2009;50 Suppl 1:122S-150S (PERCIST 1.0) and O JH et al.,
Radiology 2016;280:576-584 (practical PERCIST): the hottest lesion's SULpeak at baseline and
follow-up (not necessarily the same lesion), the liver reference for measurability, the
total lesion glycolysis (TLG) and new lesions decide one of CMR, PMR, SMD, PMD.
"""

from __future__ import annotations

from dataclasses import dataclass

from nenscope.analysis.rules import score_rules
from nenscope.errors import NenscopeError

__all__ = ["PercistResult", "percist_measurable_threshold", "percist_response"]


@dataclass(frozen=True)
class PercistResult:
    """PERCIST category and the numbers behind it.

    Attributes:
        category: ``"CMR"``, ``"PMR"``, ``"SMD"`` or ``"PMD"``.
        relative_change: (follow-up - baseline) / baseline SULpeak.
        absolute_change_sul: follow-up - baseline SULpeak, SUL units.
        tlg_change: relative change of TLG, or ``None`` when not given.
        reason: one sentence.
    """

    category: str
    relative_change: float
    absolute_change_sul: float
    tlg_change: float | None
    reason: str


def percist_measurable_threshold(liver_sul_mean: float, liver_sul_sd: float) -> float:
    """Minimum SULpeak of a measurable lesion: 1.5 x liver SULmean + 2 SD (PERCIST 1.0)."""
    r = score_rules()["percist"]
    return (
        float(r["measurable_liver_factor"]) * liver_sul_mean
        + float(r["measurable_liver_k_sd"]) * liver_sul_sd
    )


def percist_response(
    baseline_sul_peak: float,
    followup_sul_peak: float,
    *,
    baseline_liver_sul_mean: float,
    baseline_liver_sul_sd: float,
    followup_liver_sul_mean: float | None = None,
    baseline_tlg: float | None = None,
    followup_tlg: float | None = None,
    new_lesion: bool = False,
) -> PercistResult:
    """PERCIST 1.0 category from the hottest lesion's SULpeak on both studies.

    ``followup_sul_peak`` is the hottest lesion's SULpeak at follow-up (0 when no lesion is
    left). Raises :class:`NenscopeError` when the baseline lesion is not measurable.
    """
    r = score_rules()["percist"]
    need = percist_measurable_threshold(baseline_liver_sul_mean, baseline_liver_sul_sd)
    if baseline_sul_peak < need:
        raise NenscopeError(
            f"baseline SULpeak {baseline_sul_peak:.2f} is below the PERCIST measurability "
            f"threshold {need:.2f} (1.5 x liver mean + 2 SD): response is not assessable"
        )
    rel = (followup_sul_peak - baseline_sul_peak) / baseline_sul_peak
    absd = followup_sul_peak - baseline_sul_peak
    tlg = None
    if baseline_tlg is not None and followup_tlg is not None and baseline_tlg > 0:
        tlg = (followup_tlg - baseline_tlg) / baseline_tlg
    rmin = float(r["min_relative_change"])
    amin = float(r["min_absolute_change_sul"])
    liver_fu = (
        followup_liver_sul_mean
        if followup_liver_sul_mean is not None
        else (baseline_liver_sul_mean)
    )
    if new_lesion:
        return PercistResult("PMD", rel, absd, tlg, "a new FDG-avid lesion")
    if rel > rmin and absd > amin:
        return PercistResult(
            "PMD",
            rel,
            absd,
            tlg,
            f"SULpeak rose {100 * rel:.0f} % and {absd:.2f} SUL (> 30 % and > 0.8)",
        )
    if tlg is not None and tlg > float(r["tlg_progression"]):
        return PercistResult("PMD", rel, absd, tlg, f"TLG rose {100 * tlg:.0f} % (> 75 %)")
    if followup_sul_peak <= liver_fu:
        return PercistResult(
            "CMR", rel, absd, tlg, "lesion uptake no longer above the liver (complete response)"
        )
    if rel <= -rmin and -absd >= amin:
        return PercistResult(
            "PMR",
            rel,
            absd,
            tlg,
            f"SULpeak fell {-100 * rel:.0f} % and {-absd:.2f} SUL (>= 30 % and >= 0.8)",
        )
    return PercistResult("SMD", rel, absd, tlg, "change within the PERCIST limits")
