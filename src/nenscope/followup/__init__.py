"""Follow-up: compare a study with the same patient's prior study (docs/followup.md).

``compare_studies(current, prior, out_dir)`` (``nenscope compare``) analyses both studies
(or reads previous analyses), registers the prior onto the current study
(:mod:`~nenscope.followup.registration`), matches the lesions one to one, split or merged
(:mod:`~nenscope.followup.matching`), lists per-lesion changes
(:mod:`~nenscope.followup.changes`), applies the response criteria
(:mod:`~nenscope.followup.criteria`, cited in ``data/response_criteria.toml``) and writes
``comparison.json`` and ``report.html`` (:mod:`~nenscope.followup.report`).
"""

from __future__ import annotations

from typing import Any

from nenscope.followup.criteria import Response, consensus_statement, criteria_table
from nenscope.followup.matching import Match, match_lesions
from nenscope.followup.pair import CompareOptions, PairComparison, compare_pair
from nenscope.followup.registration import PriorToCurrent, register_prior
from nenscope.followup.sides import StudySide

__all__ = [
    "CompareOptions",
    "ComparisonResult",
    "Match",
    "PairComparison",
    "PriorToCurrent",
    "Response",
    "StudySide",
    "compare_pair",
    "compare_studies",
    "consensus_statement",
    "criteria_table",
    "match_lesions",
    "register_prior",
]


def __getattr__(name: str) -> Any:  # lazy: the job pulls in the whole single-study pipeline
    if name in ("compare_studies", "ComparisonResult"):
        from nenscope.followup import job

        return getattr(job, name)
    raise AttributeError(name)
