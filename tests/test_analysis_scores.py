"""Krenning, SSTR-RADS 1.0, the SSTR imaging criterion for PRRT and NETPET (data/scores.toml)."""

from __future__ import annotations

import pytest

from nenscope.analysis.rules import agent_class_of, physiological_rules, score_rules
from nenscope.analysis.scores import (
    krenning_score,
    netpet_grade,
    netpet_lesion,
    prrt_criterion,
    prrt_target,
    sstr_rads,
)
from nenscope.errors import NenscopeError

LIVER, SPLEEN = 8.0, 24.0


@pytest.mark.parametrize(
    ("suv_max", "expected"),
    [
        (1.0, 0),
        (4.0, 1),
        (7.1, 1),
        (7.3, 2),
        (8.0, 2),
        (8.8, 2),
        (8.9, 3),
        (16.0, 3),
        (23.9, 3),
        (24.1, 4),
    ],
)
def test_krenning_compares_suvmax_with_liver_and_spleen(suv_max, expected):
    # PET reading: SUVmax against liver 8 and spleen 24; "about liver" is +-10 % (the
    # repeatability of SUVmax), so 1.1 x liver is above it and 0.9 x liver below
    assert krenning_score(suv_max, LIVER, SPLEEN) == expected


def test_krenning_band_edges_come_from_the_data_file():
    band = score_rules()["krenning"]["about_liver_band"]
    assert band == 0.10
    lo, hi = (1 - band) * LIVER, (1 + band) * LIVER
    assert krenning_score(lo - 1e-6, LIVER, SPLEEN) == 1
    assert krenning_score(lo, LIVER, SPLEEN) == 2
    assert krenning_score(hi, LIVER, SPLEEN) == 2
    assert krenning_score(hi + 1e-6, LIVER, SPLEEN) == 3
    assert "Lodge" in score_rules()["krenning"]["citation"]  # the band's justification


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
        (4, "brain/meninges", True, "3C"),
        (3, "thyroid", False, "3C"),
        (4, "pancreas head", True, "5"),
        (4, "breast", False, "3C"),
        (0, "soft tissue", True, "3D"),
        (0, "soft tissue", False, None),
        (None, "liver", True, None),
    ],
)
def test_sstr_rads(krenning, site, ct, expected):
    assert sstr_rads(krenning, site, ct_correlate=ct) == expected


def test_prrt_criterion_judges_every_target_lesion():
    # met: every target lesion at or above the liver (Krenning >= 2), whatever the volumes
    c = prrt_criterion([1, 2, 3], [4, 3, 2], [True, True, True])
    assert c.met is True and c.failing == () and c.targets == (1, 2, 3)
    # 2 of 4 lesions SSTR-low: not met (a volume fraction had called this eligible)
    c = prrt_criterion([1, 2, 3, 4], [4, 4, 1, 1], [True] * 4)
    assert c.met is False and c.failing == (3, 4) and "lesion 3, 4" in c.reason
    # a large lesion at 1.05 x liver is about liver (Krenning 2): still met
    assert prrt_criterion([1, 2], [4, 2], [True, True]).met is True
    # a non-target (small, no CT correlate, atypical site) does not decide
    assert prrt_criterion([1, 2], [4, 1], [True, False]).met is True
    # FDG-positive SSTR-negative disease (NETPET P5) flags it
    c = prrt_criterion([1], [4], [True], fdg_only_lesions=1)
    assert c.met is False and "P5" in c.reason
    # the clinical criteria are listed as not assessed
    assert any("GFR" in x for x in c.not_assessed) and any("Ki-67" in x for x in c.not_assessed)
    assert prrt_criterion([], [], []).met is None
    assert prrt_criterion([1], [None], [True]).met is None
    # no measurable lesion: every lesion is judged
    c = prrt_criterion([1, 2], [3, 1], [False, False])
    assert c.met is False and c.failing == (2,) and "no measurable lesion" in c.reason


@pytest.mark.parametrize(
    ("volume_ml", "site", "rads", "ct", "expected"),
    [
        (0.6, "liver", "5", True, True),  # 10.5 mm: measurable (RECIST 1.1)
        (0.4, "liver", "5", True, False),  # 9.1 mm
        (1.2, "lymph node", "5", True, False),  # 13 mm: a node needs 15 mm
        (2.0, "lymph node", "5", True, True),
        (2.0, "pancreas", "4", False, False),  # no CT correlate: not measurable
        (2.0, "pancreas", "4", None, True),  # no CT at all: the PET volume decides
        (2.0, "brain/meninges", "3C", True, False),  # atypical site (meningioma)
    ],
)
def test_prrt_target_lesions(volume_ml, site, rads, ct, expected):
    assert prrt_target(volume_ml, site, rads, ct) is expected


def test_prrt_citations_name_the_trial_and_the_guidelines_not_the_label():
    r = score_rules()["prrt"]
    assert r["min_krenning"] == 2
    assert "NETTER-1" in r["citation"] and "937" in r["citation"] and "204" in r["citation"]
    assert "Lutathera" not in r["citation"]


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
    assert agent_class_of("Fludeoxyglucose F^18^") == "fdg"  # the DICOM code meaning
    assert agent_class_of("68Ga-exendin-4") == "glp1r"
    # DOTA in the name of a GLP-1R agent does not make it an SSTR agent
    assert agent_class_of("68Ga-DOTA-exendin-4") == "glp1r"
    assert agent_class_of("18F-DOPA") == "dopa"
    with pytest.raises(NenscopeError, match="--tracer"):
        agent_class_of("GIPR ligand")  # preclinical: no reading
    with pytest.raises(NenscopeError, match="--tracer"):
        agent_class_of("99mTc-unknown")
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
