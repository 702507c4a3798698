"""The assessment of a dosimetry result: uncertainty on every region, red marrow from an
L2–L4 VOI or blood, the regimen projected, measured against planned (by hand)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nenscope.dosimetry import assessment, marrow, pipeline, radiobiology

T = [4.0, 24.0, 96.0, 168.0]
LAM = math.log(2)


def _tac(name, a0, t_eff, mass=None, t_up=1.0):
    act = [a0 * (math.exp(-LAM * t / t_eff) - math.exp(-LAM * t / t_up)) for t in T]
    return pipeline.RegionTAC(name, list(T), act, mass)


@pytest.fixture()
def result():
    tacs = [
        _tac("kidney_left", 110.0, 50.0, 150.0),
        _tac("kidney_right", 100.0, 50.0, 145.0),
        _tac("spleen", 80.0, 70.0, 150.0),
        _tac("L2-L4", 12.0, 40.0),
        _tac("lesion_1", 60.0, 90.0, 20.0),
        _tac("whole body", 3000.0, 60.0),
    ]
    return pipeline.dosimetry_from_tacs(tacs, sex="M", injected_gbq=7.4)


def test_marrow_voi_is_not_a_tumour_and_gives_the_red_marrow_row(result):
    by = {r.name: r for r in result.regions}
    assert by["L2-L4"].kind == "marrow_voi" and math.isnan(by["L2-L4"].dose_gy)
    assert by["whole body"].kind == "body"
    md = assessment.marrow_dose(result, weight_kg=73.0)
    organ_tia = {
        n: by[n].fit.tia_mbq_h for n in ("kidney_left", "kidney_right", "spleen", "lesion_1")
    }
    ref = marrow.image_based(
        by["L2-L4"].fit,
        sex="M",
        weight_kg=73.0,
        organ_tia_mbq_h=organ_tia,
        whole_body_tia_mbq_h=by["whole body"].fit.tia_mbq_h,
    )
    assert md.dose_gy == pytest.approx(ref.dose_gy)
    assert md.tia_mbq_h == pytest.approx(by["L2-L4"].fit.tia_mbq_h / 0.067)
    row = next(r for r in result.regions if r.name == "red_marrow")
    assert row.dose_gy == pytest.approx(md.dose_gy)
    assert row.dose_gy_per_gbq == pytest.approx(md.dose_gy / 7.4)
    p = radiobiology.tissue_parameters("red_marrow")
    assert row.bed_gy == pytest.approx(
        radiobiology.bed_gy(
            md.dose_gy,
            by["L2-L4"].fit.t_eff_h,
            alpha_beta_gy=p.alpha_beta_gy,
            repair_half_time_h=p.repair_half_time_h,
        )
    )
    doc = result.to_dict()
    assert doc["marrow"]["method"] == "image (L2-L4)"
    # blood samples take precedence
    res2 = pipeline.dosimetry_from_tacs(
        [_tac("kidneys", 200.0, 50.0, 300.0)], sex="M", injected_gbq=7.4
    )
    bl = assessment.marrow_dose(res2, blood=([1.0, 4.0, 24.0, 96.0], [30.0, 18.0, 6.0, 1.0]))
    assert bl.method == "blood" and bl.cross_remainder_gy is None


def test_every_region_with_a_dose_has_an_uncertainty(result):
    assessment.marrow_dose(result)
    sp = (4.0, 4.0, 4.0)
    mask = np.zeros((30, 30, 30), bool)
    mask[8:22, 8:22, 8:22] = True
    assessment.attach_uncertainty(result, masks={"spleen": mask}, spacing_mm=sp, psf_fwhm_mm=10.0)
    for r in result.regions:
        d = r.to_dict()
        if r.name in ("L2-L4", "whole body"):
            assert d["dose_std_gy"] is None or not math.isfinite(r.dose_gy)
            continue
        assert r.uncertainty is not None, r.name
        assert d["dose_std_gy"] >= 0.05 * r.dose_gy * (1 - 1e-5)  # calibration 5 % at least
        assert d["bed_std_gy"] >= d["dose_std_gy"]
        assert set(d["uncertainty_budget"]) >= {"calibration", "curve_fit", "recovery", "volume"}
    spleen = next(r for r in result.regions if r.name == "spleen").uncertainty
    assert spleen.budget["volume"] > 0 and spleen.budget["recovery"] > 0 and not spleen.notes
    kid = next(r for r in result.regions if r.name == "kidney_left").uncertainty
    assert kid.budget["volume"] == 0 and "volume" in kid.notes[0]


def test_regimen_projection_and_plan_comparison_by_hand(result):
    prev = [radiobiology.CycleDose("kidney_left", 4.0, 4.4)]
    res = pipeline.dosimetry_from_tacs(
        [_tac("kidney_left", 110.0, 50.0, 150.0)], sex="M", injected_gbq=7.4, previous=prev
    )
    kid = res.regions[0]
    proj = assessment.project_regimen(res, remaining_gbq=[7.4, 7.4])
    row = proj["regions"][0]
    assert row["delivered_dose_gy"] == pytest.approx(4.0 + kid.dose_gy, rel=1e-5)
    assert row["projected_dose_gy"] == pytest.approx(4.0 + 3 * kid.dose_gy, rel=1e-5)
    assert row["projected_bed_gy"] == pytest.approx(4.4 + 3 * kid.bed_gy, rel=1e-5)
    # next cycle: the kidney dose limit, (23 - delivered) / (Gy/GBq)
    per_gbq = kid.dose_gy / 7.4
    assert proj["next_cycle"]["max_activity_gbq"] == pytest.approx(
        (23.0 - 4.0 - kid.dose_gy) / per_gbq, rel=1e-5
    )
    assert proj["each_remaining_cycle"]["max_activity_gbq"] == pytest.approx(
        (23.0 - 4.0 - kid.dose_gy) / 2 / per_gbq, rel=1e-5
    )
    assert assessment.projection_warnings(proj) == []
    # a hot kidney over 3 more cycles reaches 23 Gy: warned, with the next-cycle activity
    hot = assessment.project_regimen(res, remaining_gbq=[7.4] * 8)
    w = assessment.projection_warnings(hot)
    assert w and "23 Gy limit" in w[0] and "at most" in w[0]
    plan = {"predicted_doses": [{"region": "kidneys", "dose_gy_per_gbq": 0.57}]}
    cmp = assessment.compare_with_plan(res, plan)
    assert cmp == [
        {
            "region": "kidneys",
            "predicted_gy_per_gbq": 0.57,
            "measured_gy_per_gbq": pytest.approx(per_gbq, rel=1e-5),
            "measured_over_predicted": pytest.approx(per_gbq / 0.57, rel=1e-5),
        }
    ]


def test_cli_with_blood_plan_and_previous_cycles(tmp_path, capsys):
    import json

    from nenscope.cli import main

    tac = tmp_path / "tac.csv"
    rows = ["region,time_h,activity_mbq,mass_g"]
    for t, a in zip(T, _tac("kidneys", 210.0, 50.0).activity_mbq, strict=True):
        rows.append(f"kidneys,{t},{a:.4f},300")
    tac.write_text("\n".join(rows) + "\n")
    blood = tmp_path / "blood.csv"
    blood.write_text("time_h,activity_kbq_per_ml\n1,30\n4,18\n24,6\n96,1\n")
    prev = tmp_path / "prev.csv"
    prev.write_text("region,dose_gy,bed_gy\nkidneys,4.0,4.4\n")
    plan = tmp_path / "plan.json"
    plan.write_text(
        json.dumps({"predicted_doses": [{"region": "kidneys", "dose_gy_per_gbq": 0.57}]})
    )
    args = ["dosimetry", "--tac-csv", str(tac), "--injected-gbq", "7.4", "--blood-csv", str(blood)]
    args += ["--previous-cycles", str(prev), "--plan", str(plan), "--weight-kg", "73"]
    args += ["--out", str(tmp_path / "o"), "--json"]
    assert main(args) == 0, capsys.readouterr().err
    doc = json.loads(capsys.readouterr().out)
    by = {r["name"]: r for r in doc["regions"]}
    assert doc["marrow"]["method"] == "blood" and by["red_marrow"]["dose_gy"] > 0
    assert all(by[n]["dose_std_gy"] > 0 for n in ("kidneys", "red_marrow"))
    # 4 cycles planned, 1 earlier + this one: 2 remaining of 7.4 GBq
    assert doc["projection"]["remaining_gbq"] == [7.4, 7.4]
    kid = next(r for r in doc["projection"]["regions"] if r["name"] == "kidneys")
    assert kid["projected_dose_gy"] == pytest.approx(4.0 + 3 * by["kidneys"]["dose_gy"], rel=1e-5)
    assert doc["plan_comparison"][0]["region"] == "kidneys"
    html = (tmp_path / "o" / "report.html").read_text()
    assert (
        "Red marrow" in html and "Over the planned regimen" in html and "against the plan" in html
    )
    assert main(args[:-1] + ["--plan", str(tmp_path / "none.json")]) == 2
