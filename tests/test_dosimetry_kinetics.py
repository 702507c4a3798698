"""Kinetics and radiobiology of nenscope.dosimetry against analytic values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nenscope.dosimetry import kinetics, radiobiology
from nenscope.dosimetry._data import half_life_s
from nenscope.errors import NenscopeError

LN2 = math.log(2.0)


def test_lu177_half_life_is_icrp107():
    # ICRP-107: 6.647 d (decay_summary_icrp107.csv: 574300.8 s)
    assert half_life_s("Lu-177") == pytest.approx(574300.8, rel=1e-4)


def test_mono_exponential_tia_is_analytic():
    a0, teff = 1000.0, 50.0
    t = np.array([4.0, 24.0, 72.0, 168.0])
    y = a0 * np.exp(-LN2 * t / teff)
    fit = kinetics.fit_model(t, y, "mono-exp")
    assert fit.tia_mbq_h == pytest.approx(a0 * teff / LN2, rel=1e-6)
    assert fit.t_eff_h == pytest.approx(teff, rel=1e-6)
    best = kinetics.fit_best(t, y)
    assert best.tia_mbq_h == pytest.approx(a0 * teff / LN2, rel=1e-4)


def test_uptake_model_is_chosen_by_aic_and_integrates_exactly():
    a0, teff, tup = 500.0, 60.0, 2.0
    t = np.array([1.0, 4.0, 24.0, 48.0, 96.0, 168.0])
    y = a0 * (np.exp(-LN2 * t / teff) - np.exp(-LN2 * t / tup))
    best = kinetics.fit_best(t, y)
    assert best.model == "mono-exp-uptake"
    assert best.tia_mbq_h == pytest.approx(a0 * (teff - tup) / LN2, rel=1e-4)
    assert best.candidates["mono-exp-uptake"] < best.candidates["mono-exp"]


def test_bi_exponential_recovered_with_uncertainty():
    rng = np.random.default_rng(3)
    t = np.array([1.0, 4.0, 12.0, 24.0, 48.0, 72.0, 120.0, 168.0])
    true = 300 * np.exp(-LN2 * t / 3.0) + 200 * np.exp(-LN2 * t / 80.0)
    tia_true = 300 * 3.0 / LN2 + 200 * 80.0 / LN2
    y = true * (1 + 0.02 * rng.standard_normal(t.size))
    fit = kinetics.fit_model(t, y, "bi-exp")
    assert fit.tia_mbq_h == pytest.approx(tia_true, rel=0.05)
    assert 0 < fit.tia_std_mbq_h < 0.1 * tia_true
    # the error bar is honest: truth within 3 sigma
    assert abs(fit.tia_mbq_h - tia_true) < 3 * fit.tia_std_mbq_h + 1e-9


def test_clearance_never_slower_than_physical_decay():
    t = np.array([24.0, 72.0, 168.0])
    y = np.array([100.0, 100.0, 100.0])  # flat: implies no clearance
    fit = kinetics.fit_model(t, y, "mono-exp")
    t_phys_h = half_life_s("Lu-177") / 3600
    assert fit.t_eff_h <= t_phys_h * (1 + 1e-9)


def test_trapezoid_with_physical_tail():
    lam = LN2 / (half_life_s("Lu-177") / 3600)
    t = [2.0, 4.0]
    y = [10.0, 20.0]
    fit = kinetics.tia_trapezoid(t, y, head="zero", tail="physical")
    # 0.5*10*2 + 0.5*(10+20)*2 + 20/lam
    assert fit.tia_mbq_h == pytest.approx(10.0 + 30.0 + 20.0 / lam, rel=1e-12)
    const = kinetics.tia_trapezoid(t, y, head="constant")
    assert const.tia_mbq_h - fit.tia_mbq_h == pytest.approx(10.0, rel=1e-12)


def test_trapezoid_converges_to_mono_exponential_integral():
    teff = 40.0
    t = np.linspace(0.5, 400.0, 800)
    y = 100 * np.exp(-LN2 * t / teff)
    fit = kinetics.tia_trapezoid(t, y, head="constant", tail="exp")
    assert fit.tia_mbq_h == pytest.approx(100 * teff / LN2, rel=2e-3)


def test_haenscheid_single_time_point():
    fit = kinetics.tia_single_time_point(72.0, 50.0)
    assert fit.tia_mbq_h == pytest.approx(50.0 * 2 * 72.0 / LN2)
    # exact when T_eff ~ t for a mono-exponential: 2t/ln2 vs e^{ln2}·t/ln2 → within 8 %
    teff = 72.0
    a = 100 * math.exp(-LN2 * 72.0 / teff)
    exact = 100 * teff / LN2
    assert kinetics.tia_single_time_point(72.0, a).tia_mbq_h == pytest.approx(exact, rel=0.08)
    madsen = kinetics.tia_single_time_point(72.0, a, t_eff_h=teff)
    assert madsen.tia_mbq_h == pytest.approx(exact, rel=1e-12)


def test_bad_tac_inputs_raise_user_errors():
    with pytest.raises(NenscopeError):
        kinetics.fit_best([1.0, 2.0], [1.0, -1.0])
    with pytest.raises(NenscopeError):
        kinetics.fit_model([1.0, 2.0], [2.0, 1.0], "bi-exp")


def test_bed_kidney_20_gy_at_50_h_is_28_2():
    assert radiobiology.bed_gy(20.0, 50.0) == pytest.approx(28.2, abs=0.05)
    p = radiobiology.tissue_parameters("kidney")
    assert (p.alpha_beta_gy, p.repair_half_time_h) == (2.6, 2.8)


def test_lea_catcheside_matches_mono_exponential_formula():
    teff, trep = 50.0, 2.8
    g = radiobiology.lea_catcheside_g(
        lambda t: np.exp(-LN2 * t / teff), repair_half_time_h=trep, t_max_h=2000.0, n_steps=200000
    )
    assert g == pytest.approx(trep / (trep + teff), rel=2e-3)


def test_cumulative_bed_over_cycles_and_warnings():
    prev = [
        radiobiology.CycleDose("kidneys", 5.0, t_eff_h=50.0),
        radiobiology.CycleDose("kidneys", 5.0, bed_gy=6.0),
        radiobiology.CycleDose("kidneys", 5.0, t_eff_h=50.0),
    ]
    cum = radiobiology.cumulative({"kidneys": (9.0, 12.0)}, prev, lambda n: "kidney")
    b1 = 5.0 + 25.0 / 2.6 * 2.8 / 52.8
    assert cum["kidneys"][0] == pytest.approx(24.0)
    assert cum["kidneys"][1] == pytest.approx(12.0 + 6.0 + 2 * b1)
    warn = radiobiology.limit_warnings(cum, lambda n: "kidney")
    assert any("23 Gy" in w for w in warn)
    assert not any("40 Gy" in w for w in warn)  # BED ~29 Gy < 40
    warn_rf = radiobiology.limit_warnings(cum, lambda n: "kidney", risk_factors=True)
    assert any("28 Gy" in w for w in warn_rf)


def test_tri_exponential_with_uptake_is_chosen_and_exact():
    t = np.array([0.5, 1, 2, 4, 8, 24, 48, 72, 120, 168.0])
    a1, a2 = 300.0, 100.0
    l1, l2, lu = LN2 / 80, LN2 / 5, LN2 / 0.7
    y = a1 * np.exp(-l1 * t) + a2 * np.exp(-l2 * t) - (a1 + a2) * np.exp(-lu * t)
    best = kinetics.fit_best(t, y)
    assert best.model == "tri-exp"
    assert best.tia_mbq_h == pytest.approx(a1 / l1 + a2 / l2 - (a1 + a2) / lu, rel=1e-6)
    assert best.t_eff_h == pytest.approx(80.0, rel=1e-4)
