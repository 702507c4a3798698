"""nenscope calibrate: the NEMA IEC body phantom gives back the scanner's resolution.

The simulator's resolution is measured here independently of the calibration: the single
Gaussian blur that turns the simulated phantom's true activity into its reconstruction
(least squares over the whole phantom). ``calibrate_nema`` only sees the reconstructed image
and the filling ratio, locates the six spheres and fits the blurred-sphere model to them.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import ndimage
from scipy.optimize import minimize_scalar

from conftest import cached_simulation
from independent_phantom import make_patient
from nenscope.analysis import AnalysisOptions, analyze
from nenscope.analysis.calibration import calibrate_nema, earl_limits, iec_spheres
from nenscope.analysis.scanner import read_scanner_profile
from nenscope.cli import main
from nenscope.errors import NenscopeError
from nenscope.simulation.study import SimulationConfig
from test_analysis_cohort import sim_to_study

CONFIG = SimulationConfig(tracer="18F-FDG", phantom="nema-iec", seed=1)


@pytest.fixture(scope="module")
def nema():
    return cached_simulation(CONFIG)


def _image_domain_fwhm(sim) -> float:
    """The FWHM of the Gaussian that best maps the true activity onto the reconstruction."""
    truth = np.asarray(sim.frames[0].truth_bqml, dtype=float)
    recon = np.asarray(sim.emission.array, dtype=float)
    voxel = float(sim.truth["geometry"]["spacing_mm"])
    inside = ndimage.binary_dilation(truth > 0, iterations=3)

    def cost(fwhm: float) -> float:
        model = ndimage.gaussian_filter(truth, fwhm / 2.3548 / voxel, mode="constant")
        return float(((model - recon)[inside] ** 2).sum())

    return float(minimize_scalar(cost, bounds=(3.0, 15.0), method="bounded").x)


def test_calibration_recovers_the_simulator_resolution(nema):
    result = calibrate_nema(sim_to_study(nema), sphere_ratio=CONFIG.nema_sphere_ratio)
    truth_fwhm = _image_domain_fwhm(nema)
    print(
        f"\nNEMA 18F: calibrated {result.effective_fwhm_mm:.2f} mm, image-domain {truth_fwhm:.2f} mm"
    )
    assert result.effective_fwhm_mm == pytest.approx(truth_fwhm, abs=0.5)
    # the spheres were found where the phantom has them (the fitted centres)
    true_centres = sorted(
        (s["inner_diameter_mm"], s["center_mm"]) for s in nema.truth["nema_iec"]["spheres"]
    )
    for (d, c), s in zip(true_centres[::-1], result.spheres, strict=True):
        assert s.diameter_mm == d
        assert np.linalg.norm(np.subtract(s.center_mm, c)) < 2.0
    # background and recovery: the largest sphere recovers, the smallest does not
    assert result.background_bqml == pytest.approx(
        nema.truth["nema_iec"]["background_bqml"], rel=0.05
    )
    assert result.spheres[0].rc_max > 0.95 and result.spheres[-1].rc_max < 0.6
    assert set(result.earl) == {"earl1", "earl2"}
    # the simulator is EARL1-like (its own tests check the RC limits): not EARL2 (PSF/TOF)
    assert result.earl["earl2"]["compliant"] is False


def test_iec_geometry_and_earl_limits_match_the_shared_data():
    spheres = iec_spheres()
    assert [d for d, _ in spheres] == [37.0, 28.0, 22.0, 17.0, 13.0, 10.0]
    e1 = earl_limits("earl1")
    assert e1["rc_max"][10.0] == (0.34, 0.57) and e1["rc_mean_a50"][37.0] == (0.76, 0.89)
    assert earl_limits("earl2")["rc_max"][37.0][0] > e1["rc_max"][37.0][0]


def test_calibrate_command_writes_a_profile_that_analyze_reads(nema, tmp_path):
    from nenscope.simulation.output import write_study

    folder = tmp_path / "nema"
    write_study(nema, folder)
    out = tmp_path / "scanner.json"
    assert main(["calibrate", str(folder), "--out", str(out), "--sphere-ratio", "10"]) == 0
    data = json.loads(out.read_text())
    assert data["kind"] == "nenscope scanner profile"
    assert 6.0 < data["effective_fwhm_mm"]["F-18"] < 11.0
    profile = read_scanner_profile(out)
    assert profile.fwhm_for("Ga-68") > profile.fwhm_for("F-18")  # the longer positron range
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    with pytest.raises(NenscopeError, match="calibrate"):
        read_scanner_profile(bad)
    assert main(["calibrate", str(folder), "--out", str(out), "--sphere-ratio", "1"]) == 2


def test_scanner_profile_changes_only_the_pvc_column(nema):
    profile = calibrate_nema(sim_to_study(nema), sphere_ratio=10.0).profile("sim")
    patient = make_patient(seed=2, fwhm_mm=6.5, voxel_mm=5.0)
    plain = analyze(patient.study).to_dict()
    with_pvc = analyze(patient.study, options=AnalysisOptions(scanner=profile)).to_dict()
    pvc_keys = {"suv_pvc", "diameter_pvc_mm", "fdg_suv_pvc"}
    assert all(les["suv_pvc"] is None for les in plain["lesions"])
    assert all(les["suv_pvc"] is not None for les in with_pvc["lesions"])
    for a, b in zip(plain["lesions"], with_pvc["lesions"], strict=True):
        assert {k: v for k, v in a.items() if k not in pvc_keys} == {
            k: v for k, v in b.items() if k not in pvc_keys
        }
    for part in ("summary", "reference"):
        assert plain[part] == with_pvc[part]
    assert plain["method"]["pvc"] != with_pvc["method"]["pvc"]
    assert "scanner profile sim" in with_pvc["method"]["pvc"]
