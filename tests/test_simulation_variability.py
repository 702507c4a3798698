"""One virtual patient across agents: ``patient_variability`` draws the seed's kidney SSTR
uptake and 177Lu half-lives, the same for a 68Ga-DOTATATE PET and a 177Lu-DOTATATE SPECT of
that seed, with the same lesions; off, the reference patient is unchanged."""

from __future__ import annotations

import pytest

from nenscope.simulation._data import load
from nenscope.simulation.activity import lu177_regions, organ_suv
from nenscope.simulation.study import SimulationConfig, simulate_study
from nenscope.simulation.variability import draw_variation

FAST = dict(voxel_mm=9.6, iterations=1, subsets=4, n_lesions=4)


@pytest.fixture(scope="module")
def pair():
    cfg = dict(seed=23, patient_variability=True, **FAST)
    ga = simulate_study(SimulationConfig(tracer="68Ga-DOTATATE", **cfg))
    lu = simulate_study(SimulationConfig(tracer="177Lu-DOTATATE", timepoints_h=(24.0,), **cfg))
    return ga, lu


def test_same_patient_in_both_studies(pair):
    ga, lu = pair
    assert ga.variation == lu.variation == draw_variation(23)
    assert ga.truth["patient_variation"] == lu.truth["patient_variation"]
    # the same lesions (placed on the reference grid); the SPECT field may cut some off
    ga_les = {les.id: (les.center_mm, les.diameter_mm, les.expression) for les in ga.lesions}
    for les in lu.lesions:
        assert ga_les[les.id] == (les.center_mm, les.diameter_mm, les.expression)
    outside = lu.truth.get("lesions_outside_field_of_view", [])
    assert sorted([les.id for les in lu.lesions] + outside) == sorted(ga_les)


def test_kidney_factor_scales_pet_suv_and_lu177_uptake_alike(pair):
    ga, lu = pair
    v = ga.variation
    ref_suv = load("uptake")["agent"]["68Ga-DOTATATE"]["organs"]["kidneys"]
    assert ga.truth["organs"]["kidney_left"]["true_suv_mean"] == pytest.approx(
        ref_suv * v.kidney_uptake_factor, rel=1e-3
    )
    assert organ_suv("68Ga-DOTATATE", "liver", v) == organ_suv("68Ga-DOTATATE", "liver")
    kid = lu177_regions(v)["kidneys"]
    assert kid.percent_ia == pytest.approx(2.8 * v.kidney_uptake_factor)
    assert kid.t_eff_h == v.kidney_t_eff_h
    a0 = lu.truth["organs"]["kidney_left"]["kinetics"]["a0_mbq"]
    a0 += lu.truth["organs"]["kidney_right"]["kinetics"]["a0_mbq"]
    assert a0 == pytest.approx(kid.percent_ia / 100 * 7400.0, rel=1e-6)
    assert lu.truth["organs"]["kidney_left"]["kinetics"]["t_eff_h"] == v.kidney_t_eff_h


def test_variation_spread_and_the_reference_patient():
    draws = [draw_variation(s) for s in range(400)]
    f = [d.kidney_uptake_factor for d in draws]
    mean = sum(f) / len(f)
    cv = (sum((x - mean) ** 2 for x in f) / (len(f) - 1)) ** 0.5 / mean
    assert mean == pytest.approx(1.0, abs=0.04)
    assert cv == pytest.approx(0.24, abs=0.04)  # Poeppel 2011: 12.7 +- 3.0
    assert all(0.5 <= x <= 2.0 for x in f)
    assert 45 < sum(d.kidney_t_eff_h for d in draws) / 400 < 55
    ref = simulate_study(SimulationConfig(tracer="68Ga-DOTATATE", seed=23, **FAST))
    assert ref.variation is None and "patient_variation" not in ref.truth
    assert ref.truth["organs"]["kidney_left"]["true_suv_mean"] == pytest.approx(13.0)
