"""Every agent and alias of the tracer catalogue gets the reading of its target's class.

Only SSTR agents get the Krenning score, SSTR-RADS and the SSTR imaging criterion for PRRT; a
GLP-1R study's pancreatic focus is an insulinoma candidate. The class comes from the
catalogue's target (``agent_classes.toml``), not from name fragments: 68Ga-DOTA-exendin-4
carries "DOTA" and is a GLP-1R agent.
"""

from __future__ import annotations

import dataclasses

import pytest

from independent_phantom import make_patient
from nenscope.analysis import analyze
from nenscope.analysis.rules import agent_class_of, class_rules
from nenscope.errors import NenscopeError
from nenscope.knowledge.tracers import list_agents

NAMES = [(a.name, n) for a in list_agents() for n in (a.name, *a.aliases)]
EXPECTED = {
    "SSTR2": "sstr",
    "SSTR2, SSTR5": "sstr",
    "SSTR2, SSTR3, SSTR5": "sstr",
    "SSTR2 (antagonist)": "sstr",
    "glucose metabolism": "fdg",
    "GLP-1R": "glp1r",
    "amino-acid transport / decarboxylation": "dopa",
    "norepinephrine transporter": "mibg",
    "FAP": "fap",
    "CXCR4": "cxcr4",
    "CCK2R": "cck2r",
}


@pytest.mark.parametrize(("agent", "name"), NAMES)
def test_every_agent_and_alias_resolves_through_its_target(agent, name):
    target = next(a.target for a in list_agents() if a.name == agent)
    if target == "GIPR":  # preclinical: no clinical reading
        with pytest.raises(NenscopeError, match="preclinical"):
            agent_class_of(name)
        return
    cls = agent_class_of(name)
    assert cls == EXPECTED[target]
    rules = class_rules(cls)
    assert (rules["scores"] == "sstr") == (cls == "sstr")
    assert len(rules["reading"]) > 40 and len(rules["citation"]) > 20


@pytest.fixture(scope="module")
def patient():
    # a coarse independent-family patient (5 mm voxels): the agent name is all that changes
    return make_patient(seed=4, fwhm_mm=6.5, voxel_mm=5.0)


@pytest.mark.parametrize("agent", ["68Ga-exendin-4", "18F-DOPA", "68Ga-FAPI-04", "68Ga-pentixafor"])
def test_non_sstr_agents_get_no_sstr_scores(patient, agent):
    study = dataclasses.replace(patient.study, agent=agent)
    f = analyze(study)
    d = f.to_dict()
    assert f.lesions, "the phantom's lesions are found whatever the agent"
    assert all(les["krenning"] is None and les["sstr_rads"] is None for les in d["lesions"])
    assert all(les["prrt_target"] is None for les in d["lesions"])
    assert d["summary"]["krenning_max"] is None and d["summary"]["prrt_criterion_met"] is None
    assert "krenning" not in d["method"] and "prrt" not in d["method"]
    if agent == "68Ga-exendin-4":
        pancreatic = [les for les in d["lesions"] if les["site"].startswith("pancreas")]
        assert pancreatic and all(les["reading"] == "insulinoma candidate" for les in pancreatic)
        assert all(
            les["reading"] is None for les in d["lesions"] if not les["site"].startswith("pancreas")
        )


def test_sstr_agent_gets_the_sstr_scores(patient):
    d = analyze(patient.study).to_dict()
    assert all(les["krenning"] is not None for les in d["lesions"])
    assert d["summary"]["prrt_criterion_met"] is not None
    assert "SUVmax" in d["method"]["krenning"] and "NETTER-1" in d["method"]["prrt"]
