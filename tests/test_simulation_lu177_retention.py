"""The virtual 177Lu-DOTATATE patient keeps what its cited source says it keeps.

Reference: the Lutathera label (US prescribing information, section 12.3): cumulative urinary
excretion 44 % within 5 h, 58 % within 24 h, 65 % within 48 h, so the decay-corrected
whole-body retention is 56 %, 42 % and 35 %. The simulator's patient (named regions + the
remainder tissue over the whole body mass) must hold exactly that; the field of view of a SPECT
holds part of it, and the manifest says where the rest is (outside the field, excreted).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from nenscope.knowledge.radionuclides import half_life_s
from nenscope.simulation._data import load
from nenscope.simulation.activity import (
    _full_phantom_volumes_ml,
    lu177_concentration_bqml,
    lu177_patient_regions,
)
from nenscope.simulation.phantom import build_patient_phantom
from nenscope.simulation.retention import whole_body_retention

LAM_PER_H = math.log(2.0) / (half_life_s("Lu-177") / 3600.0)
LABEL_POINTS = {5.0: 0.56, 24.0: 0.42, 48.0: 0.35}  # 1 - cumulative urinary excretion


def test_retention_curve_passes_through_the_label_points():
    wbr = whole_body_retention()
    for t, r in LABEL_POINTS.items():
        assert float(wbr.fraction(t)) == pytest.approx(r, abs=1e-6)
    assert float(wbr.fraction(0.0)) == pytest.approx(1.0)
    # a fast renal phase (hours) and a slow one (days), as the label describes
    assert wbr.fast_half_life_h < 5.0 < 48.0 < wbr.slow_half_life_h


@pytest.mark.parametrize("sex", ["M", "F"])
def test_patient_holds_the_cited_whole_body_activity(sex):
    """Σ over every kinetic region of the whole patient = A·e^(−λt)·R(t) at any time."""
    ph = build_patient_phantom(voxel_mm=6.0, sex=sex)
    regions = lu177_patient_regions(ph)
    volumes = _full_phantom_volumes_ml(ph.sex, ph.height_cm, ph.weight_kg)
    outside_ml = ph.weight_kg * 1000.0 - sum(volumes.values())
    assert outside_ml > 0  # the phantom has no arms and stops at mid-thigh
    w_g = ph.weight_kg * 1000.0
    for t in (1.0, 4.0, 5.0, 24.0, 48.0, 96.0, 168.0):
        total = 0.0
        for name, reg in regions.items():
            if reg.percent_ia is not None:
                total += reg.percent_ia / 100.0 * float(reg.shape(t))
            else:
                total += reg.suv0 * float(reg.shape(t)) * volumes.get(name, 0.0) / w_g
        total += float(regions["soft_tissue"].shape(t)) * outside_ml / w_g  # limbs
        expected = math.exp(-LAM_PER_H * t) * float(whole_body_retention().fraction(t))
        assert total == pytest.approx(expected, rel=2e-3), t


def test_cropped_scan_sees_the_same_concentrations_as_a_whole_body_one():
    full = build_patient_phantom(voxel_mm=6.0, sex="M")
    crop = build_patient_phantom(voxel_mm=6.0, sex="M", z_range_mm=(-480.0, -720.0))
    _, t_full = lu177_concentration_bqml(full, [], 24.0, 7.4e9, full.weight_kg)
    _, t_crop = lu177_concentration_bqml(crop, [], 24.0, 7.4e9, crop.weight_kg)
    for name in ("body", "kidney_left", "liver", "spleen", "red_marrow"):
        assert t_crop[name]["bqml"] == pytest.approx(t_full[name]["bqml"], rel=1e-6), name
    # the remainder now carries most of the retained activity: soft tissue well above the
    # low-uptake tissues, far below the kidneys
    assert t_full["fat"]["bqml"] == pytest.approx(0.3 * t_full["body"]["bqml"], rel=1e-6)
    assert 5.0 < t_full["kidney_left"]["bqml"] / t_full["body"]["bqml"] < 30.0


def test_manifest_accounts_for_the_injected_activity():
    from nenscope.simulation.study import SimulationConfig, simulate_study

    sim = simulate_study(
        SimulationConfig(
            tracer="177Lu-DOTATATE",
            seed=3,
            n_lesions=1,
            voxel_mm=9.6,
            timepoints_h=(4.0, 24.0),
            iterations=2,
            subsets=4,
        )
    )
    wb = sim.truth["whole_body"]
    organs = sim.truth["organs"]
    decay = np.exp(-LAM_PER_H * np.array([4.0, 24.0]))
    retained = np.array(wb["retained_percent_ia"])
    excreted = np.array(wb["excreted_percent_ia"])
    field = np.array(wb["in_field_of_view_percent_ia"])
    lesion = sum(np.array(les["activity_mbq"]) for les in sim.truth["lesions"]) / 74.0
    # retained + excreted = what is left of the injected activity (plus the lesions)
    np.testing.assert_allclose(retained + excreted - lesion, 100.0 * decay, rtol=1e-4)
    np.testing.assert_allclose(retained[1] - lesion[1], 42.0 * decay[1], rtol=1e-4)
    # the SPECT field (upper abdomen) holds part of it, well more than the named organs alone
    named = sum(
        np.array(organs[n]["activity_mbq"])
        for n in ("kidney_left", "kidney_right", "liver", "spleen")
    )
    assert np.all(field < 0.5 * retained) and np.all(field > 2.0 * named / 74.0)
    # the bladder is outside the 400 mm SPECT field: said so, with no activity
    assert organs["bladder"]["in_field_of_view"] is False
    assert organs["bladder"]["volume_ml"] == 0 and max(organs["bladder"]["activity_mbq"]) == 0
    assert organs["kidney_left"]["in_field_of_view"] is True
    # the remainder's TIA: fast renal phase then the slow whole-body component (days)
    body = organs["body"]
    assert body["kinetics"]["relative_concentration"] == 1.0
    assert body["tia_mbq_h"] > 3 * organs["kidney_left"]["tia_mbq_h"]
    assert 24.0 < body["tia_mbq_h"] / body["activity_mbq"][1] < 200.0
    assert load("kinetics_lu177")["label_region"]["bladder"] == "urine"
