"""``nenscope plan``: the checklist item by item, the predicted doses and the kidneys over the
regimen against hand calculation, the files and the CLI."""

from __future__ import annotations

import json
import math

import pytest

from nenscope.cli import main
from nenscope.errors import NenscopeError
from nenscope.plan import MET, NOT_MET, UNKNOWN, PatientData, evaluate, make_plan
from nenscope.plan._data import load
from nenscope.plan.prediction import fit_model, load_model

GOOD = dict(
    ki67_percent=5.0,
    egfr_ml_min=80.0,
    haemoglobin_g_dl=12.0,
    wbc_10e9_l=6.0,
    platelets_10e9_l=200.0,
    bilirubin_x_uln=0.8,
    albumin_g_dl=4.0,
    karnofsky=90.0,
    days_since_long_acting_ssa=35.0,
    pregnant=False,
    breastfeeding=False,
    prior_therapies=("octreotide LAR",),
)


def _findings(krenning=(4, 3), netpet=None, suv_pvc=(20.0, 10.0)):
    lesions = [
        {
            "id": i + 1,
            "krenning": k,
            "suv_mean": 0.7 * s,
            "suv_pvc": s,
            "volume_ml": 5.0,
            "center_mm": [0.0, 0.0, -600.0 - 40 * i],
        }
        for i, (k, s) in enumerate(zip(krenning, suv_pvc, strict=True))
    ]
    return {
        "study": {"agent": "68Ga-DOTATATE"},
        "reference": {"liver_suv_mean": 8.0, "spleen_suv_mean": 24.0},
        "lesions": lesions,
        "summary": {"netpet": netpet},
    }


def _status(patient, findings=None):
    return {i.key: i.status for i in evaluate(patient, findings or _findings())}


def test_every_item_has_a_source_and_all_met_for_a_good_candidate():
    items = evaluate(PatientData(**GOOD), _findings(netpet="P1"))
    assert [i.key for i in items] == list(load("checklist")["item"])
    assert all(i.status == MET for i in items), [(i.key, i.status) for i in items]
    assert all(i.sources and all(s for s in i.sources) for i in items)
    assert any("Hope TA" in s for i in items for s in i.sources)
    assert any("2024" in s for i in items for s in i.sources)


# (field, value that meets, value that does not meet) at the thresholds
THRESHOLDS = [
    ("ki67", "ki67_percent", 20.0, 20.1),
    ("renal", "egfr_ml_min", 50.0, 49.9),
    ("haemoglobin", "haemoglobin_g_dl", 8.0, 7.9),
    ("white_cells", "wbc_10e9_l", 2.0, 1.9),
    ("platelets", "platelets_10e9_l", 75.0, 74.0),
    ("bilirubin", "bilirubin_x_uln", 3.0, 3.1),
    ("albumin", "albumin_g_dl", 3.0, 2.9),
    ("long_acting_ssa", "days_since_long_acting_ssa", 28.0, 27.0),
]


@pytest.mark.parametrize(("key", "field", "ok", "bad"), THRESHOLDS)
def test_threshold_items_met_not_met_unknown(key, field, ok, bad):
    assert _status(PatientData(**{**GOOD, field: ok}))[key] == MET
    assert _status(PatientData(**{**GOOD, field: bad}))[key] == NOT_MET
    assert _status(PatientData(**{**GOOD, field: None}))[key] == UNKNOWN


def test_performance_pregnancy_breastfeeding_and_prior_therapies():
    base = {**GOOD, "karnofsky": None}
    assert _status(PatientData(**{**base, "karnofsky": 60.0}))["performance"] == MET
    assert _status(PatientData(**{**base, "karnofsky": 50.0}))["performance"] == NOT_MET
    assert _status(PatientData(**{**base, "ecog": 2.0}))["performance"] == MET
    assert _status(PatientData(**{**base, "ecog": 3.0}))["performance"] == NOT_MET
    assert _status(PatientData(**base))["performance"] == UNKNOWN
    for key in ("pregnant", "breastfeeding"):
        item = "pregnancy" if key == "pregnant" else "breastfeeding"
        assert _status(PatientData(**{**GOOD, key: True}))[item] == NOT_MET
        assert _status(PatientData(**{**GOOD, key: None}))[item] == UNKNOWN
    assert _status(PatientData(**{**GOOD, "prior_therapies": None}))["prior_therapies"] == UNKNOWN
    none = evaluate(PatientData(**{**GOOD, "prior_therapies": ()}), _findings())
    assert next(i for i in none if i.key == "prior_therapies").value == "none"


def test_imaging_items_from_the_findings():
    p = PatientData(**GOOD)
    assert _status(p, _findings(krenning=(4, 2)))["sstr_uptake"] == NOT_MET
    item = next(i for i in evaluate(p, _findings(krenning=(4, 2))) if i.key == "sstr_uptake")
    assert item.value == "1 of 2 lesions at or above the liver"
    assert _status(p, _findings(krenning=(4, None)))["sstr_uptake"] == UNKNOWN
    empty = {**_findings(), "lesions": []}
    assert _status(p, empty)["sstr_uptake"] == NOT_MET
    assert _status(p, _findings(netpet="P5"))["netpet"] == NOT_MET
    assert _status(p, _findings(netpet="P2"))["netpet"] == MET
    assert _status(p, _findings(netpet=None))["netpet"] == UNKNOWN


def test_predictions_and_kidneys_over_the_regimen_by_hand():
    plan = make_plan(_findings(netpet="P1"), PatientData(**GOOD))
    assert plan.regimen["cycles"] == 4 and plan.regimen["activity_gbq_per_cycle"] == 7.4
    assert plan.regimen["interval_weeks"] == 8
    assert any("mino" in g["text"] for g in plan.regimen["preparation"])  # amino acids
    by = {p.region: p for p in plan.predictions}
    assert by["kidneys"].dose_gy_per_gbq == pytest.approx(0.57)
    assert by["spleen"].dose_gy_per_gbq == pytest.approx(1.17)
    # tumours: 26.9 Gy / (24.0 SUV x 7.4 GBq) per unit of the partial-volume corrected SUV
    assert by["lesion_1"].dose_gy_per_gbq == pytest.approx(20.0 * 26.9 / 24.0 / 7.4, rel=1e-3)
    assert by["lesion_2"].dose_gy == pytest.approx(10.0 * 0.1515 * 7.4, rel=1e-9)
    k = plan.kidney_projection
    d = 0.57 * 7.4
    g = 2.8 / 52.8  # T_rep / (T_rep + T_eff 50 h)
    assert k["cumulative_dose_gy"] == pytest.approx(4 * d)
    assert k["cumulative_bed_gy"] == pytest.approx(4 * (d + g * d * d / 2.6))
    assert k["max_activity_gbq_per_cycle"] == pytest.approx(23.0 / 4 / 0.57)
    assert not any(lim["reached"] for lim in k["limits"])
    assert plan.status == MET and plan.warnings == []
    # unknown data make the plan unknown, a failed item makes it not met
    assert make_plan(_findings(), PatientData(**{**GOOD, "ki67_percent": None})).status == UNKNOWN
    assert make_plan(_findings(), PatientData(**{**GOOD, "egfr_ml_min": 20.0})).status == NOT_MET


def test_a_site_model_and_its_fit(tmp_path):
    slope, icpt, sd = fit_model([10.0, 15.0, 20.0, 25.0], [0.4, 0.55, 0.7, 0.85])
    assert (slope, icpt, sd) == (
        pytest.approx(0.03),
        pytest.approx(0.1),
        pytest.approx(0.0, abs=1e-9),
    )
    s0, i0, _ = fit_model([1.0, 2.0, 4.0], [0.3, 0.6, 1.2], through_origin=True)
    assert (s0, i0) == (pytest.approx(0.3), 0.0)
    f = tmp_path / "site.toml"
    f.write_text(
        "[region.kidneys]\nslope_gy_per_gbq = 0.03\nintercept_gy_per_gbq = 0.1\n"
        'sd_gy_per_gbq = 0.05\nsource = "site fit"\n'
    )
    assert set(load_model(f)) == {"kidneys"}
    plan = make_plan(_findings(), PatientData(**GOOD), organ_suv={"kidneys": 20.0}, model_path=f)
    assert plan.predictions[0].dose_gy_per_gbq == pytest.approx(0.7)
    # with a 0.95 Gy/GBq kidney the regimen passes 23 Gy: a warning names the activity
    hot = make_plan(_findings(), PatientData(**GOOD), organ_suv={"kidneys": 28.3}, model_path=f)
    assert hot.kidney_projection["cumulative_dose_gy"] == pytest.approx(0.949 * 29.6)
    assert "at most 6.1 GBq" in hot.warnings[0]
    with pytest.raises(NenscopeError, match="kidney-suv-mean"):
        make_plan(_findings(), PatientData(**GOOD), model_path=f)


def test_bad_patient_data_is_refused():
    with pytest.raises(NenscopeError, match="--ki67"):
        PatientData(ki67_percent=120.0)
    with pytest.raises(NenscopeError, match="--egfr"):
        PatientData(egfr_ml_min=math.nan)


def test_cli_writes_plan_json_and_html(tmp_path, capsys):
    f = tmp_path / "findings.json"
    f.write_text(json.dumps(_findings(netpet="P1")))
    args = ["plan", "--findings", str(f), "--ki67", "5", "--egfr", "80", "--haemoglobin", "12"]
    args += ["--wbc", "6", "--platelets", "200", "--bilirubin-x-uln", "0.8", "--albumin", "4"]
    args += ["--karnofsky", "90", "--days-since-ssa", "35", "--not-pregnant"]
    args += [
        "--not-breastfeeding",
        "--prior-therapy",
        "none",
        "--out",
        str(tmp_path / "o"),
        "--json",
    ]
    assert main(args) == 0, capsys.readouterr().err
    doc = json.loads(capsys.readouterr().out)
    assert doc["status"] == MET
    assert json.loads((tmp_path / "o" / "plan.json").read_text()) == doc
    html = (tmp_path / "o" / "plan.html").read_text()
    assert "Checklist" in html and "lesion_1" in html and "Hope TA" in html
    assert main(["plan", "--ki67", "5"]) == 2
    assert "--findings" in capsys.readouterr().err
    assert main(["plan", "--findings", str(f), "--platelets", "-3"]) == 2
    assert "--platelets" in capsys.readouterr().err
