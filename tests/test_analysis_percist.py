"""PERCIST 1.0 response categories (Wahl 2009) on worked numbers."""

from __future__ import annotations

import pytest

from nenscope.analysis.percist import percist_measurable_threshold, percist_response
from nenscope.errors import NenscopeError

LIVER = {"baseline_liver_sul_mean": 2.0, "baseline_liver_sul_sd": 0.3}


def test_measurability_threshold():
    # 1.5 x 2.0 + 2 x 0.3
    assert percist_measurable_threshold(2.0, 0.3) == pytest.approx(3.6)
    with pytest.raises(NenscopeError, match="measurab"):
        percist_response(3.5, 2.0, **LIVER)


@pytest.mark.parametrize(
    ("base", "fu", "kw", "category"),
    [
        (10.0, 6.0, {}, "PMR"),  # -40 %, -4.0 SUL
        (4.0, 2.9, {}, "SMD"),  # -27.5 %: below the 30 % criterion
        (10.0, 7.5, {}, "SMD"),  # -25 %
        (10.0, 13.5, {}, "PMD"),  # +35 %, +3.5 SUL
        (4.0, 5.4, {}, "PMD"),  # +35 %, +1.4 SUL
        (3.7, 4.3, {}, "SMD"),  # +16 %, +0.6 SUL
        (10.0, 1.8, {}, "CMR"),  # no longer above the liver (2.0)
        (10.0, 10.5, {"baseline_tlg": 100.0, "followup_tlg": 180.0}, "PMD"),  # TLG +80 %
        (10.0, 9.0, {"new_lesion": True}, "PMD"),
    ],
)
def test_categories(base, fu, kw, category):
    r = percist_response(base, fu, **LIVER, **kw)
    assert r.category == category
    assert r.absolute_change_sul == pytest.approx(fu - base)
    assert r.relative_change == pytest.approx((fu - base) / base)


def test_both_criteria_are_needed_for_progression():
    # +35 % of a small SULpeak: +0.63 SUL (< 0.8 SUL), stable metabolic disease
    r = percist_response(1.8, 1.8 * 1.35, baseline_liver_sul_mean=0.8, baseline_liver_sul_sd=0.2)
    assert r.category == "SMD"
    # +39.7 % and +1.43 SUL: progression
    r = percist_response(3.6, 3.6 * 1.4 - 0.01, **LIVER)
    assert r.category == "PMD"
