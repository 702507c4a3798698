"""Patient-level response categories between a prior and a current study.

Each function takes plain numbers (already matched lesion by lesion) and returns a
:class:`Response`; thresholds and citations come from ``data/response_criteria.toml``
(PERCIST's from :mod:`nenscope.analysis.percist`, so each fact lives once):

- :func:`percist` PERCIST 1.0 on FDG (Wahl 2009): hottest lesion's SULpeak, 30 % and 0.8 SUL,
  TLG, new lesions;
- :func:`eortc` EORTC 1999 on FDG (Young 1999): SUVmax of the baseline tumour regions,
  their extent, new lesions;
- :func:`recist` RECIST 1.1 (Eisenhauer 2009) on CT long axes, where the CT is diagnostic;
- :func:`sstr_volume` and :func:`sstr_uptake`: SSTR-PET research criteria as reported in
  the literature; no consensus SSTR criterion exists (``CONSENSUS_STATEMENT``).

A category of ``None`` means "not assessable"; the reason says why.
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from nenscope.analysis import percist_response
from nenscope.errors import NenscopeError

__all__ = [
    "EortcTarget",
    "RecistTarget",
    "Response",
    "consensus_statement",
    "criteria_table",
    "eortc",
    "not_assessable",
    "percist",
    "recist",
    "select_recist_targets",
    "sstr_uptake",
    "sstr_volume",
]


@lru_cache(maxsize=1)
def criteria_table() -> dict[str, Any]:
    """``data/response_criteria.toml`` (parsed once)."""
    text = (
        resources.files("nenscope.followup")
        .joinpath("data/response_criteria.toml")
        .read_text("utf-8")
    )
    return tomllib.loads(text)


def consensus_statement() -> str:
    """The sentence every report carries: no consensus SSTR-PET criterion exists (cited)."""
    c = criteria_table()["consensus"]
    return f"{c['sstr_statement']} ({c['citation']})"


@dataclass(frozen=True)
class Response:
    """One criterion's verdict.

    Attributes:
        criterion: key in the data file (``"percist"``, ``"sstr_volume"``, ...).
        category: the criterion's category, or ``None`` when not assessable.
        reason: one sentence with the numbers behind it.
        name, citation, consensus: from the data file (``consensus`` False for research
            criteria without an agreed standard).
    """

    criterion: str
    category: str | None
    reason: str
    name: str
    citation: str
    consensus: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "criterion": self.criterion,
            "name": self.name,
            "category": self.category,
            "reason": self.reason,
            "citation": self.citation,
            "consensus": self.consensus,
        }


def _response(key: str, category: str | None, reason: str) -> Response:
    row = criteria_table()[key]
    return Response(key, category, reason, row["name"], row["citation"], bool(row["consensus"]))


def not_assessable(key: str, reason: str) -> Response:
    """Criterion ``key`` could not be applied, for ``reason``."""
    return _response(key, None, reason)


def _pct(fraction: float) -> str:
    return f"{100.0 * fraction:+.0f} %"


def sstr_volume(tv_prior_ml: float, tv_current_ml: float, n_new: int) -> Response:
    """SSTR tumour-volume criterion: volume change against RECIST thresholds extrapolated to
    spheres.

    CR: no lesion left and none new; PD: a new lesion or TV up >= 73 %; PR: TV down >= 65 %;
    SD otherwise. Not assessable without lesions at the prior study.
    """
    r = criteria_table()["sstr_volume"]
    if n_new > 0:
        return _response("sstr_volume", "PD", f"{n_new} new lesion(s)")
    if tv_prior_ml <= 0:
        return _response("sstr_volume", None, "no SSTR-avid lesion at the prior study")
    change = (tv_current_ml - tv_prior_ml) / tv_prior_ml
    text = f"tumour volume {tv_prior_ml:.1f} -> {tv_current_ml:.1f} ml ({_pct(change)})"
    if tv_current_ml <= 0:
        return _response("sstr_volume", "CR", text + ": no SSTR-avid lesion left")
    if change >= float(r["progression_increase"]):
        return _response("sstr_volume", "PD", text)
    if change <= -float(r["response_decrease"]):
        return _response("sstr_volume", "PR", text)
    return _response("sstr_volume", "SD", text)


def sstr_uptake(
    tsr_prior: Sequence[float], tsr_current: Sequence[float], *, n_new: int = 0
) -> Response:
    """Haug 2010: change of the mean tumour-to-spleen SUVmax ratio of the paired lesions.

    ``tsr_prior[i]`` and ``tsr_current[i]`` belong to the same lesion. "decreased" when the
    mean ratio fell, else "stable or increased" (Haug's two groups). New lesions are named in
    the reason; the criterion itself does not grade them.
    """
    if len(tsr_prior) != len(tsr_current):
        raise NenscopeError("tumour-to-spleen ratios must come in prior/current pairs")
    if not tsr_prior:
        return _response(
            "sstr_uptake", None, "no lesion with a tumour-to-spleen ratio in both studies"
        )
    before = sum(tsr_prior) / len(tsr_prior)
    after = sum(tsr_current) / len(tsr_current)
    change = (after - before) / before
    text = f"mean SUVmax tumour/spleen {before:.2f} -> {after:.2f} ({_pct(change)}, "
    text += f"{len(tsr_prior)} lesion(s))"
    if n_new:
        text += f"; {n_new} new lesion(s)"
    return _response("sstr_uptake", "decreased" if change < 0 else "stable or increased", text)


@dataclass(frozen=True)
class RecistTarget:
    """A RECIST target: its long axis (mm) at the prior and now (0 when it has gone)."""

    organ: str
    long_axis_prior_mm: float
    long_axis_current_mm: float


def select_recist_targets(long_axes_mm: Sequence[float | None], organs: Sequence[str]) -> list[int]:
    """Indices of the RECIST 1.1 target lesions at baseline: measurable (long axis >= 10 mm),
    largest first, at most 2 per organ and 5 in all. ``None``: no CT measurement."""
    r = criteria_table()["recist11"]
    order = sorted(
        (i for i, d in enumerate(long_axes_mm) if d is not None and d >= r["min_long_axis_mm"]),
        key=lambda i: -float(long_axes_mm[i]),  # type: ignore[arg-type]
    )
    chosen: list[int] = []
    per_organ: dict[str, int] = {}
    for i in order:
        if len(chosen) == int(r["max_targets"]):
            break
        if per_organ.get(organs[i], 0) < int(r["max_targets_per_organ"]):
            chosen.append(i)
            per_organ[organs[i]] = per_organ.get(organs[i], 0) + 1
    return chosen


def recist(targets: Sequence[RecistTarget], n_new: int) -> Response:
    """RECIST 1.1 from the target lesions' long axes (sum of diameters) and new lesions.

    The prior study is both the baseline and the nadir (two studies).
    """
    r = criteria_table()["recist11"]
    if not targets:
        return _response("recist11", None, "no measurable target lesion on the prior CT")
    before = sum(t.long_axis_prior_mm for t in targets)
    after = sum(t.long_axis_current_mm for t in targets)
    change = (after - before) / before
    text = f"sum of {len(targets)} long axes {before:.0f} -> {after:.0f} mm ({_pct(change)})"
    if n_new > 0:
        return _response("recist11", "PD", f"{n_new} new lesion(s); " + text)
    if after <= 0:
        return _response("recist11", "CR", text + ": every target lesion gone")
    if change >= float(r["progression_increase"]) and after - before >= float(
        r["progression_min_increase_mm"]
    ):
        return _response("recist11", "PD", text)
    if change <= -float(r["response_decrease"]):
        return _response("recist11", "PR", text)
    return _response("recist11", "SD", text)


@dataclass(frozen=True)
class EortcTarget:
    """A baseline FDG tumour region: SUVmax and extent (equivalent diameter, mm) then and now.

    ``suv_max_current`` is ``None`` when the lesion is no longer distinguishable (gone).
    """

    suv_max_prior: float
    suv_max_current: float | None
    extent_prior_mm: float
    extent_current_mm: float


def eortc(targets: Sequence[EortcTarget], n_new: int) -> Response:
    """EORTC 1999 from the summed SUVmax of the baseline regions, their extent and new lesions.

    A region that has gone counts 0 in the follow-up sum. CMR: every region gone (and none
    new); PMD: a new lesion, sum up > 25 % or a region's extent up > 20 %; PMR: sum down
    > 25 %; SMD otherwise.
    """
    r = criteria_table()["eortc"]
    if not targets:
        return _response("eortc", None, "no FDG-avid lesion at the prior study")
    before = sum(t.suv_max_prior for t in targets)
    after = sum(t.suv_max_current or 0.0 for t in targets)
    change = (after - before) / before
    text = f"sum of {len(targets)} SUVmax {before:.1f} -> {after:.1f} ({_pct(change)})"
    if n_new > 0:
        return _response("eortc", "PMD", f"{n_new} new lesion(s); " + text)
    grown = [
        t
        for t in targets
        if t.suv_max_current is not None
        and t.extent_current_mm
        > t.extent_prior_mm * (1.0 + float(r["progression_extent_increase"]))
    ]
    if all(t.suv_max_current is None for t in targets):
        return _response("eortc", "CMR", "uptake gone in every baseline region")
    if change > float(r["progression_suv_increase"]):
        return _response("eortc", "PMD", text)
    if grown:
        return _response("eortc", "PMD", f"{len(grown)} region(s) > 20 % larger; " + text)
    if change < -float(r["response_suv_decrease"]):
        return _response("eortc", "PMR", text)
    return _response("eortc", "SMD", text)


def percist(
    sul_peak_prior: float,
    sul_peak_current: float,
    *,
    liver_sul_mean_prior: float,
    liver_sul_sd_prior: float,
    liver_sul_mean_current: float | None,
    tlg_prior: float | None,
    tlg_current: float | None,
    n_new: int,
) -> Response:
    """PERCIST 1.0 through :func:`nenscope.analysis.percist_response` (hottest lesions).

    ``sul_peak_current`` is 0 when no lesion is left. Not assessable when the prior's hottest
    lesion is below the measurability threshold.
    """
    try:
        res = percist_response(
            sul_peak_prior,
            sul_peak_current,
            baseline_liver_sul_mean=liver_sul_mean_prior,
            baseline_liver_sul_sd=liver_sul_sd_prior,
            followup_liver_sul_mean=liver_sul_mean_current,
            baseline_tlg=tlg_prior,
            followup_tlg=tlg_current,
            new_lesion=n_new > 0,
        )
    except NenscopeError as exc:
        return _response("percist", None, str(exc))
    text = f"hottest SULpeak {sul_peak_prior:.2f} -> {sul_peak_current:.2f}: {res.reason}"
    return _response("percist", res.category, text)
