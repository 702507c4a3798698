"""PET scanner model: projector algebra, activity conservation, NEMA IEC recovery against the
EARL1 limits, positron range, liver noise, and organ SUVs read back from the DICOM files."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

from nenscope.cli import main
from nenscope.imaging import load_study
from nenscope.imaging.nifti import read_nifti
from nenscope.simulation.nema import build_nema_phantom, recovery_coefficients
from nenscope.simulation.output import write_study
from nenscope.simulation.pet import get_pet_scanner, simulate_pet
from nenscope.simulation.physics import hu_to_mu_per_mm
from nenscope.simulation.projector import get_projector
from nenscope.simulation.study import SimulationConfig, simulate_study

DATA = Path(__file__).parent / "data" / "physics"


def _earl1_limits():
    with open(DATA / "nema_iec" / "earl1_fdg_rc_specifications.csv") as fh:
        return {float(r["sphere_diameter_mm"]): r for r in csv.DictReader(fh)}


def test_projector_is_a_matched_adjoint_pair_and_conserves_counts():
    proj = get_projector(40, 5.0, 24, 4)
    rng = np.random.default_rng(0)
    x = rng.random((proj.fov_index.size, 3)).astype(np.float32)
    y = rng.random((proj.n_rows, 3)).astype(np.float32)
    assert float((proj.forward(x) * y).sum()) == pytest.approx(
        float((x * proj.back(y)).sum()), rel=1e-5
    )
    # a pixel's emissions are shared by all bins: columns sum to 1 (inside the detector)
    cs = np.asarray(proj.matrix.sum(axis=0)).ravel()
    centre = np.hypot(*np.divmod(proj.fov_index, 40)[::-1] - np.array([[19.5], [19.5]])) < 15
    assert np.allclose(cs[centre], 1.0, atol=1e-5)
    # subsets partition the rows
    assert sum(m.shape[0] for m in proj.subset_matrices) == proj.n_rows


def test_line_integrals_of_a_uniform_disc_are_chord_lengths():
    n, pix = 64, 4.0
    proj = get_projector(n, pix, 32, 4)
    yy, xx = np.mgrid[:n, :n] - (n - 1) / 2.0
    radius_mm = 100.0
    disc = (np.hypot(yy, xx) * pix <= radius_mm).astype(np.float32)[None] * 0.0096  # water, 1/mm
    line = proj.forward(proj.to_fov(disc)) * proj.line_integral_scale()
    sino = line.reshape(proj.n_angles, proj.n_bins)
    s = (np.arange(proj.n_bins) - (proj.n_bins - 1) / 2.0) * pix
    chord = 2 * np.sqrt(np.clip(radius_mm**2 - s**2, 0, None)) * 0.0096
    central = np.abs(s) < 80
    assert np.allclose(sino[:, central], chord[central][None, :], rtol=0.03)


def _nema(nuclide: str, minutes: float, seed: int, voxel_mm: float = 4.0, model: str = "earl"):
    phantom, spheres, occupancy = build_nema_phantom(voxel_mm)
    bkg, hot = 2000.0, 20000.0
    act = np.where(phantom.labels == 1, bkg, 0.0).astype(np.float32)
    for occ in occupancy.values():
        m = occ > 0
        act[m] = occ[m] * hot
    mu = hu_to_mu_per_mm(phantom.hu, 511.0)
    image, stats = simulate_pet(
        act, mu, voxel_mm, nuclide, get_pet_scanner(model), minutes, np.random.default_rng(seed)
    )
    return recovery_coefficients(image, phantom.grid, spheres, hot, bkg), image, act, phantom


def test_nema_iec_18f_recovery_inside_earl1_limits():
    limits = _earl1_limits()
    rcs, image, act, phantom = _nema("F-18", 10.0, seed=2)
    inside_max = inside_mean = 0
    for rc in rcs:
        lim = limits[rc["diameter_mm"]]
        inside_max += float(lim["RCmax_min"]) <= rc["rc_max"] <= float(lim["RCmax_max"])
        inside_mean += (
            float(lim["RCmean_A50_min"]) <= rc["rc_mean_a50"] <= float(lim["RCmean_A50_max"])
        )
    assert inside_max >= 5, rcs
    assert inside_mean >= 5, rcs
    # recovery falls with sphere size
    assert rcs[0]["rc_mean_a50"] > rcs[3]["rc_mean_a50"] > rcs[5]["rc_mean_a50"]
    # activity conservation in the whole phantom (a large region): within 2 %
    assert image.sum() == pytest.approx(act.sum(), rel=0.02)


def test_68ga_recovers_less_than_18f_in_the_10_mm_sphere():
    """Positron range: mean 3.5 mm (Ga-68) vs 0.6 mm (F-18) in water."""
    f18 = _nema("F-18", 20.0, seed=5)[0]
    ga68 = _nema("Ga-68", 20.0 * 0.9673 / 0.88911, seed=5)[0]  # same positron counts
    assert ga68[5]["rc_mean_a50"] < f18[5]["rc_mean_a50"]
    assert ga68[5]["rc_max"] < 0.9 * f18[5]["rc_max"]
    assert ga68[4]["rc_max"] < f18[4]["rc_max"]


def test_digital_scanner_with_psf_recovers_small_spheres_better_than_earl():
    earl = _nema("F-18", 10.0, seed=3)[0]
    digital = _nema("F-18", 10.0, seed=3, model="digital")[0]
    for i in (3, 4, 5):  # 17, 13, 10 mm
        assert digital[i]["rc_mean_a50"] > earl[i]["rc_mean_a50"] + 0.05, i


# the three tests of the whole-body study run on one worker (make test: --dist loadgroup),
# which simulates and writes it once for them
on_whole_body = pytest.mark.xdist_group("simulation_pet_whole_body")


@pytest.fixture(scope="module")
def whole_body(tmp_path_factory):
    """68Ga-DOTATATE, 4 mm, vertex to mid-thigh (250 slices), 2.5 min per bed, written to DICOM."""
    sim = simulate_study(
        SimulationConfig(tracer="68Ga-DOTATATE", seed=7, n_lesions=4, minutes_per_bed=2.5)
    )
    out = tmp_path_factory.mktemp("wb")
    write_study(sim, out)
    return sim, out


def _organ_mask(sim, name, erode=2):
    lab = sim.organs.array
    k = next(i for i, n in sim.organ_names.items() if n == name)
    near_lesion = ndimage.binary_dilation(sim.lesion_labels.array > 0, iterations=3)
    return ndimage.binary_erosion(lab == k, iterations=erode) & ~near_lesion


@on_whole_body
def test_whole_body_conserves_activity(whole_body):
    sim, _ = whole_body
    recon = sim.emission.array
    truth = sim.frames[0].truth_bqml
    body = ndimage.binary_dilation(sim.organs.array > 0, iterations=3)
    assert recon[body].sum() == pytest.approx(truth[body].sum(), rel=0.02)


@on_whole_body
def test_liver_noise_at_clinical_minutes_per_bed(whole_body):
    sim, _ = whole_body
    liver = sim.emission.array[_organ_mask(sim, "liver")]
    cv = liver.std() / liver.mean()
    assert 0.05 <= cv <= 0.20


@on_whole_body
def test_read_back_through_nenscope_info_reproduces_organ_suvs(whole_body, capsys):
    sim, out = whole_body
    assert main(["info", "--json", str(out / "pet")]) == 0
    info = json.loads(capsys.readouterr().out)
    (series,) = [s for s in info["series"] if s["modality"] == "PT"]
    assert series["units"] == "BQML"
    factor = series["suv_bw_factor"]
    assert factor == pytest.approx(sim.suv_factor(), rel=1e-6)
    study = load_study(out)
    assert (
        study.modality == "PT" and study.agent == "68Ga-DOTATATE" and study.radionuclide == "Ga-68"
    )
    organs = read_nifti(out / "truth" / "organs.nii.gz")
    assert np.allclose(organs.affine, study.emission.affine, atol=1e-3)
    manifest = json.loads((out / "truth" / "manifest.json").read_text())
    lesions = read_nifti(out / "truth" / "lesions.nii.gz").array
    near = ndimage.binary_dilation(lesions > 0, iterations=3)
    labels = organs.array
    for name in ("liver", "spleen", "heart"):
        k = manifest["organs"][name]["label"]
        m = ndimage.binary_erosion(labels == k, iterations=2) & ~near
        suv = float(study.emission.array[m].mean()) * factor
        assert suv == pytest.approx(manifest["organs"][name]["true_suv_mean"], rel=0.05), name
    # every lesion's centre lies in its labelled region
    for les in manifest["lesions"]:
        idx = np.round(np.linalg.inv(organs.affine) @ np.array([*les["center_mm"], 1.0]))[
            :3
        ].astype(int)
        assert lesions[tuple(idx)] == les["id"]


def test_same_seed_same_study():
    cfg = SimulationConfig(tracer="18F-FDG", seed=3, n_lesions=2, voxel_mm=8.0, tumour_type="G3")
    a, b = simulate_study(cfg), simulate_study(cfg)
    assert np.array_equal(a.emission.array, b.emission.array)
    assert a.truth["lesions"] == b.truth["lesions"] and a.uids == b.uids
    c = simulate_study(
        SimulationConfig(tracer="18F-FDG", seed=4, n_lesions=2, voxel_mm=8.0, tumour_type="G3")
    )
    assert not np.array_equal(a.emission.array, c.emission.array)
