"""Criteria applied to compared studies: which apply, and the numbers they are fed.

The two sides are findings records drawn by hand (no images needed past the matching), so
each expected category follows from the numbers by the cited thresholds.
"""

from __future__ import annotations

from pathlib import Path

import highdicom as hd
import numpy as np

from nenscope.followup.assess import fdg_responses, recist_response, sstr_responses
from nenscope.followup.changes import lesion_entries, totals
from nenscope.followup.job import comparison_dict, responses_for
from nenscope.followup.matching import Match
from nenscope.followup.pair import PairComparison
from nenscope.followup.registration import PriorToCurrent
from nenscope.followup.sides import StudySide


def _lesion(i, volume_ml, suv_max, suv_peak, tsr=None):
    return dict(
        id=i,
        center_mm=[0.0, 0.0, 10.0 * i],
        volume_ml=volume_ml,
        suv_max=suv_max,
        suv_peak=suv_peak,
        krenning=3,
        site="liver",
        tsr=tsr,
    )


def _side(name, agent_class, lesions, *, liver=(2.0, 0.25), tv=None, tlg=None, sul=0.8):
    empty = hd.Volume(np.zeros((2, 2, 2), np.int32), np.eye(4), "PATIENT")
    findings = {
        "study": {"agent_class": agent_class},
        "reference": {"liver_suv_mean": liver[0], "liver_suv_sd": liver[1]},
        "lesions": lesions,
        "summary": {"sstr_tv_ml": tv, "tl_sstr": tlg},
    }
    return StudySide(name, findings, empty, empty, None, sul, Path(name), Path(name))


def _pair(prior, current, matches):
    entries = lesion_entries(matches, prior.lesions, current.lesions)
    return PairComparison(
        current=current,
        prior=prior,
        registration=PriorToCurrent("same frame"),
        matches=matches,
        entries=entries,
        totals=totals(prior.findings, current.findings, entries),
    )


def test_fdg_pair_gets_percist_in_sul_and_eortc():
    # SUVbw x 0.8 = SUL: hottest SULpeak 12.5 x 0.8 = 10 -> 8.75 x 0.8 = 7 (-30 %, -3 SUL)
    prior = _side(
        "prior", "fdg", [_lesion(1, 4.0, 16.0, 12.5), _lesion(2, 2.0, 8.0, 6.0)], tv=6.0, tlg=60.0
    )
    current = _side("current", "fdg", [_lesion(1, 3.0, 11.0, 8.75)], tv=3.0, tlg=30.0)
    pair = _pair(prior, current, [Match("paired", (1,), (1,)), Match("disappeared", (2,), ())])
    percist, eortc = fdg_responses(pair)
    assert percist.criterion == "percist" and percist.category == "PMR"
    assert "10.00 -> 7.00" in percist.reason
    # EORTC: sum of SUVmax 24 -> 11 (-54 %)
    assert eortc.category == "PMR" and "24.0 -> 11.0" in eortc.reason


def test_percist_is_not_assessable_without_sul():
    prior = _side("prior", "fdg", [_lesion(1, 4.0, 16.0, 12.5)], sul=None)
    current = _side("current", "fdg", [_lesion(1, 4.0, 16.0, 12.5)], sul=None)
    pair = _pair(prior, current, [Match("paired", (1,), (1,))])
    percist, eortc = fdg_responses(pair)
    assert percist.category is None and eortc.category == "SMD"


def test_sstr_pair_gets_the_research_criteria_and_recist_needs_a_diagnostic_ct():
    prior = _side("prior", "sstr", [_lesion(1, 10.0, 30.0, 25.0, tsr=1.5)], tv=10.0)
    current = _side(
        "current",
        "sstr",
        [_lesion(1, 3.0, 20.0, 15.0, tsr=1.0), _lesion(2, 1.0, 9.0, 7.0)],
        tv=4.0,
    )
    pair = _pair(prior, current, [Match("paired", (1,), (1,)), Match("new", (), (2,))])
    volume, uptake = sstr_responses(pair)
    assert volume.category == "PD" and "1 new" in volume.reason
    assert uptake.category == "decreased"
    assert recist_response(pair, diagnostic_ct=False).category is None
    assert recist_response(pair, diagnostic_ct=True).reason == "a CT is missing"
    responses = responses_for(pair, None, diagnostic_ct=False)
    assert [r.criterion for r in responses] == ["sstr_volume", "sstr_uptake", "recist11"]
    data = comparison_dict(pair, responses)
    assert data["patient"]["response"] == {
        "sstr_volume": "PD",
        "sstr_uptake": "decreased",
        "recist11": None,
    }
    assert data["patient"]["sstr_tv_change_pct"] == -60.0 and data["patient"]["n_new"] == 1
    assert "No consensus" in data["patient"]["sstr_consensus"]


def test_a_new_lesion_below_the_liver_is_equivocal_and_not_counted():
    from nenscope.followup.pair import _confirm

    prior = _side("prior", "sstr", [_lesion(1, 2.0, 20.0, 15.0)], tv=2.0)
    new = dict(_lesion(2, 0.3, 4.5, 3.5), krenning=1)
    current = _side("current", "sstr", [_lesion(1, 0.5, 12.0, 9.0), new], tv=0.8)
    matches = [Match("paired", (1,), (1,)), Match("new", (), (2,))]
    entries = lesion_entries(matches, prior.lesions, current.lesions)
    _confirm(entries, matches, current, prior, PriorToCurrent("same frame"), np.zeros(1))
    assert entries[1]["confirmed"] is False and "equivocal" in entries[1]["note"]
    t = totals(prior.findings, current.findings, entries)
    assert t["n_new"] == 0 and t["n_unconfirmed"] == 1
    # without the new lesion the volume fell by 75 %: a response, not a progression
    pair = PairComparison(current, prior, PriorToCurrent("same frame"), matches, entries, t)
    assert sstr_responses(pair)[0].category == "PR"
