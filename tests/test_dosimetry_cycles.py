"""Cumulative projection over the planned cycles and the next-cycle activity, against hand
calculation (BED = D + G·D²/(α/β), Dale 1985; G = T_rep/(T_rep+T_eff) for mono-exponential
clearance; kidney α/β 2.6 Gy, T_rep 2.8 h; limits 23 Gy, BED 40 / 28 Gy, marrow 2 Gy)."""

from __future__ import annotations

import pytest

from nenscope.dosimetry import cycles, radiobiology
from nenscope.errors import NenscopeError

# hand values: kidney 0.6 Gy/GBq, T_eff 50 h -> G = 2.8/52.8
G_KIDNEY = 2.8 / 52.8
KIDNEY = cycles.RegionResponse("kidneys", 0.6, G_KIDNEY, "kidney")
MARROW = cycles.RegionResponse("red_marrow", 0.03, 0.5 / 40.5, "red_marrow")


def test_response_from_a_measured_cycle_recovers_g():
    d = 0.6 * 7.4  # 4.44 Gy
    bed = radiobiology.bed_gy(d, 50.0)  # Dale: 4.44 + 4.44²/2.6·G = 4.8421
    assert bed == pytest.approx(4.44 + 4.44**2 / 2.6 * G_KIDNEY, rel=1e-12)
    r = cycles.RegionResponse.from_cycle("kidneys", d, bed, 7.4, "kidney")
    assert r.dose_gy_per_gbq == pytest.approx(0.6)
    assert r.g_factor == pytest.approx(G_KIDNEY, rel=1e-12)
    assert r.cycle(7.4) == pytest.approx((4.44, 4.842084), rel=1e-6)


def test_four_cycles_of_7_4_gbq_projected_by_hand():
    one_d, one_b = 4.44, 4.44 + 4.44**2 / 2.6 * G_KIDNEY  # 4.842084 Gy
    p = cycles.project(KIDNEY, (one_d, one_b), [7.4, 7.4, 7.4])
    assert p.projected_dose_gy == pytest.approx(17.76, rel=1e-12)
    assert p.projected_bed_gy == pytest.approx(4 * one_b, rel=1e-12)  # 19.3683 Gy
    assert p.projected_bed_gy == pytest.approx(19.368336, rel=1e-6)
    by = {(lim.quantity, lim.value_gy): (v, hit) for lim, v, hit in p.limits}
    assert by == {
        ("dose_gy", 23.0): (pytest.approx(17.76), False),
        ("bed_gy", 40.0): (pytest.approx(19.368336, rel=1e-6), False),
    }
    # with risk factors the 28 Gy BED limit replaces the 40 Gy one
    p28 = cycles.project(KIDNEY, (one_d, one_b), [7.4] * 3, risk_factors=True)
    assert [(lim.quantity, lim.value_gy) for lim, _, _ in p28.limits] == [
        ("dose_gy", 23.0),
        ("bed_gy", 28.0),
    ]
    # the example: 0.95 Gy/GBq from a wrong kidney mask projects above 23 Gy
    high = cycles.RegionResponse("kidneys", 0.95, G_KIDNEY, "kidney")
    ph = cycles.project(high, high.cycle(7.4), [7.4] * 3)
    assert ph.projected_dose_gy == pytest.approx(28.12)
    assert ph.limits[0][2] is True


def test_next_cycle_activity_by_hand_dose_limit_binds():
    delivered = {"kidneys": (13.32, 3 * 4.842084), "red_marrow": (0.666, 0.67)}
    adv = cycles.max_activity_gbq([KIDNEY, MARROW], delivered)
    # kidney dose: (23 - 13.32)/0.6 = 16.1333 GBq; kidney BED 40: d = 18.496 Gy -> 30.83 GBq;
    # marrow: (2 - 0.666)/0.03 = 44.47 GBq
    assert adv.activity_gbq == pytest.approx(9.68 / 0.6, rel=1e-12)
    assert (adv.region, adv.limit.quantity, adv.limit.value_gy) == ("kidneys", "dose_gy", 23.0)
    # and the activity found keeps the next cycle exactly at the limit
    nxt = cycles.project(KIDNEY, delivered["kidneys"], [adv.activity_gbq])
    assert nxt.projected_dose_gy == pytest.approx(23.0)


def test_next_cycle_activity_by_hand_bed_limit_binds():
    # fast clearance (T_eff 20 h: G = 2.8/22.8) and a high earlier BED: the BED limit binds
    fast = cycles.RegionResponse("kidneys", 0.8, 2.8 / 22.8, "kidney")
    delivered = {"kidneys": (10.0, 24.0)}
    k = (2.8 / 22.8) / 2.6
    # risk factors: 28 - 24 = 4 Gy left: d = (sqrt(1 + 4k·4) - 1)/(2k) = 3.4408 Gy -> 4.3010 GBq
    d_hand = ((1 + 4 * k * 4.0) ** 0.5 - 1) / (2 * k)
    assert d_hand == pytest.approx(3.44080, rel=1e-5)
    adv = cycles.max_activity_gbq([fast], delivered, risk_factors=True)
    assert (adv.limit.quantity, adv.limit.value_gy) == ("bed_gy", 28.0)
    assert adv.activity_gbq == pytest.approx(d_hand / 0.8, rel=1e-12)
    assert adv.activity_gbq == pytest.approx(4.30100, rel=1e-5)
    nxt = cycles.project(fast, delivered["kidneys"], [adv.activity_gbq], risk_factors=True)
    assert nxt.projected_bed_gy == pytest.approx(28.0, rel=1e-12)
    # without risk factors: dose limit (23-10)/0.8 = 16.25 GBq vs BED 40: 16 Gy left,
    # d = (sqrt(1+64k) - 1)/(2k) = 10.646 Gy -> 13.31 GBq: the BED limit still binds
    adv40 = cycles.max_activity_gbq([fast], delivered)
    d40 = ((1 + 4 * k * 16.0) ** 0.5 - 1) / (2 * k)
    assert adv40.activity_gbq == pytest.approx(d40 / 0.8, rel=1e-12)
    assert adv40.activity_gbq == pytest.approx(13.3079, rel=1e-5)
    assert adv40.limit.value_gy == 40.0


def test_marrow_limit_and_equal_remaining_cycles():
    delivered = {"kidneys": (4.44, 4.842084), "red_marrow": (1.4, 1.41)}
    # marrow: (2 - 1.4)/0.03 = 20 GBq for one cycle, 10 GBq each over two; kidney dose over two
    # equal cycles: (23 - 4.44)/2/0.6 = 15.47 GBq
    one = cycles.max_activity_gbq([KIDNEY, MARROW], delivered)
    assert (one.region, one.activity_gbq) == ("red_marrow", pytest.approx(20.0))
    two = cycles.max_activity_gbq([KIDNEY, MARROW], delivered, n_cycles=2)
    assert (two.region, two.activity_gbq, two.n_cycles) == ("red_marrow", pytest.approx(10.0), 2)


def test_limit_already_reached_gives_zero_and_bad_input_is_refused():
    adv = cycles.max_activity_gbq([KIDNEY], {"kidneys": (23.5, 30.0)})
    assert adv.activity_gbq == 0.0
    assert (
        cycles.max_activity_gbq([cycles.RegionResponse("liver", 0.2, 0.0, "default")], {}) is None
    )
    with pytest.raises(NenscopeError, match="remaining cycles"):
        cycles.max_activity_gbq([KIDNEY], {}, n_cycles=0)
    with pytest.raises(NenscopeError, match="≥ 0 GBq"):
        cycles.project(KIDNEY, (0.0, 0.0), [-1.0])
    with pytest.raises(NenscopeError, match="> 0 GBq"):
        cycles.RegionResponse.from_cycle("kidneys", 4.0, 4.4, 0.0, "kidney")
