"""PRRT dosimetry on the virtual 177Lu-DOTATATE patient against the simulator's truth.

The virtual patient of ``nenscope.simulation`` (phantom, cited 177Lu kinetics of
``kinetics_lu177.toml`` via ``lu177_concentration_bqml``, SPECT model with collimator blur,
attenuation, scatter, Poisson noise and OSEM) is imaged at 4, 24, 72 and 168 h. The truth is
the simulator's own: each organ's time-integrated activity is A0·∫shape(t)dt of its kinetic
region (as in the simulator's truth manifest), and the true organ dose applies the same
S-values to it, so the comparison measures what imaging-based dosimetry loses (noise,
resolution, sampling, curve fitting). The scan is cropped to the kidneys and spleen to keep
the test fast.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from nenscope.dosimetry import pipeline, svalues
from nenscope.simulation._data import load
from nenscope.simulation.activity import lu177_concentration_bqml, lu177_regions
from nenscope.simulation.phantom import build_patient_phantom
from nenscope.simulation.spect import get_spect_scanner, simulate_spect

LN2 = math.log(2.0)
VOXEL_MM = 4.8
A_INJ_BQ = 7.4e9
TIMES_H = (4.0, 24.0, 72.0, 168.0)
ORGANS = ("kidney_left", "kidney_right", "spleen")

# one worker simulates the patient once for all tests here (make test: --dist loadgroup)
pytestmark = [pytest.mark.xdist_group("dosimetry_simulated_patient"), pytest.mark.slow]


@pytest.fixture(scope="module")
def simulated_patient():
    phantom = build_patient_phantom(
        voxel_mm=VOXEL_MM, n_pixels=96, sex="M", z_range_mm=(-510.0, -730.0)
    )
    scanner = get_spect_scanner("Lu-177", radius_of_rotation_mm=240.0, n_views=32)
    rng = np.random.default_rng(177)
    images, proj, organ_truth = [], None, {}
    for t in TIMES_H:
        truth, organ_truth[t] = lu177_concentration_bqml(
            phantom, [], t, A_INJ_BQ, phantom.weight_kg
        )
        img, _, proj = simulate_spect(truth, phantom.hu, VOXEL_MM, scanner, rng, projector=proj)
        images.append(img)
    masks = {n: phantom.mask(n) for n in ORGANS}
    regions = lu177_regions()
    label_region = load("kinetics_lu177")["label_region"]
    truth_tia = {}
    for n in ORGANS:  # the simulator's truth: A0 · ∫ shape dt (MBq·h)
        reg = regions[label_region[n]]
        a0_bq = organ_truth[TIMES_H[0]][n]["activity_bq"] / float(reg.shape(TIMES_H[0]))
        truth_tia[n] = a0_bq / 1e6 * reg.integral_h()
    masses = {n: float(m.sum() * VOXEL_MM**3 / 1000.0) for n, m in masks.items()}
    truth_dose = svalues.organ_doses(truth_tia, sex="M", masses_g=masses)
    # the scanner's resolution at 100 mm from the collimator (the organs' typical distance)
    fwhm = float(scanner.fwhm_mm(np.array([100.0]))[0])
    return images, masks, truth_tia, truth_dose, fwhm


def test_four_time_points_within_10_percent_of_truth(simulated_patient):
    images, masks, truth_tia, truth_dose, fwhm = simulated_patient
    res = pipeline.dosimetry_from_images(
        images,
        TIMES_H,
        (VOXEL_MM,) * 3,
        masks,
        method="organ",
        sex="M",
        injected_gbq=7.4,
        psf_fwhm_mm=fwhm,
    )
    by = {r.name: r for r in res.regions}
    for n in ORGANS:
        assert by[n].fit.tia_mbq_h == pytest.approx(truth_tia[n], rel=0.10), n
        assert by[n].dose_gy == pytest.approx(truth_dose[n].dose_gy, rel=0.10), n
    # and the kidneys land in the published Gy/GBq range
    for n in ("kidney_left", "kidney_right"):
        assert 0.4 <= by[n].dose_gy_per_gbq <= 0.65


def test_without_partial_volume_correction_the_kidneys_are_underestimated(simulated_patient):
    images, masks, truth_tia, _, _ = simulated_patient
    res = pipeline.dosimetry_from_images(
        images, TIMES_H, (VOXEL_MM,) * 3, masks, method="organ", sex="M"
    )
    kid = next(r for r in res.regions if r.name == "kidney_left")
    assert kid.fit.tia_mbq_h < 0.9 * truth_tia["kidney_left"]


def test_single_time_point_72_h_within_25_percent(simulated_patient):
    images, masks, _, truth_dose, fwhm = simulated_patient
    res = pipeline.dosimetry_from_images(
        images,
        TIMES_H,
        (VOXEL_MM,) * 3,
        masks,
        method="single-time-point",
        sex="M",
        psf_fwhm_mm=fwhm,
    )
    for r in res.regions:
        assert r.fit.times_h == (72.0,)
        assert r.dose_gy == pytest.approx(truth_dose[r.name].dose_gy, rel=0.25), r.name


@pytest.fixture(scope="module")
def simulated_study_on_disk(tmp_path_factory):
    """The simulator's own 177Lu-DOTATATE study (4, 24, 96, 168 h) written as DICOM + truth."""
    from nenscope.simulation.output import write_study
    from nenscope.simulation.study import SimulationConfig, simulate_study

    sim = simulate_study(SimulationConfig(tracer="177Lu-DOTATATE", seed=7, n_lesions=1))
    out = tmp_path_factory.mktemp("sim_lu177")
    paths = write_study(sim, out)
    return sim, paths


def test_cli_on_the_simulated_dicom_study(simulated_study_on_disk, tmp_path, capsys):
    import json

    from nenscope.cli import main

    sim, paths = simulated_study_on_disk
    fwhm = float(get_spect_scanner("Lu-177").fwhm_mm(np.array([100.0]))[0])
    args = ["dosimetry", "--method", "organ", "--no-register", "--psf-fwhm-mm", f"{fwhm:.2f}"]
    args += ["--out", str(tmp_path / "out"), "--json"]
    for i in range(len(sim.frames)):
        args += ["--timepoint", str(paths[f"emission_{i}"])]
    args += ["--masks", str(paths["organs"]), "--label-names", str(paths["manifest"])]
    for n in ORGANS:
        args += ["--region", n]
    code = main(args)
    assert code == 0, capsys.readouterr().err
    doc = json.loads(capsys.readouterr().out)
    truth = json.loads(paths["manifest"].read_text())["organs"]
    by = {r["name"]: r for r in doc["regions"]}
    assert set(by) == set(ORGANS)
    assert doc["injected_gbq"] == pytest.approx(sim.injected_mbq / 1000.0)
    assert by["kidney_left"]["times_h"] == pytest.approx([f.time_h for f in sim.frames])
    masses = {n: by[n]["mass_g"] for n in ORGANS}
    truth_tia = {n: truth[n]["tia_mbq_h"] for n in ORGANS}
    truth_dose = svalues.organ_doses(truth_tia, sex=sim.sex, masses_g=masses)
    for n in ORGANS:
        assert by[n]["tia_mbq_h"] == pytest.approx(truth_tia[n], rel=0.10), n
        assert by[n]["dose_gy"] == pytest.approx(truth_dose[n].dose_gy, rel=0.10), n


def test_cli_voxel_method_on_the_simulated_dicom_study(simulated_study_on_disk, tmp_path, capsys):
    import json

    import pydicom

    from nenscope.cli import main

    sim, paths = simulated_study_on_disk
    out = tmp_path / "out"
    args = ["dosimetry", "--method", "voxel", "--no-register", "--out", str(out), "--json"]
    for i in range(len(sim.frames)):
        args += ["--timepoint", str(paths[f"emission_{i}"])]
    args += ["--masks", str(paths["organs"]), "--label-names", str(paths["manifest"])]
    for n in ORGANS:
        args += ["--region", n]
    assert main(args) == 0, capsys.readouterr().err
    doc = json.loads(capsys.readouterr().out)
    truth = json.loads(paths["manifest"].read_text())["organs"]
    by = {r["name"]: r for r in doc["regions"]}
    truth_dose = svalues.organ_doses(
        {n: truth[n]["tia_mbq_h"] for n in ORGANS},
        sex=sim.sex,
        masses_g={n: by[n]["mass_g"] for n in ORGANS},
    )
    for n in ("kidney_left", "kidney_right"):
        # no partial-volume correction at voxel level: the kidneys lose 10-20 % to spill-out
        assert 0.8 < by[n]["dose_gy"] / truth_dose[n].dose_gy < 0.95, n
        assert set(doc["dvh"][n]) >= {"mean_gy", "d2_gy", "d50_gy", "d98_gy"}
    rtd = pydicom.dcmread(out / "dose_gy_rtdose.dcm")
    assert rtd.FrameOfReferenceUID == sim.uids["frame_of_reference"]
    assert (out / "dose_gy.nii.gz").is_file()
