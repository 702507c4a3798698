"""Krenning, SSTR-RADS 1.0, PRRT eligibility and NETPET rules (values from data/scores.toml)."""

from __future__ import annotations

import pytest

from nenscope.analysis.rules import agent_class_of, physiological_rules, score_rules
from nenscope.analysis.scores import (
    krenning_score,
    netpet_grade,
    netpet_lesion,
    prrt_eligibility,
    sstr_rads,
)
from nenscope.errors import NenscopeError

LIVER, SPLEEN = 8.0, 24.0


@pytest.mark.parametrize(
    ("suv", "expected"),
    [(1.0, 0), (4.0, 1), (5.5, 1), (8.0, 2), (10.0, 2), (16.0, 3), (23.9, 3), (24.1, 4), (40.0, 4)],
)
def test_krenning_levels_of_the_simulated_expression(suv, expected):
    # the virtual patient's 68Ga-DOTATATE levels: none 1, low 4, moderate 8 (= liver),
    # high 16 (between liver and spleen), very high 40 (> spleen)
    assert krenning_score(suv, LIVER, SPLEEN) == expected


def test_krenning_band_edges_come_from_the_data_file():
    k = score_rules()["krenning"]
    lo, hi = k["about_liver_low"] * LIVER, k["about_liver_high"] * LIVER
    assert krenning_score(lo - 1e-6, LIVER, SPLEEN) == 1
    assert krenning_score(lo, LIVER, SPLEEN) == 2
    assert krenning_score(hi, LIVER, SPLEEN) == 2
    assert krenning_score(hi + 1e-6, LIVER, SPLEEN) == 3


def test_krenning_uses_kidney_without_spleen_and_needs_a_liver():
    assert krenning_score(20.0, LIVER, None, kidney_suv_mean=13.0) == 4
    assert krenning_score(12.0, LIVER, None, kidney_suv_mean=13.0) == 3
    assert krenning_score(20.0, None, SPLEEN) is None


@pytest.mark.parametrize(
    ("krenning", "site", "ct", "expected"),
    [
        (4, "liver", True, "5"),
        (3, "soft tissue", False, "4"),
        (3, "soft tissue", None, "4"),
        (2, "soft tissue", True, "3A"),
        (1, "bone", True, "3B"),
        (4, "brain", True, "3C"),
        (4, "breast", False, "3C"),
        (0, "soft tissue", True, "3D"),
        (0, "soft tissue", False, None),
        (None, "liver", True, None),
    ],
)
def test_sstr_rads(krenning, site, ct, expected):
    assert sstr_rads(krenning, site, ct_correlate=ct) == expected


def test_prrt_eligibility_by_volume_fraction():
    ok, why = prrt_eligibility([4, 3, 3], [10.0, 5.0, 1.0])
    assert ok and "100 %" in why
    ok, why = prrt_eligibility([4, 2], [10.0, 5.0])  # 67 % of the volume >= 3
    assert not ok and "67 %" in why
    ok, why = prrt_eligibility([4, 2], [95.0, 5.0])  # 95 % >= 90 %
    assert ok
    ok, why = prrt_eligibility([4], [10.0], fdg_only_lesions=1)
    assert not ok and "P5" in why
    ok, why = prrt_eligibility([], [])
    assert not ok


def test_netpet_lesion_and_patient_grades():
    # FDG negative (not above 1.25 x the FDG liver mean): P1 when SSTR positive
    assert netpet_lesion(4, 5.0, 2.0, 2.5) == "P1"
    assert netpet_lesion(4, 5.0, 3.0, 2.5) == "P1"  # 1.2 x liver: within the noise margin
    assert netpet_lesion(1, 0.5, 2.0, 2.5) == "P0"
    # FDG positive, SSTR negative: P5
    assert netpet_lesion(1, 0.5, 10.0, 2.5) == "P5"
    # FDG positive and SSTR positive: FDG/SSTR ratio of liver-normalised uptake, "equal"
    # within [0.6, 1.3] (data/scores.toml)
    assert netpet_lesion(3, 5.0, 5.0, 2.5) == "P2"  # FDG 2x liver vs SSTR 5x liver: 0.4
    assert netpet_lesion(3, 2.0, 4.5, 2.5) == "P3"  # 1.8 vs 2: 0.9
    assert netpet_lesion(2, 1.0, 4.5, 2.5) == "P4"  # 1.8 vs 1: 1.8
    assert netpet_grade(["P1", "P3", None]) == "P3"
    assert netpet_grade(["P1"], n_fdg_only=1) == "P5"
    assert netpet_grade([None]) is None


def test_agent_classes():
    assert agent_class_of("68Ga-DOTATATE") == "sstr"
    assert agent_class_of("64Cu-DOTATATE") == "sstr"
    assert agent_class_of("Octreoscan") == "sstr"
    assert agent_class_of("18F-FDG") == "fdg"
    assert agent_class_of("Fludeoxyglucose F^18^") == "fdg"
    assert agent_class_of("68Ga-exendin-4") == "glp1r"
    with pytest.raises(NenscopeError, match="--tracer"):
        agent_class_of("18F-DOPA")
    with pytest.raises(NenscopeError, match="--tracer"):
        agent_class_of(None)


def test_physiological_rules_have_citations_and_cover_the_issue_list():
    organs = {r.organ for c in ("sstr", "fdg", "glp1r") for r in physiological_rules(c)}
    for needed in (
        "kidney",
        "urinary tract",
        "spleen",
        "adrenal glands",
        "pituitary",
        "uncinate process",
        "salivary glands",
        "bowel",
        "brain",
        "heart",
    ):
        assert needed in organs
    for c in ("sstr", "fdg", "glp1r"):
        for r in physiological_rules(c):
            assert len(r.citation) > 20
    kidney = next(r for r in physiological_rules("sstr") if r.organ == "kidney")
    assert kidney.matches("kidney_left") and kidney.matches("Kidney Right")
    assert not kidney.matches("liver")
