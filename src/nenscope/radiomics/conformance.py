"""Compare computed features with an IBSI-1 reference table (digital phantom or CT phantom).

The IBSI publishes, per data set and image-processing configuration, a consensus reference
value and a tolerance for each feature tag (Zwanenburg et al., IBSI reference manual,
arXiv:1612.07003, chapter 5; Radiology 2020;295:328). Reference values are given to three
significant digits, so a computed value is first rounded to three significant digits and then
compared: |round₃(value) − reference| ≤ tolerance. This is the check of the IBSI's own
reference implementation (MIRP, ``test/ibsi_1_test.py``: ``within_tolerance``); without the
rounding a tolerance of 0 could never be met (``ih_qcod`` 0.04545… against 0.0455 ± 0).
"""

from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

from nenscope.errors import NenscopeError

_SIGNIFICANT_DIGITS = 3


@dataclass(frozen=True)
class ReferenceValue:
    """One row of an IBSI reference table: feature ``tag``, its ``family`` (as in the table)
    and the consensus ``value`` ± ``tolerance`` (feature units)."""

    tag: str
    family: str
    value: float
    tolerance: float


@dataclass(frozen=True)
class Conformance:
    """Result of :func:`check_conformance`.

    ``n_within`` of ``n_total`` reference features are within tolerance; ``failures`` lists
    ``(tag, computed value, reference, tolerance)`` of the others (value NaN when the feature
    was not computed)."""

    n_within: int
    n_total: int
    failures: list[tuple[str, float, float, float]] = field(default_factory=list)

    @property
    def fraction(self) -> float:
        """Share of reference features within tolerance (0–1)."""
        return self.n_within / self.n_total if self.n_total else 0.0


def read_reference_table(
    path: str | os.PathLike, *, diagnostics: bool = False
) -> list[ReferenceValue]:
    """Rows of an IBSI-1 reference CSV (columns ``family``, ``tag``, ``reference value``,
    ``tolerance``) that have a consensus value. The ``Diagnostics-*`` rows (image and mask
    dimensions after each processing step) are left out unless ``diagnostics`` is true."""
    path = Path(path)
    if not path.is_file():
        raise NenscopeError(f"IBSI reference table not found: {path}")
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        missing = {"family", "tag", "reference value", "tolerance"} - set(reader.fieldnames or [])
        if missing:
            raise NenscopeError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
        rows = [
            ReferenceValue(
                r["tag"].strip(),
                r["family"].strip(),
                float(r["reference value"]),
                float(r["tolerance"] or 0.0),
            )
            for r in reader
            if r["reference value"].strip()
        ]
    return [r for r in rows if diagnostics or not r.family.startswith("Diagnostics")]


def round_significant(value: float, digits: int = _SIGNIFICANT_DIGITS) -> float:
    """``value`` rounded to ``digits`` significant digits (0, NaN and ±inf unchanged)."""
    if value == 0 or not math.isfinite(value):
        return value
    return round(value, digits - 1 - math.floor(math.log10(abs(value))))


def within_tolerance(value: float, reference: float, tolerance: float) -> bool:
    """IBSI check: |round₃(value) − reference| ≤ tolerance (a relative 1e-9 allowance absorbs
    the binary representation of the decimal reference)."""
    if not math.isfinite(value):
        return False
    diff = abs(round_significant(value) - reference)
    return diff <= tolerance + 1e-9 * max(abs(reference), 1e-12)


def check_conformance(features: dict[str, float], reference: list[ReferenceValue]) -> Conformance:
    """Count the reference features that ``features`` matches within tolerance."""
    failures = []
    for ref in reference:
        value = float(features.get(ref.tag, math.nan))
        if not within_tolerance(value, ref.value, ref.tolerance):
            failures.append((ref.tag, value, ref.value, ref.tolerance))
    return Conformance(len(reference) - len(failures), len(reference), failures)
