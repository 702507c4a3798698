"""Response criteria of the follow-up comparison against their published thresholds.

Each case sits just inside and just outside a threshold of the cited criterion: PERCIST 1.0
(Wahl 2009: 30 % and 0.8 SUL), EORTC 1999 (Young 1999: 25 % SUV, 20 % extent), RECIST 1.1
(Eisenhauer 2009: -30 %, +20 % and 5 mm, targets <= 5 and <= 2 per organ), the SSTR-TV
criterion (RECIST extrapolated to sphere volumes: (0.7)^3 - 1 = -65.7 %, 1.2^3 - 1 = +72.8 %,
Henson 2008) and the tumour-to-spleen uptake criterion (Haug 2010).
"""

from __future__ import annotations

import pytest

from nenscope.followup.criteria import (
    EortcTarget,
    RecistTarget,
    consensus_statement,
    criteria_table,
    eortc,
    percist,
    recist,
    select_recist_targets,
    sstr_uptake,
    sstr_volume,
)


def test_every_criterion_is_cited_and_the_sstr_ones_are_marked_research():
    table = criteria_table()
    for key in ("percist", "eortc", "recist11", "sstr_volume", "sstr_uptake"):
        assert table[key]["citation"], key
    assert table["percist"]["consensus"] and table["recist11"]["consensus"]
    assert not table["sstr_volume"]["consensus"] and not table["sstr_uptake"]["consensus"]
    assert "No consensus" in consensus_statement() and "Liberini" in consensus_statement()
    assert "Wahl" in table["percist"]["citation"] and "Eisenhauer" in table["recist11"]["citation"]


def test_sstr_volume_thresholds_are_recist_extrapolated_to_spheres():
    # a 30 % shorter diameter: (0.7)^3 = 0.343 of the volume; 20 % longer: 1.728 of it
    assert sstr_volume(10.0, 10.0 * 0.7**3, 0).category == "PR"
    assert sstr_volume(10.0, 3.6, 0).category == "SD"
    assert sstr_volume(10.0, 17.3, 0).category == "PD"
    assert sstr_volume(10.0, 17.2, 0).category == "SD"
    assert sstr_volume(10.0, 2.0, 1).category == "PD"  # a new lesion outranks shrinkage
    assert sstr_volume(10.0, 0.0, 0).category == "CR"
    none = sstr_volume(0.0, 3.0, 0)
    assert none.category is None and "no SSTR-avid lesion" in none.reason
    assert not sstr_volume(10.0, 5.0, 0).consensus


def test_sstr_uptake_follows_the_mean_tumour_to_spleen_ratio():
    assert sstr_uptake([4.0, 2.0], [3.0, 1.8]).category == "decreased"
    assert sstr_uptake([4.0, 2.0], [4.0, 2.1]).category == "stable or increased"
    assert sstr_uptake([], []).category is None


def test_recist_thresholds():
    def one(before, after, new=0):
        return recist([RecistTarget("liver", before, after)], new).category

    assert one(40.0, 28.0) == "PR"  # -30 %
    assert one(40.0, 28.5) == "SD"
    assert one(30.0, 36.0) == "PD"  # +20 % and +6 mm
    assert one(20.0, 24.0) == "SD"  # +20 % but only +4 mm
    assert one(40.0, 40.0, new=1) == "PD"
    assert one(40.0, 0.0) == "CR"
    assert recist([], 0).category is None


def test_recist_targets_at_most_two_per_organ_and_five_in_all():
    axes = [50.0, 45.0, 40.0, 35.0, 9.0, 30.0, 25.0, 20.0, None]
    organs = ["liver", "liver", "liver", "bone", "bone", "lung", "node", "node", "node"]
    chosen = select_recist_targets(axes, organs)
    assert chosen == [0, 1, 3, 5, 6]  # third liver lesion and the 9 mm one left out


def test_eortc_thresholds():
    def two(after, extent_after=20.0, new=0):
        t = [EortcTarget(10.0, a, 20.0, extent_after) for a in after]
        return eortc(t, new).category

    assert two([7.4, 7.4]) == "PMR"  # -26 %
    assert two([7.6, 7.6]) == "SMD"  # -24 %
    assert two([12.6, 12.6]) == "PMD"  # +26 %
    assert two([10.0, 10.0], extent_after=24.5) == "PMD"  # 22.5 % longer
    assert two([10.0, 10.0], new=1) == "PMD"
    assert two([None, None]) == "CMR"
    assert two([None, 10.0]) == "PMR"  # one region gone: sum -50 %


def test_percist_through_the_analysis_rules():
    liver = dict(liver_sul_mean_prior=2.0, liver_sul_sd_prior=0.3, liver_sul_mean_current=2.0)
    none = dict(tlg_prior=None, tlg_current=None)
    assert percist(10.0, 6.9, **liver, **none, n_new=0).category == "PMR"  # -31 %, -3.1 SUL
    assert percist(10.0, 13.1, **liver, **none, n_new=0).category == "PMD"
    assert percist(10.0, 9.0, **liver, **none, n_new=0).category == "SMD"
    assert percist(10.0, 1.5, **liver, **none, n_new=0).category == "CMR"  # below liver
    assert percist(10.0, 9.0, **liver, **none, n_new=1).category == "PMD"
    assert (
        percist(10.0, 9.0, **liver, tlg_prior=100.0, tlg_current=180.0, n_new=0).category == "PMD"
    )
    # measurable: >= 1.5 x 2.0 + 2 x 0.3 = 3.6 SUL
    low = percist(3.5, 2.0, **liver, **none, n_new=0)
    assert low.category is None and "measurability" in low.reason


@pytest.mark.parametrize("key", ["percist", "eortc", "recist11", "sstr_volume"])
def test_categories_are_the_criterion_s_own(key):
    assert len(criteria_table()[key]["categories"]) == 4
