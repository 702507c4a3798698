"""SPECT scanner model and the 177Lu-DOTATATE virtual patient (quantitative SPECT time series)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from nenscope.imaging import load_study
from nenscope.simulation.activity import lu177_regions
from nenscope.simulation.nema import build_nema_phantom, recovery_coefficients
from nenscope.simulation.output import write_study
from nenscope.simulation.pet import get_pet_scanner, simulate_pet
from nenscope.simulation.physics import hu_to_mu_per_mm
from nenscope.simulation.spect import SpectProjector, get_spect_scanner, simulate_spect
from nenscope.simulation.study import SimulationConfig, simulate_study

DATA = Path(__file__).parent / "data" / "physics"


def test_collimator_blur_grows_with_distance_and_the_projector_is_adjoint():
    scanner = get_spect_scanner("Lu-177", n_views=8, subsets=4)
    shape = (20, 40, 40)
    proj = SpectProjector(np.zeros(shape, np.float32), 4.0, scanner)
    widths = []
    for row in (5, 20, 35):
        vol = np.zeros(shape, np.float32)
        vol[10, row, 20] = 1.0
        p = proj.forward_view(proj.to_pixels(vol), 0)
        prof = p[:, 10]
        x = np.arange(prof.size)
        mean = (prof * x).sum() / prof.sum()
        fwhm = 2.3548 * 4.0 * math.sqrt((prof * (x - mean) ** 2).sum() / prof.sum())
        depth = scanner.radius_of_rotation_mm + (row - 19.5) * 4.0
        # geometric FWHM d(L_eff + z)/L_eff in quadrature with the intrinsic FWHM
        assert fwhm == pytest.approx(float(scanner.fwhm_mm(depth)), rel=0.02)
        assert p.sum() == pytest.approx(1.0, rel=1e-4)  # no attenuation: counts conserved
        widths.append(fwhm)
    assert widths[0] < widths[1] < widths[2]
    rng = np.random.default_rng(1)
    a = rng.random((40 * 40, 20)).astype(np.float32)
    b = rng.random((40, 20)).astype(np.float32)
    assert float((proj.forward_view(a, 3) * b).sum()) == pytest.approx(
        float((a * proj.back_view(b, 3)).sum()), rel=1e-4
    )


def test_attenuation_at_the_emission_energy():
    """A point at the centre of a water cylinder (radius 100 mm): exp(-μ·100 mm) at 208 keV."""
    scanner = get_spect_scanner("Lu-177", n_views=8, subsets=4)
    shape = (10, 60, 60)
    yy, xx = np.mgrid[:60, :60] - 29.5
    hu = np.where(np.hypot(yy, xx) * 4.0 <= 100.0, 0.0, -1000.0).astype(np.float32)
    hu = np.broadcast_to(hu, shape).copy()
    mu = hu_to_mu_per_mm(hu, 208.4)
    proj = SpectProjector(mu, 4.0, scanner)
    vol = np.zeros(shape, np.float32)
    vol[5, 29:31, 29:31] = 0.25
    p = proj.forward_view(proj.to_pixels(vol), 0)
    expected = math.exp(-float(mu[5, 30, 30]) * 100.0)
    assert p.sum() == pytest.approx(expected, rel=0.04)
    assert float(mu[5, 30, 30]) * 10 == pytest.approx(
        0.137, rel=0.03
    )  # water at 208 keV (XCOM), 1/cm


def test_spect_recovers_less_than_pet_in_small_spheres():
    phantom, spheres, occupancy = build_nema_phantom(4.0)
    bkg, hot = 2000.0, 20000.0
    act = np.where(phantom.labels == 1, bkg, 0.0).astype(np.float32)
    for occ in occupancy.values():
        m = occ > 0
        act[m] = occ[m] * hot
    pet, _ = simulate_pet(
        act,
        hu_to_mu_per_mm(phantom.hu, 511.0),
        4.0,
        "F-18",
        get_pet_scanner("earl"),
        10.0,
        np.random.default_rng(0),
    )
    scanner = get_spect_scanner("Lu-177", n_views=32, subsets=4, sensitivity_cps_per_mbq=400.0)
    spect, stats, _ = simulate_spect(act, phantom.hu, 4.0, scanner, np.random.default_rng(0))
    rc_pet = recovery_coefficients(pet, phantom.grid, spheres, hot, bkg)
    rc_spect = recovery_coefficients(spect, phantom.grid, spheres, hot, bkg)
    for i in (3, 4, 5):  # 17, 13, 10 mm
        assert rc_spect[i]["rc_mean_a50"] < rc_pet[i]["rc_mean_a50"], i
        assert rc_spect[i]["rc_max"] < rc_pet[i]["rc_max"], i
    # quantitative: total activity within 3 % (attenuation and scatter in the model)
    assert spect.sum() == pytest.approx(act.sum(), rel=0.03)


@pytest.fixture(scope="module")
def lutetium(tmp_path_factory):
    cfg = SimulationConfig(
        tracer="177Lu-DOTATATE",
        seed=2,
        n_lesions=3,
        voxel_mm=8.0,
        timepoints_h=(4.0, 24.0, 96.0),
        lesion_sites=["liver", "liver", "lymph_node"],
    )
    sim = simulate_study(cfg)
    out = tmp_path_factory.mktemp("lu")
    write_study(sim, out)
    return sim, out


def test_lu177_truth_follows_the_kinetics(lutetium):
    sim, out = lutetium
    manifest = json.loads((out / "truth" / "manifest.json").read_text())
    assert manifest["tracer"]["injected_mbq"] == 7400.0
    kid = manifest["organs"]["kidney_left"]
    reg = lu177_regions()["kidneys"]
    a0 = kid["kinetics"]["a0_mbq"]
    for t, a in zip(kid["time_h"], kid["activity_mbq"], strict=True):
        assert a == pytest.approx(a0 * float(reg.shape(t)), rel=1e-4)
    # TIA = ∫ A dt, checked by numerical integration of the model
    t = np.linspace(0, 3000, 300001)
    assert kid["tia_mbq_h"] == pytest.approx(np.trapezoid(a0 * reg.shape(t), t), rel=1e-3)
    # both kidneys together hold the tabulated percent of the injected activity at peak
    a0_both = kid["kinetics"]["a0_mbq"] + manifest["organs"]["kidney_right"]["kinetics"]["a0_mbq"]
    assert a0_both == pytest.approx(reg.percent_ia / 100 * 7400.0, rel=1e-6)
    for les in manifest["lesions"]:
        assert les["tia_mbq_h"] > 0 and len(les["bqml"]) == 3


def test_lu177_kidney_dose_in_published_range(lutetium):
    """Local deposition of the 177Lu electrons (ICRP-107): kidney ~0.4-0.65 Gy/GBq (DESIGN §4)."""
    sim, _ = lutetium
    raw = json.loads(json.loads((DATA / "icrp107" / "Lu-177.json").read_text()))
    em = raw["emissions"]
    e_mev = sum(e * y for key in ("beta-", "IE", "Auger") for e, y in em.get(key, []))
    assert 0.13 < e_mev < 0.16
    organs = sim.truth["organs"]
    tia_bq_s = (
        (organs["kidney_left"]["tia_mbq_h"] + organs["kidney_right"]["tia_mbq_h"]) * 1e6 * 3600
    )
    mass_kg = (organs["kidney_left"]["volume_ml"] + organs["kidney_right"]["volume_ml"]) * 1.05e-3
    dose_gy_per_gbq = tia_bq_s * e_mev * 1.602176634e-13 / mass_kg / 7.4
    assert 0.4 <= dose_gy_per_gbq <= 0.65


def test_lu177_spect_series_read_back_quantitatively(lutetium):
    sim, out = lutetium
    folders = sorted((out / "pet").iterdir())
    assert [f.name for f in folders] == ["t004h", "t024h", "t096h"]
    for i, folder in enumerate(folders):
        study = load_study(folder)
        assert study.modality == "NM" and study.units == "BQML" and study.radionuclide == "Lu-177"
        assert study.suv.bw == pytest.approx(sim.suv_factor(i), rel=1e-6)
        assert np.allclose(
            study.emission.array,
            sim.frames[i].volume.array,
            atol=float(sim.frames[i].volume.array.max()) / 30000,
        )
        # total activity in the field within 5 % of the truth
        assert study.emission.array.sum() == pytest.approx(sim.frames[i].truth_bqml.sum(), rel=0.05)
