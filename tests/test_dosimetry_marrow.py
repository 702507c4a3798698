"""Red-marrow dose (EANM 2022): blood-based on an analytic case, image-based (L2–L4) on the
virtual patient against the simulator's truth.

Truth of the virtual patient: the red-marrow region of ``kinetics_lu177.toml`` over the whole
phantom's marrow (TIA = c0·V·∫shape), the organs' TIAs from their kinetics, the whole-body TIA
from the cited retention curve; the truth dose applies the same S-values (self-dose scaled to
the phantom's marrow mass). The image-based estimate measures the L2–L4 marrow of the SPECT
(GTM partial-volume correction), fits it, and scales it by the fraction of the phantom's marrow
inside L2–L4 (the phantom's marrow is spine + pelvis + sternum only, so that fraction is the
phantom's, not the 6.7 % of the ICRP distribution), so what is compared is the measurement
and its kinetics.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate

from nenscope.dosimetry import kinetics, marrow, svalues
from nenscope.dosimetry._data import half_life_s
from nenscope.dosimetry.pvc import GeometricTransferMatrix
from nenscope.errors import NenscopeError
from nenscope.simulation._data import load
from nenscope.simulation.activity import lu177_concentration_bqml, lu177_patient_regions
from nenscope.simulation.phantom import build_patient_phantom
from nenscope.simulation.retention import whole_body_retention
from nenscope.simulation.spect import get_spect_scanner, simulate_spect

SP = 4.8
A_INJ_BQ = 7.4e9
TIMES_H = (4.0, 24.0, 96.0, 168.0)
L2_L4_Z_MM = (-760.0, -650.0)  # the phantom's lumbar spine from the renal hilum to the crest
ORGANS = ("kidney_left", "kidney_right", "liver", "spleen")
LAM_PER_H = math.log(2.0) / (half_life_s("Lu-177") / 3600.0)
S_PER_H = 3600.0 / 1000.0  # MBq·h · mGy/(MBq·s) -> Gy

pytestmark = pytest.mark.xdist_group("dosimetry_marrow_patient")


def _s(target, source):
    return svalues.reference_s_value(target, source, "M").s_mgy_per_mbq_s


def test_blood_based_analytic_case_by_hand():
    # blood: c(t) = 20 kBq/ml · 2^(−t/30 h), sampled without noise: ã = 20·30/ln2 kBq·h/ml
    t = [1.0, 4.0, 24.0, 48.0, 96.0]
    c = [20.0 * 2 ** (-x / 30.0) for x in t]
    organ_tia = {
        "kidney_left": 7000.0,
        "kidney_right": 7100.0,
        "liver": 20000.0,
        "lesion_1": 5000.0,
    }
    wb_tia = 300000.0
    res = marrow.blood_based(
        t, c, sex="M", weight_kg=73.0, organ_tia_mbq_h=organ_tia, whole_body_tia_mbq_h=wb_tia
    )
    a_blood = 20.0 * 30.0 / math.log(2.0) / 1000.0  # MBq·h/ml
    tia_rm = a_blood * 1.0 * 1170.0  # RMBLR 1 (Forrer 2009), ICRP-89 male marrow 1170 g
    assert res.mass_g == pytest.approx(1170.0)
    assert res.tia_mbq_h == pytest.approx(tia_rm, rel=1e-6)
    self_gy = tia_rm * 1.15e-05 * S_PER_H  # OLINDA S(RM<-RM), male
    assert res.self_gy == pytest.approx(self_gy, rel=1e-6)
    organs_gy = (14100.0 * 3.35e-08 + 20000.0 * 3.09e-08) * S_PER_H  # kidneys, liver
    assert res.cross_organs_gy == pytest.approx(organs_gy, rel=1e-9)
    # remainder of the body by hand (MIRD): masses body 73000, marrow 1170, kidneys 310,
    # liver 1800 g; S(RM<-TB) 2.74e-7
    s_rb = (2.74e-07 * 73000 - 1.15e-05 * 1170 - 3.35e-08 * 310 - 3.09e-08 * 1800) / (
        73000 - 1170 - 310 - 1800
    )
    tia_rb = wb_tia - tia_rm - 14100.0 - 20000.0 - 5000.0
    assert res.cross_remainder_gy == pytest.approx(tia_rb * s_rb * S_PER_H, rel=1e-9)
    assert res.dose_gy == pytest.approx(self_gy + organs_gy + tia_rb * s_rb * S_PER_H, rel=1e-6)
    # the dose is that of the concentration, whatever the patient's marrow mass
    heavy = marrow.blood_based(t, c, sex="M", weight_kg=100.0)
    assert heavy.mass_g == pytest.approx(1170.0 * 100 / 73)
    assert heavy.self_gy == pytest.approx(self_gy, rel=1e-6)
    assert any("remainder" in n for n in heavy.notes)


def test_bad_blood_input_is_refused(tmp_path):
    p = tmp_path / "blood.csv"
    p.write_text("time_h,kbq\n1,2\n")
    with pytest.raises(NenscopeError, match="time_h,activity_kbq_per_ml"):
        marrow.read_blood_csv(p)
    p.write_text("time_h,activity_kbq_per_ml\n1,-2\n")
    with pytest.raises(NenscopeError, match="line 2"):
        marrow.read_blood_csv(p)
    with pytest.raises(NenscopeError, match="whole-body TIA"):
        marrow.blood_based([1.0, 24.0], [10.0, 5.0], sex="M", whole_body_tia_mbq_h=10.0)


@pytest.fixture(scope="module")
def patient():
    ph = build_patient_phantom(voxel_mm=SP, n_pixels=96, sex="M", z_range_mm=(-560.0, -800.0))
    full = build_patient_phantom(voxel_mm=SP, n_pixels=96, sex="M")
    scanner = get_spect_scanner("Lu-177", radius_of_rotation_mm=240.0, n_views=32)
    rng = np.random.default_rng(2022)
    images, proj = [], None
    for t in TIMES_H:
        truth, _ = lu177_concentration_bqml(ph, [], t, A_INJ_BQ, ph.weight_kg)
        img, _, proj = simulate_spect(truth, ph.hu, SP, scanner, rng, projector=proj)
        images.append(img.astype(np.float32))
    z = ph.grid.axes_mm()[0][:, None, None]
    voi = ph.mask("red_marrow") & (z >= L2_L4_Z_MM[0]) & (z <= L2_L4_Z_MM[1])
    vox_ml = SP**3 / 1000.0
    marrow_ml = float(full.mask("red_marrow").sum() * vox_ml)
    fraction = float(voi.sum() * vox_ml) / marrow_ml
    fwhm = float(scanner.fwhm_mm(np.array([100.0]))[0])
    return ph, images, voi, fraction, marrow_ml, fwhm


def _truth(ph, marrow_ml):
    regions = lu177_patient_regions(ph)
    w_ml = ph.weight_kg * 1000.0
    rm = regions["red_marrow"]
    tia_rm = rm.suv0 * A_INJ_BQ / 1e6 / w_ml * rm.integral_h() * marrow_ml
    kid = regions["kidneys"]
    tia = {"kidneys": kid.percent_ia / 100 * A_INJ_BQ / 1e6 * kid.integral_h()}
    for n in ("liver", "spleen"):
        r = regions[n]
        tia[n] = r.percent_ia / 100 * A_INJ_BQ / 1e6 * r.integral_h()
    wbr = whole_body_retention()
    wb, _ = integrate.quad(
        lambda t: math.exp(-LAM_PER_H * t) * wbr.fraction(t), 0, 20000, limit=200
    )
    return tia_rm, tia, A_INJ_BQ / 1e6 * wb


def test_image_based_l2_l4_within_15_percent_of_truth(patient):
    ph, images, voi, fraction, marrow_ml, fwhm = patient
    tia_rm_true, organ_tia_true, wb_tia = _truth(ph, marrow_ml)
    truth_self = tia_rm_true * _s("red_marrow", "red_marrow") * 1170.0 / marrow_ml * S_PER_H
    truth_org, truth_rb = marrow.cross_dose_gy(
        organ_tia_true, sex="M", marrow_tia_mbq_h=tia_rm_true, whole_body_tia_mbq_h=wb_tia
    )
    truth_dose = truth_self + truth_org + truth_rb
    # measured: GTM over the L2-L4 VOI, the rest of the marrow and every other tissue of the
    # CT segmentation (a background of mixed tissues would bias so small a region)
    masks = {"l2_l4": voi, "marrow_other": ph.mask("red_marrow") & ~voi}
    masks |= {
        n: ph.mask(n) for n in ph.label_names.values() if n != "red_marrow" and ph.mask(n).any()
    }
    gtm = GeometricTransferMatrix(masks, (SP,) * 3, fwhm)
    vox_ml = SP**3 / 1000.0
    corrected = [gtm.correct(img) for img in images]
    act = {n: [c[n] * float(masks[n].sum()) * vox_ml / 1e6 for c in corrected] for n in masks}
    fits = {n: kinetics.fit_best(TIMES_H, act[n]) for n in ("l2_l4", *ORGANS)}
    res = marrow.image_based(
        fits["l2_l4"],
        sex="M",
        organ_tia_mbq_h={n: fits[n].tia_mbq_h for n in ORGANS},
        whole_body_tia_mbq_h=wb_tia,
        l2_l4_fraction=fraction,
        marrow_mass_g=marrow_ml,
    )
    print(
        f"\nL2-L4 fraction {fraction:.3f}, marrow {marrow_ml:.0f} ml; TIA {res.tia_mbq_h:.0f} vs "
        f"{tia_rm_true:.0f} MBq h; dose {res.dose_gy:.4f} vs {truth_dose:.4f} Gy "
        f"(self {res.self_gy:.4f}/{truth_self:.4f}, organs {res.cross_organs_gy:.4f}/"
        f"{truth_org:.4f}, remainder {res.cross_remainder_gy:.4f}/{truth_rb:.4f})"
    )
    assert res.dose_gy == pytest.approx(truth_dose, rel=0.15)
    assert res.tia_mbq_h == pytest.approx(tia_rm_true, rel=0.15)
    # the marrow of a 177Lu-DOTATATE patient: a few hundredths of a Gy per GBq
    assert 0.01 < res.dose_gy / 7.4 < 0.08
    # a GTM whose background lumps the tissues around the spine (fat, muscle, bowel, aorta)
    # biases so small a VOI: measured -37 %
    coarse = {"l2_l4": voi, "marrow_other": masks["marrow_other"], "bone": masks["bone"]}
    coarse |= {n: masks[n] for n in ORGANS}
    g2 = GeometricTransferMatrix(coarse, (SP,) * 3, fwhm)
    act2 = [g2.correct(img)["l2_l4"] * float(voi.sum()) * vox_ml / 1e6 for img in images]
    assert kinetics.fit_best(TIMES_H, act2).tia_mbq_h / fraction < 0.85 * tia_rm_true
    assert load("kinetics_lu177")["label_region"]["red_marrow"] == "red_marrow"
