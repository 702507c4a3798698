"""Uncertainty propagation (EANM, Gear et al. 2018) checked on analytic cases.

1. Terms by hand: calibration alone gives its own relative SD on TIA and dose; the BED's SD is
   (1 + 2GD/(α/β)) times the dose's; the full budget by hand.
2. The whole chain simulated: a mono-exponential organ seen through a calibration factor, an
   analytic recovery curve RC(V) = V/(V + k) looked up from a delineated volume (Gear 2018's
   chain), count noise at four time points, an S-value and a cross-dose, each drawn from its distribution; the Monte Carlo SD
   of the dose must match the propagated one.
3. The volume and recovery terms of a voxelised sphere against its surface and its recovery
   computed by hand.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from nenscope.dosimetry import kinetics, radiobiology, uncertainty
from nenscope.dosimetry.uncertainty import VolumeTerms


def test_calibration_alone_and_the_bed_factor():
    bed = radiobiology.bed_gy(4.0, 50.0)
    u = uncertainty.propagate(
        tia_mbq_h=1000.0, tia_fit_std_mbq_h=0.0, dose_gy=4.0, bed_gy=bed, calibration_rel=0.05
    )
    assert u.tia_std_mbq_h == pytest.approx(50.0)
    assert u.dose_std_gy == pytest.approx(0.2)
    g = 2.8 / 52.8
    assert u.bed_std_gy == pytest.approx((1 + 2 * g * 4.0 / 2.6) * 0.2, rel=1e-9)
    assert "volume" in u.notes[0]
    # the default calibration term comes from the data file
    assert uncertainty.propagate(tia_mbq_h=1.0, tia_fit_std_mbq_h=0.0, dose_gy=1.0).dose_std_gy == (
        pytest.approx(uncertainty.default_calibration_rel())
    )


def test_full_budget_by_hand():
    vol = VolumeTerms(150.0, 15.0, -1.0, 0.04)  # u_V 10 %, mass only; recovery 4 %
    u = uncertainty.propagate(
        tia_mbq_h=2000.0,
        tia_fit_std_mbq_h=60.0,  # 3 %
        dose_gy=5.0,
        self_gy=4.0,
        volume=vol,
        calibration_rel=0.05,
        s_value_rel=0.02,
        cross_rel=0.3,
    )
    # TIA: sqrt(0.03² + 0.05² + 0.04²) (fit, calibration, recovery; not the mass)
    assert u.tia_std_mbq_h == pytest.approx(2000 * math.sqrt(0.03**2 + 0.05**2 + 0.04**2))
    # dose: calibration 0.05 on all; self 0.8 x (0.03 fit, 0.04 recovery, 1·0.1 volume,
    # 0.02 S); cross 0.2 x 0.3
    terms = [0.05, 0.8 * 0.03, 0.8 * 0.04, 0.8 * 0.1, 0.8 * 0.02, 0.2 * 0.3]
    assert u.dose_std_gy == pytest.approx(5.0 * math.sqrt(sum(t * t for t in terms)), rel=1e-12)
    assert u.budget["volume"] == pytest.approx(0.08)
    assert u.budget["recovery"] == pytest.approx(0.032)
    assert sum(v * v for v in u.budget.values()) == pytest.approx((u.dose_std_gy / 5.0) ** 2)


def test_monte_carlo_of_the_chain_matches_the_propagation():
    rng = np.random.default_rng(2018)
    times = np.array([4.0, 24.0, 96.0, 168.0])
    lam = math.log(2) / 50.0
    a_true = 100.0 * np.exp(-lam * times)  # MBq
    v_true, k_ml = 150.0, 40.0  # RC(V) = V/(V+k)
    u_q, u_v, u_s, u_c, u_cross = 0.05, 0.08, 0.03, 0.04, 0.25
    s_self, d_cross = 2.0e-3, 0.5  # Gy per MBq·h at 150 g; cross-dose Gy

    def rc(v):
        return v / (v + k_ml)

    doses = []
    for _ in range(1000):
        q = 1.0 + rng.normal(0, u_q)
        v = v_true * (1.0 + rng.normal(0, u_v))
        counts = a_true * rc(v_true) * (1.0 + rng.normal(0, u_c, times.size))
        act = counts / (q * rc(v))
        fit = kinetics.fit_model(times, act, "mono-exp", sigma_mbq=u_c * act)
        s = s_self * (1.0 + rng.normal(0, u_s)) * v_true / v
        doses.append(fit.tia_mbq_h * s + d_cross * (1.0 + rng.normal(0, u_cross)) / q)
    doses = np.asarray(doses)
    mc_rel = doses.std() / doses.mean()
    # propagated: the fit's covariance on the noise-free curve with the same weights
    fit0 = kinetics.fit_model(times, a_true, "mono-exp", sigma_mbq=u_c * a_true)
    tia0 = 100.0 / lam
    assert fit0.tia_mbq_h == pytest.approx(tia0, rel=1e-6)
    d_self = tia0 * s_self
    u = uncertainty.propagate(
        tia_mbq_h=tia0,
        tia_fit_std_mbq_h=fit0.tia_std_mbq_h,
        dose_gy=d_self + d_cross,
        self_gy=d_self,
        # a recovery coefficient looked up from the volume (Gear 2018): the dose moves with
        # the volume through the mass and the recovery, d ln D/d ln V = -(1 + d ln RC/d ln V)
        volume=VolumeTerms(v_true, u_v * v_true, -(1.0 + k_ml / (v_true + k_ml))),
        calibration_rel=u_q,
        s_value_rel=u_s,
        cross_rel=u_cross,
    )
    prop_rel = u.dose_std_gy / (d_self + d_cross)
    print(f"\nMonte Carlo {mc_rel:.4f} vs propagated {prop_rel:.4f}")
    assert prop_rel == pytest.approx(mc_rel, rel=0.08)


def test_volume_terms_of_a_sphere():
    sp = 2.0
    n = 61
    ax = (np.arange(n) - n // 2) * sp
    r = np.sqrt(ax[:, None, None] ** 2 + ax[None, :, None] ** 2 + ax[None, None, :] ** 2)
    mask = r <= 30.0
    vt = uncertainty.volume_terms(mask, (sp, sp, sp), psf_fwhm_mm=12.0)
    assert vt.volume_ml == pytest.approx(4 / 3 * math.pi * 27.0, rel=0.02)
    # u(V) = surface × voxel/sqrt(12), surface 4πR²: marching cubes on a binary sphere gives
    # +9 % (its staircase), measured 7.11 vs 6.53 ml
    assert vt.volume_std_ml == pytest.approx(4 * math.pi * 9.0 * 0.2 / math.sqrt(12), rel=0.12)
    # the recovery term: d ln RC/d ln FWHM of the sphere, by hand, times the FWHM's 10 %
    rc = {}
    for f in (11.4, 12.6):
        sig = f / (2 * math.sqrt(2 * math.log(2))) / sp
        rc[f] = uncertainty._recovery(mask, [sig] * 3)
    s_hand = abs(math.log(rc[12.6] / rc[11.4]) / math.log(12.6 / 11.4))
    assert vt.recovery_rel == pytest.approx(0.1 * s_hand, rel=1e-6)
    assert 0.005 < vt.recovery_rel < 0.05  # a 60 mm sphere loses little to a 12 mm PSF
    assert vt.dose_sensitivity == -1.0
    assert uncertainty.volume_terms(mask, (sp,) * 3).recovery_rel == 0.0
