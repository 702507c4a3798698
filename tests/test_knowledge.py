"""Knowledge base: tracer catalogue, protocol scenarios, radionuclide decay (issue 2)."""

from __future__ import annotations

import json
import math

import pytest
import radioactivedecay as rd

from nenscope.cli import main
from nenscope.errors import NenscopeError
from nenscope.knowledge import (
    activity_after,
    advise,
    canonical_nuclide,
    get_agent,
    half_life_s,
    list_agents,
    list_scenarios,
)

# First choice and a phrase its reason must carry, per scenario (DESIGN §3, the review).
FIRST_CHOICE = {
    "staging": ("68Ga-DOTATATE", "standard of care"),
    "high-grade": ("18F-FDG", "glucose"),
    "insulinoma": ("68Ga-exendin-4", "GLP-1R"),
    "malignant-insulinoma": ("68Ga-DOTATATE", "SSTR"),
    "mtc": ("18F-DOPA", "MTC"),
    "pheo-paraganglioma": ("68Ga-DOTATATE", "superior to MIBG"),
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


def test_effective_dose_of_140_mbq_dotatate_is_about_2_9_msv():
    agent = get_agent("68Ga-DOTATATE")
    assert agent.effective_dose_msv(140.0) == pytest.approx(2.9, abs=0.1)
    # 111In-pentetreotide: about 12 mSv (review), about 4x the 68Ga scan
    octreoscan = get_agent("octreoscan")
    dose_in = octreoscan.effective_dose_msv(octreoscan.activity_mbq())
    assert dose_in == pytest.approx(12.0, abs=1.0)
    assert 0.2 < 2.9 / dose_in < 0.3  # "approximately 25 % of the radiation burden"


def test_exendin_requires_glucose_infusion_and_sstr_false_positives_are_cautions():
    insulinoma = advise("insulinoma", weight_kg=70)
    assert any("glucose infusion" in p.lower() for p in insulinoma.preparation)
    staging = advise("staging", weight_kg=70)
    text = " ".join(staging.cautions).lower()
    for fp in (
        "meningioma",
        "renal cell carcinoma",
        "melanoma",
        "sarcoidosis",
        "lymphoma",
        "inflammation",
    ):
        assert fp in text


def test_catalogue_rows_are_complete_and_cited():
    agents = list_agents()
    names = {a.name for a in agents}
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
    for a in agents:
        assert a.status in {"approved", "investigational", "preclinical"}
        assert a.activity.source and a.dose_source and a.imaging_source
        for perf in a.performance:
            assert perf.get("source"), a.name
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


def test_half_lives_and_spellings():
    assert half_life_s("68Ga") / 60 == pytest.approx(67.71, abs=0.05)
    assert half_life_s("Lu177") / 86400 == pytest.approx(6.647, abs=0.01)
    assert canonical_nuclide("18F") == canonical_nuclide("f-18") == "F-18"
    assert activity_after("F-18", 100.0, hours=half_life_s("F-18") / 3600) == pytest.approx(50.0)
    assert math.isclose(activity_after("Ga-68", 100.0, hours=0.0), 100.0)
    with pytest.raises(NenscopeError):
        canonical_nuclide("Xx-999")


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
    assert {"rank", "modality", "rationale", "evidence"} <= set(first)
    assert data["preparation"] and data["cautions"]


def test_cli_protocol_120_kg_capped(capsys):
    assert main(["protocol", "-s", "pre-prrt", "--weight-kg", "120", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["recommendations"][0]["activity_mbq"] == 200.0


def test_cli_human_output_and_list(capsys):
    assert main(["protocol", "--list-scenarios"]) == 0
    out = capsys.readouterr().out
    assert "pheo-paraganglioma" in out and "no-ga68" in out
    assert (
        main(
            [
                "protocol",
                "-s",
                "insulinoma",
                "--weight-kg",
                "70",
                "--height-cm",
                "170",
                "--sex",
                "F",
            ]
        )
        == 0
    )
    assert "68Ga-exendin-4" in capsys.readouterr().out


def test_cli_tracer_and_decay(capsys):
    assert main(["tracer", "netspot", "--weight-kg", "90", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["name"] == "68Ga-DOTATATE" and data["activity_mbq"] == 180.0
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
        ["tracer", "unobtainium"],
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
