"""Knowledge base: tracer catalogue, protocol scenarios by genotype/site/doubling time,
jurisdiction, paediatric dosing, cited guidance, radionuclide decay (issues 2 and 18)."""

from __future__ import annotations

import json
import math
import re
import tomllib
from importlib import resources

import pytest
import radioactivedecay as rd

from nenscope.cli import main
from nenscope.errors import NenscopeError
from nenscope.knowledge import (
    APPROVAL_STATUSES,
    activity_after,
    advise,
    canonical_nuclide,
    dose_for_patient,
    get_agent,
    half_life_s,
    list_agents,
    list_scenarios,
)
from nenscope.knowledge.dosing import card_multiple

# First choice (no optional inputs) and a phrase its reason must carry, per scenario.
FIRST_CHOICE = {
    "staging": ("68Ga-DOTATATE", "standard of care"),
    "high-grade": ("18F-FDG", "glucose"),
    "insulinoma": ("68Ga-exendin-4", "GLP-1R"),
    "malignant-insulinoma": ("68Ga-DOTATATE", "SSTR"),
    "mtc": ("18F-DOPA", "MTC"),
    "pheo-paraganglioma": ("18F-DOPA", "sporadic pheochromocytoma"),
    "pre-prrt": ("68Ga-DOTATATE", "Krenning"),
    "unknown-primary": ("68Ga-DOTATATE", "primary"),
    "no-ga68": ("64Cu-DOTATATE", "without 68Ga"),
    "sstr-negative": ("18F-FDG", "negative on SSTR PET"),
}


def test_every_scenario_is_listed():
    assert {name for name, _ in list_scenarios()} == set(FIRST_CHOICE)


@pytest.mark.parametrize("scenario", sorted(FIRST_CHOICE))
def test_first_choice_and_reason(scenario):
    agent, phrase = FIRST_CHOICE[scenario]
    advice = advise(scenario, weight_kg=75.0)
    first = advice.recommendations[0]
    assert first.rank == 1
    assert first.agent == agent
    assert phrase.lower() in first.rationale.lower()
    assert first.evidence, "every recommendation carries its evidence"
    assert [r.rank for r in advice.recommendations] == list(
        range(1, len(advice.recommendations) + 1)
    )


# EANM/SNMMI 2019 (Taïeb et al., EJNMMI 46:2112), Table 3: (genotype, site) -> branch, first
# choice, phrase of its reason, second choice.
PPGL = [
    (
        "sporadic",
        "adrenal",
        "sporadic-adrenal",
        "18F-DOPA",
        "sporadic pheochromocytoma",
        "123I-MIBG",
    ),
    ("RET", "adrenal", "cluster-2", "18F-DOPA", "cluster-2", "123I-MIBG"),
    ("NF1", "adrenal", "cluster-2", "18F-DOPA", "cluster-2", "123I-MIBG"),
    ("MAX", "extra-adrenal", "cluster-2", "18F-DOPA", "cluster-2", "123I-MIBG"),
    ("TMEM127", "adrenal", "cluster-2", "18F-DOPA", "cluster-2", "123I-MIBG"),
    ("VHL", "adrenal", "vhl-epas1", "18F-DOPA", "VHL/EPAS1", "68Ga-DOTATATE"),
    ("EPAS1", "extra-adrenal", "vhl-epas1", "18F-DOPA", "VHL/EPAS1", "68Ga-DOTATATE"),
    ("SDHB", "adrenal", "sdhx", "68Ga-DOTATATE", "SDHx", "18F-FDG"),
    ("SDHD", "extra-adrenal", "sdhx", "68Ga-DOTATATE", "SDHx", "18F-FDG"),
    ("sdhx", "head-neck", "sdhx", "68Ga-DOTATATE", "SDHx", "18F-FDG"),
    ("sporadic", "metastatic", "metastatic", "68Ga-DOTATATE", "metastatic", "18F-FDG"),
    ("RET", "metastatic", "metastatic", "68Ga-DOTATATE", "metastatic", "18F-FDG"),
    ("sporadic", "head-neck", "head-neck", "68Ga-DOTATATE", "head-and-neck", "18F-DOPA"),
    ("VHL", "head-neck", "head-neck", "68Ga-DOTATATE", "head-and-neck", "18F-DOPA"),
    ("sporadic", "extra-adrenal", "extra-adrenal", "68Ga-DOTATATE", "extra-adrenal", "18F-FDG"),
]


@pytest.mark.parametrize(("genotype", "site", "branch", "first", "phrase", "second"), PPGL)
def test_pheo_paraganglioma_by_genotype_and_site(genotype, site, branch, first, phrase, second):
    advice = advise("pheo-paraganglioma", weight_kg=70.0, genotype=genotype, site=site)
    assert advice.branch == branch
    assert "Table 3" in advice.branch_source
    recs = advice.recommendations
    assert recs[0].agent == first and phrase.lower() in recs[0].rationale.lower()
    assert recs[1].agent == second
    assert any("Taïeb 2019" in e for e in recs[0].evidence)


def test_pheo_defaults_are_stated_and_sdhx_without_site_is_sstr_first():
    advice = advise("pheo-paraganglioma", weight_kg=70.0)
    assert advice.inputs == {"genotype": "sporadic", "site": "adrenal"}
    assert any("assumed: genotype = sporadic, site = adrenal" in c for c in advice.cautions)
    sdhx = advise("pheo-paraganglioma", weight_kg=70.0, genotype="SDHC")
    assert sdhx.branch == "sdhx" and sdhx.recommendations[0].agent == "68Ga-DOTATATE"


@pytest.mark.parametrize(
    ("doubling_time_months", "first", "phrase"),
    [
        (6.0, "18F-FDG", "doubling time under 12 months"),
        (11.9, "18F-FDG", "aggressive"),
        (12.0, "18F-DOPA", "first-choice"),
        (30.0, "18F-DOPA", "first-choice"),
        (None, "18F-DOPA", "first-choice"),
    ],
)
def test_mtc_fdg_first_for_short_doubling_time(doubling_time_months, first, phrase):
    advice = advise("mtc", weight_kg=70.0, doubling_time_months=doubling_time_months)
    assert advice.recommendations[0].agent == first
    assert phrase in advice.recommendations[0].rationale
    assert "Giovanella" in advice.branch_source
    # the caution that called 18F-DOPA "second line" while ranked first is gone
    assert not any("second line" in c.lower() for c in advice.cautions)
    assert {"18F-DOPA", "18F-FDG"} <= {r.agent for r in advice.recommendations}


def test_no_ga68_offers_18f_dopa_and_says_64cu_is_us_only():
    advice = advise("no-ga68", weight_kg=70.0, jurisdiction="eu")
    agents = [r.agent for r in advice.recommendations]
    assert agents == ["64Cu-DOTATATE", "18F-DOPA", "111In-pentetreotide"]
    assert advice.recommendations[0].status == "not approved"
    assert advice.recommendations[1].status == "approved"
    assert any("EU: 64Cu-DOTATATE is not approved" in c for c in advice.cautions)


def test_insulinoma_has_approved_fallbacks():
    advice = advise("insulinoma", weight_kg=70.0, jurisdiction="us")
    recs = {r.agent: r for r in advice.recommendations}
    assert recs["68Ga-exendin-4"].status == "investigational"
    assert recs["68Ga-DOTATATE"].status == "approved"
    assert "lower sensitivity" in recs["68Ga-DOTATATE"].rationale
    assert "18F-DOPA" in recs
    assert advise("insulinoma", weight_kg=70.0, jurisdiction="eu").recommendations[2].status == (
        "approved"
    )
    text = " ".join(advice.cautions)
    assert "EUS" in text and "ASVS" in text


def test_jurisdiction_changes_the_status_column():
    us = advise("staging", weight_kg=70.0, jurisdiction="us").recommendations
    eu = advise("staging", weight_kg=70.0, jurisdiction="eu").recommendations
    both = advise("staging", weight_kg=70.0).recommendations
    assert [r.status for r in us] == ["approved", "approved", "approved"]
    assert [r.status for r in eu] == ["not approved", "not approved", "approved"]
    assert both[0].status == "us: approved; eu: not approved"
    assert "NETSPOT" in us[0].status_source and "SomaKit" in eu[0].status_source


def test_approval_facts_and_sources():
    nok = get_agent("68Ga-DOTANOC")
    assert nok.status_in("us") == nok.status_in("eu") == "not approved"
    dopa = get_agent("18F-DOPA")
    assert dopa.status_in("us") == "approved for another indication"
    assert "Parkinsonian" in dopa.approval["us"].note
    assert dopa.status_in("eu") == "approved"
    cu = get_agent("64Cu-DOTATATE")
    assert (cu.status_in("us"), cu.status_in("eu")) == ("approved", "not approved")
    toc = get_agent("68Ga-DOTATOC")
    assert toc.status_in("us") == toc.status_in("eu") == "approved"
    for agent in list_agents():
        assert agent.status in APPROVAL_STATUSES
        for approval in agent.approval.values():
            assert approval.status in APPROVAL_STATUSES and approval.source and approval.note
    with pytest.raises(NenscopeError, match="jurisdiction"):
        nok.status_in("jp")


def test_second_line_choices():
    assert advise("staging", weight_kg=70).recommendations[1].agent == "64Cu-DOTATATE"
    assert advise("staging", weight_kg=70).recommendations[2].agent == "111In-pentetreotide"
    assert advise("high-grade", weight_kg=70).recommendations[1].agent == "68Ga-DOTATATE"


@pytest.mark.parametrize(
    ("weight_kg", "expected_mbq"), [(70.0, 140.0), (120.0, 200.0), (100.0, 200.0), (45.5, 91.0)]
)
def test_ga68_sstr_activity_is_2_mbq_per_kg_capped_at_200(weight_kg, expected_mbq):
    rec = advise("staging", weight_kg=weight_kg).recommendations[0]
    assert rec.activity_mbq == pytest.approx(expected_mbq)
    assert rec.uptake_min == 60


def test_fdg_is_4_mbq_per_kg_at_60_min():
    rec = advise("high-grade", weight_kg=80.0).recommendations[0]
    assert rec.activity_mbq == pytest.approx(320.0)
    assert rec.uptake_min == 60


# --- caps and children ------------------------------------------------------------------------


def test_160_kg_adult_gets_capped_activities():
    """FDG 4 MBq/kg would be 640 MBq: capped at 370 MBq (label); 68Ga 200 MBq; DOPA 300 MBq."""
    expected = {
        "18F-FDG": 370.0,
        "68Ga-DOTATATE": 200.0,
        "68Ga-DOTATOC": 200.0,
        "18F-DOPA": 300.0,
        "64Cu-DOTATATE": 148.0,
        "123I-MIBG": 400.0,
    }
    for name, mbq in expected.items():
        dose = dose_for_patient(get_agent(name), weight_kg=160.0)
        assert dose.activity_mbq == mbq, name
        if get_agent(name).activity.rule == "per_kg":
            assert "capped" in dose.activity_method and "cap:" in dose.activity_source
    rec = advise("high-grade", weight_kg=160.0).recommendations[0]
    assert rec.activity_mbq == 370.0 and rec.effective_dose_msv == pytest.approx(370 * 0.019)
    for agent in list_agents():  # every per-kg agent has a cited cap
        if agent.activity.rule == "per_kg":
            assert agent.activity.max_mbq and agent.activity.max_source, agent.name


def test_35_kg_child_gets_the_eanm_card_activity_and_paediatric_coefficients():
    """EANM card class B at 34 kg (multiple 7.72): FDG/DOPA 14.0 MBq baseline, 68Ga peptides
    12.8 MBq, MIBG 28.0 MBq; effective dose with ICRP coefficients for a 10-year-old."""
    fdg = dose_for_patient(get_agent("18F-FDG"), weight_kg=35.0, age_years=10.0)
    assert fdg.activity_mbq == pytest.approx(14.0 * 7.72, abs=0.05)
    assert fdg.dose_coefficient_msv_per_mbq == 0.037
    assert fdg.effective_dose_msv == pytest.approx(108.1 * 0.037, abs=0.01)
    assert "EANM paediatric dosage card" in fdg.activity_method
    ga = dose_for_patient(get_agent("68Ga-DOTATATE"), weight_kg=35.0, age_years=10.0)
    assert ga.activity_mbq == pytest.approx(12.8 * 7.72, abs=0.05)
    assert ga.dose_method.startswith("estimate")  # no ICRP child coefficient: stated method
    assert ga.dose_coefficient_msv_per_mbq == pytest.approx(0.021 * 0.037 / 0.019, abs=1e-4)
    mibg = dose_for_patient(get_agent("123I-MIBG"), weight_kg=35.0, age_years=10.0)
    assert mibg.activity_mbq == pytest.approx(28.0 * 7.72, abs=0.05)
    assert mibg.dose_coefficient_msv_per_mbq == 0.026
    adult = dose_for_patient(get_agent("18F-FDG"), weight_kg=35.0, age_years=30.0)
    assert adult.activity_mbq == 140.0 and adult.dose_coefficient_msv_per_mbq == 0.019
    advice = advise("staging", weight_kg=35.0, age_years=10.0)
    assert advice.recommendations[0].activity_mbq == ga.activity_mbq
    assert advice.recommendations[1].activity_mbq is None  # Detectnet: not established in children
    assert any(c.startswith("Child:") for c in advice.cautions)


def test_card_minimum_rounding_and_label_age_limits():
    assert card_multiple(35.0) == (7.72, 34.0)  # halfway rounds down
    assert card_multiple(35.1) == (8.0, 36.0)
    assert card_multiple(2.0) == (1.0, 3.0) and card_multiple(90.0) == (14.0, 68.0)
    baby_mibg = dose_for_patient(get_agent("123I-MIBG"), weight_kg=3.0, age_years=0.2)
    assert baby_mibg.activity_mbq == 37.0  # 28 MBq x 1 is below the 37 MBq minimum
    assert baby_mibg.dose_coefficient_msv_per_mbq == 0.068  # 1-year phantom
    lu = get_agent("177Lu-DOTATATE")
    assert dose_for_patient(lu, weight_kg=50.0, age_years=14.0).activity_mbq == 7400.0
    assert dose_for_patient(lu, weight_kg=30.0, age_years=9.0).activity_mbq is None


# Fahey FH et al., J Nucl Med 2011;52:1240-1251, Table 1: effective dose (mSv) when 370 MBq at
# 70 kg is scaled by weight (1, 5, 10, 15 y: 9.7, 19.8, 33.2, 56.8 kg), from ICRP 106 (FDG)
# and ICRP 80 (MIBG).
FAHEY = {"18F-FDG": (5.2, 5.9, 6.6, 7.3), "123I-MIBG": (3.4, 3.8, 4.5, 5.0)}


@pytest.mark.parametrize("name", sorted(FAHEY))
def test_child_coefficients_reproduce_published_effective_doses(name):
    agent = get_agent(name)
    for age, mass, expected in zip(
        (1, 5, 10, 15), (9.7, 19.8, 33.2, 56.8), FAHEY[name], strict=True
    ):
        dose = dose_for_patient(agent, weight_kg=mass, age_years=float(age))
        assert dose.dose_coefficient_msv_per_mbq * 370.0 * mass / 70.0 == pytest.approx(
            expected, rel=0.07
        )


# --- guidance ---------------------------------------------------------------------------------


def test_every_agent_has_cited_pregnancy_breastfeeding_and_preparation():
    for agent in list_agents():
        for item in (agent.pregnancy, agent.breastfeeding, *agent.preparation):
            assert item.text and item.source, agent.name
        for drug in agent.interfering_drugs:
            assert drug.drug and drug.advice and drug.source, agent.name
        if agent.radionuclide:
            assert agent.preparation, agent.name


def test_64cu_follows_its_label():
    cu = get_agent("64Cu-DOTATATE")
    drugs = {d.drug: d for d in cu.interfering_drugs}
    assert "28 days" in drugs["long-acting somatostatin analogues"].advice
    assert "2 days" in drugs["short-acting somatostatin analogues"].advice
    assert all("Detectnet prescribing information" in d.source for d in drugs.values())
    assert cu.breastfeeding.interrupt_h == 12.0 and "Detectnet" in cu.breastfeeding.source


def test_mibg_interfering_drugs_and_thyroid_blockade():
    mibg = get_agent("123I-MIBG")
    text = " ".join(d.drug for d in mibg.interfering_drugs).lower()
    for drug in ("labetalol", "reserpine", "tricyclic", "sympathomimetics", "cocaine"):
        assert drug in text
    assert any("potassium iodide" in g.text for g in mibg.preparation)
    assert mibg.breastfeeding.interrupt_h >= 48.0


def test_somatostatin_analogues_for_every_sstr_agent_and_prrt():
    for agent in list_agents():
        if agent.is_sstr and agent.approval["us"].status != "investigational":
            assert any("somatostatin" in d.drug for d in agent.interfering_drugs), agent.name
    lu = {d.drug: d.advice for d in get_agent("177Lu-DOTATATE").interfering_drugs}
    assert "4 weeks" in lu["long-acting somatostatin analogues"]


def test_exendin_requires_glucose_infusion_and_sstr_false_positives_are_cautions():
    insulinoma = advise("insulinoma", weight_kg=70)
    assert any("glucose infusion" in p.text.lower() for p in insulinoma.preparation)
    staging = advise("staging", weight_kg=70)
    text = " ".join(staging.cautions).lower()
    for fp in ("meningioma", "renal cell carcinoma", "melanoma", "sarcoidosis", "lymphoma"):
        assert fp in text


def test_111in_key_scan_is_24_h():
    octreoscan = get_agent("octreoscan")
    assert octreoscan.scan_h == 24.0 and octreoscan.imaging_times_h == (4.0, 24.0)
    rec = advise("staging", weight_kg=70).recommendations[2]
    assert rec.agent == "111In-pentetreotide" and rec.scan_h == 24.0


def test_effective_dose_of_140_mbq_dotatate_is_about_2_9_msv():
    agent = get_agent("68Ga-DOTATATE")
    assert agent.effective_dose_msv(140.0) == pytest.approx(2.9, abs=0.1)
    octreoscan = get_agent("octreoscan")
    dose_in = octreoscan.effective_dose_msv(octreoscan.activity_mbq())
    assert dose_in == pytest.approx(12.0, abs=1.0)
    assert 0.2 < 2.9 / dose_in < 0.3  # "approximately 25 % of the radiation burden"


# --- data files: every number has a source, citations corrected ------------------------------

DATA_FILES = ("agents.toml", "scenarios.toml", "paediatric.toml")
SOURCE_KEYS = re.compile(r"(source|evidence)$")


def _data(package: str, name: str) -> dict:
    return tomllib.loads(resources.files(package).joinpath(f"data/{name}").read_text("utf-8"))


def _unsourced(node, path="", cited=False) -> list[str]:
    """Paths of numbers with no source/evidence key in their table or an enclosing one."""
    bad = []
    if isinstance(node, dict):
        cited = cited or any(SOURCE_KEYS.search(k) and node[k] for k in node)
        for key, value in node.items():
            bad += _unsourced(value, f"{path}.{key}", cited)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            bad += _unsourced(value, f"{path}[{i}]", cited)
    elif isinstance(node, int | float) and not isinstance(node, bool) and not cited:
        bad.append(path)
    return bad


@pytest.mark.parametrize(
    ("package", "name"),
    [("nenscope.knowledge", n) for n in DATA_FILES] + [("nenscope.leaflet", "leaflet.toml")],
)
def test_every_number_in_every_data_file_has_a_source(package, name):
    assert _unsourced(_data(package, name)) == []


def test_unsourced_finds_a_number_without_source():
    assert _unsourced({"agent": [{"mbq": 1.0, "x": {"source": "s", "h": 2}}]}) == [".agent[0].mbq"]


def test_every_row_has_a_source():
    for agent in _data("nenscope.knowledge", "agents.toml")["agent"]:
        assert agent["activity"]["source"] and agent["imaging_source"] and agent["dose_source"]
        for perf in agent["performance"]:
            assert perf["source"], agent["name"]
    for scenario in _data("nenscope.knowledge", "scenarios.toml")["scenario"]:
        branches = scenario.get("branch", [scenario])
        for branch in branches:
            if branch is not scenario:
                assert branch["source"], branch["name"]
            for rec in branch["recommendations"]:
                assert rec["evidence"] and all(rec["evidence"]), (scenario["name"], rec["agent"])


def test_citations_are_corrected():
    text = "".join(
        resources.files("nenscope.knowledge").joinpath(f"data/{n}").read_text("utf-8")
        for n in DATA_FILES
    )
    assert "SNMMI procedure standard 2018" not in text
    assert "Ilan" not in text
    for m in re.finditer(r"60:937", text):
        assert "NANETS/SNMMI procedure standard" in text[max(0, m.start() - 200) : m.start()]
    assert "J Nucl Med 2023;64:204" in text  # the SNMMI/EANM SSTR PET guideline
    assert "2019;46:2112" in text  # EANM/SNMMI PPGL guideline


def test_catalogue_rows_are_complete():
    names = {a.name for a in list_agents()}
    for needed in (
        "111In-pentetreotide",
        "68Ga-DOTATATE",
        "68Ga-DOTATOC",
        "68Ga-DOTANOC",
        "64Cu-DOTATATE",
        "68Ga-OPS202",
        "18F-FDG",
        "18F-DOPA",
        "68Ga-exendin-4",
        "111In-exendin-4",
        "123I-MIBG",
        "68Ga-FAPI-04",
        "68Ga-pentixafor",
        "68Ga-minigastrin",
        "GIPR ligand",
        "177Lu-DOTATATE",
    ):
        assert needed in names
    for a in list_agents():
        if a.radionuclide:
            assert half_life_s(a.radionuclide) > 0


def test_agent_lookup_by_alias():
    assert get_agent("NETSPOT").name == "68Ga-DOTATATE"
    assert get_agent("ga-68 dotatate").name == "68Ga-DOTATATE"
    with pytest.raises(NenscopeError, match="unknown agent"):
        get_agent("99mTc-sestamibi")


@pytest.mark.parametrize("nuclide", ["Ga-68", "F-18", "Lu-177", "In-111", "Cu-64", "I-123"])
def test_decay_matches_radioactivedecay(nuclide):
    for hours in (0.5, 3.0, 24.0, 168.0):
        expected = (
            rd.Inventory({nuclide: 100.0}, "MBq").decay(hours, "h").activities("MBq")[nuclide]
        )
        assert activity_after(nuclide, 100.0, hours=hours) == pytest.approx(expected, rel=1e-9)


def test_every_nuclide_and_spelling_as_radioactivedecay_reads_it():
    """Half-lives read from radioactivedecay's data file equal its own to the last bit, and
    names parse as it parses them, for each of its 1512 nuclides in five spellings."""
    for nuclide in map(str, rd.DEFAULTDATA.nuclides):
        symbol, rest = nuclide.split("-")
        mass = rest.rstrip("mn")
        state = rest[len(mass) :]
        assert half_life_s(nuclide) == rd.Nuclide(nuclide).half_life("s"), nuclide
        spellings = (
            nuclide.lower(),
            nuclide.upper(),
            f"{symbol}{mass}{state}",
            f"{mass}{state}{symbol}",
            f" {mass}{state} {symbol} ",
        )
        for spelling in spellings:
            assert canonical_nuclide(spelling) == rd.Nuclide(spelling).nuclide == nuclide


def test_half_lives_and_spellings():
    assert half_life_s("68Ga") / 60 == pytest.approx(67.71, abs=0.05)
    assert half_life_s("Lu177") / 86400 == pytest.approx(6.647, abs=0.01)
    assert canonical_nuclide("18F") == canonical_nuclide("f-18") == "F-18"
    assert canonical_nuclide("99MTC") == canonical_nuclide("Tc 99m") == "Tc-99m"
    assert activity_after("F-18", 100.0, hours=half_life_s("F-18") / 3600) == pytest.approx(50.0)
    assert math.isclose(activity_after("Ga-68", 100.0, hours=0.0), 100.0)
    for bad in ("Xx-999", "Ga", "F-018", "Ga-68-", "F18m", ""):
        with pytest.raises(NenscopeError, match="unknown radionuclide"):
            canonical_nuclide(bad)


def test_demo_api_is_kept():
    """src/nenscope/demo.py prints these fields of advise("pre-prrt", weight_kg=78)."""
    for rec in advise("pre-prrt", weight_kg=78).recommendations:
        assert rec.activity_mbq > 0 and rec.uptake_min == 60
        assert rec.effective_dose_msv > 0 and rec.rationale


# --- CLI -------------------------------------------------------------------------------------


def test_cli_protocol_json(capsys):
    assert main(["protocol", "--scenario", "staging", "--weight-kg", "70", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    first = data["recommendations"][0]
    assert data["scenario"] == "staging"
    assert first["agent"] == "68Ga-DOTATATE"
    assert first["activity_mbq"] == 140.0
    assert first["uptake_min"] == 60
    assert first["effective_dose_msv"] == pytest.approx(2.9, abs=0.1)
    assert {"rank", "modality", "rationale", "evidence", "status_source"} <= set(first)
    assert data["preparation"] and data["cautions"]
    assert data["pregnancy"]["source"] and data["breastfeeding"]["source"]


def test_cli_protocol_genotype_site_jurisdiction_age(capsys):
    argv = ["protocol", "-s", "pheo-paraganglioma", "--weight-kg", "35", "--age-years", "10"]
    argv += ["--genotype", "SDHB", "--site", "head-neck", "--jurisdiction", "eu", "--json"]
    assert main(argv) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["branch"] == "sdhx" and data["jurisdiction"] == "eu"
    first = data["recommendations"][0]
    assert first["agent"] == "68Ga-DOTATATE" and first["status"] == "not approved"
    assert first["activity_mbq"] == pytest.approx(98.8, abs=0.05)
    assert main(["protocol", "-s", "mtc", "--weight-kg", "70", "--doubling-time-months", "6"]) == 0
    first_row = next(line for line in capsys.readouterr().out.splitlines() if "│ 1 " in line)
    assert "18F-FDG" in first_row


def test_cli_protocol_120_kg_capped(capsys):
    assert main(["protocol", "-s", "pre-prrt", "--weight-kg", "120", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["recommendations"][0]["activity_mbq"] == 200.0


def test_cli_human_output_and_list(capsys):
    assert main(["protocol", "--list-scenarios"]) == 0
    out = capsys.readouterr().out
    assert "pheo-paraganglioma" in out and "no-ga68" in out
    argv = ["protocol", "-s", "insulinoma", "--weight-kg", "70", "--height-cm", "170"]
    assert main([*argv, "--sex", "F", "--jurisdiction", "us"]) == 0
    out = capsys.readouterr().out
    assert "68Ga-exendin-4" in out and "status (US)" in out and "Pregnancy:" in out
    assert main(["protocol", "-s", "staging", "--weight-kg", "70"]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if "111In" in line)
    assert "24 h" in row  # the key SPECT, not "240 min"


def test_cli_tracer_and_decay(capsys):
    assert main(["tracer", "netspot", "--weight-kg", "90", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["name"] == "68Ga-DOTATATE" and data["activity_mbq"] == 180.0
    assert main(["tracer", "detectnet", "--jurisdiction", "eu", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["status"] == "not approved" and data["approval"]["us"]["status"] == "approved"
    for agent in ("octreoscan", "gipr", "lutathera", "fdopa"):  # fixed, none and per-kg rules
        assert main(["tracer", agent, "--weight-kg", "35", "--age-years", "10"]) == 0
    assert "EANM paediatric dosage card" in capsys.readouterr().out
    assert main(["decay", "Ga-68", "--activity-mbq", "200", "--hours", "1", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    expected = rd.Inventory({"Ga-68": 200.0}, "MBq").decay(1, "h").activities("MBq")["Ga-68"]
    assert data["activity_left_mbq"] == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize(
    "argv",
    [
        ["protocol", "--scenario", "staging", "--weight-kg", "-70"],
        ["protocol", "--scenario", "staging", "--weight-kg", "0"],
        ["protocol", "--scenario", "nonsense", "--weight-kg", "70"],
        ["protocol", "--scenario", "staging", "--weight-kg", "70", "--sex", "X"],
        ["protocol", "--scenario", "staging", "--weight-kg", "70", "--height-cm", "900"],
        ["protocol", "--scenario", "staging"],
        ["protocol", "--scenario", "staging", "--weight-kg", "70", "--genotype", "SDHB"],
        ["protocol", "-s", "pheo-paraganglioma", "--weight-kg", "70", "--genotype", "BRCA1"],
        ["protocol", "-s", "pheo-paraganglioma", "--weight-kg", "70", "--site", "liver"],
        ["protocol", "-s", "mtc", "--weight-kg", "70", "--doubling-time-months", "0"],
        ["protocol", "-s", "mtc", "--weight-kg", "70", "--site", "adrenal"],
        ["protocol", "-s", "staging", "--weight-kg", "70", "--jurisdiction", "jp"],
        ["protocol", "-s", "staging", "--weight-kg", "70", "--age-years", "-1"],
        ["tracer", "unobtainium"],
        ["tracer", "fdg", "--age-years", "10"],
        ["decay", "Zz-1", "--activity-mbq", "10", "--hours", "1"],
        ["decay", "Ga-68", "--activity-mbq", "-10", "--hours", "1"],
    ],
)
def test_cli_bad_input_exits_2_with_one_line(argv, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ")
    assert "\n" not in err and "Traceback" not in err


def test_cli_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("nenscope ")


def test_console_script_exits_2(tmp_path):
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "nenscope", "protocol", "-s", "staging", "--weight-kg", "-1"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("error: weight")
