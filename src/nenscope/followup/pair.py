"""Compare two time points: register, match, list the changes (no response criteria here)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from nenscope.followup.changes import lesion_entries, totals
from nenscope.followup.matching import Match, match_lesions
from nenscope.followup.registration import NCC_THRESHOLD, PriorToCurrent, register_prior
from nenscope.followup.sides import StudySide

__all__ = ["CompareOptions", "PairComparison", "compare_pair"]


@dataclass(frozen=True)
class CompareOptions:
    """How two studies are compared.

    Attributes:
        min_overlap: overlap (fraction of the smaller lesion) that links two lesions.
        max_distance_mm: largest centre distance (mm) that pairs lesions without overlap.
        ncc_threshold: local CT similarity below which the rigid fit counts as poor and a
            B-spline step is tried (:mod:`nenscope.followup.registration`).
        deformable: allow the B-spline step.
        diagnostic_ct: the CTs are diagnostic: measure long axes for RECIST 1.1.
    """

    min_overlap: float = 0.25
    max_distance_mm: float = 15.0
    ncc_threshold: float = NCC_THRESHOLD
    deformable: bool = True
    diagnostic_ct: bool = False


@dataclass
class PairComparison:
    """Two registered, matched time points and their lesion entries."""

    current: StudySide
    prior: StudySide
    registration: PriorToCurrent
    matches: list[Match]
    entries: list[dict[str, Any]]
    totals: dict[str, Any]
    warnings: list[str] = field(default_factory=list)


def _centres(side: StudySide) -> dict[int, NDArray]:
    return {i: np.asarray(les["center_mm"], dtype=float) for i, les in side.lesions.items()}


def compare_pair(
    current: StudySide, prior: StudySide, options: CompareOptions | None = None
) -> PairComparison:
    """Register ``prior`` onto ``current``, match their lesions and list the changes."""
    options = options or CompareOptions()
    reg = register_prior(
        current.suv,
        prior.suv,
        current_ct=current.ct,
        prior_ct=prior.ct,
        ncc_threshold=options.ncc_threshold,
        deformable=options.deformable,
    )
    prior_on_current = reg.prior_on_current(prior.labels, current.labels, order=0)
    cur_centres = _centres(current)
    mapped = reg.current_to_prior(list(cur_centres.values())) if cur_centres else []
    matches = match_lesions(
        np.asarray(current.labels.array),
        np.asarray(prior_on_current).astype(np.int64),
        _centres(prior),
        dict(zip(cur_centres, mapped, strict=True)),
        min_overlap=options.min_overlap,
        max_distance_mm=options.max_distance_mm,
    )
    entries = lesion_entries(matches, prior.lesions, current.lesions)
    warnings = []
    if reg.method.startswith("rigid (PET)"):
        warnings.append("no CT on one side: the studies were registered PET to PET")
    if reg.ncc_final is not None and reg.ncc_final < options.ncc_threshold:
        warnings.append(
            f"the registration fits poorly (local CT similarity {reg.ncc_final:.2f} < "
            f"{options.ncc_threshold}): check the lesion pairs on the images"
        )
    return PairComparison(
        current=current,
        prior=prior,
        registration=reg,
        matches=matches,
        entries=entries,
        totals=totals(prior.findings, current.findings, entries),
        warnings=warnings,
    )
