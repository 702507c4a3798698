"""options.resolve: every None of AnalysisOptions becomes the agent class's default."""

from __future__ import annotations

import pytest

from nenscope.analysis.options import AnalysisOptions, resolve
from nenscope.analysis.pvc import BASE_FWHM_MM, effective_fwhm_mm
from nenscope.analysis.rules import score_rules


def test_sstr_defaults_come_from_scores_toml():
    r = resolve(AnalysisOptions(), "sstr")
    d = score_rules()["thresholds"]["defaults"]["sstr"]
    assert (r.threshold_method, r.detect_method) == ("liver", "none")
    assert (r.liver_factor, r.liver_k_sd) == (1.0, 3.5) == (d["liver_factor"], d["liver_k_sd"])
    assert r.extrahepatic_liver_fraction == 0.6
    assert r.extrahepatic_liver_fraction_masked == 0.45
    assert r.contrast_fraction == 0.5
    assert r.split_lesions is True
    assert r.liver_detect_k_sd is None
    assert r.suvmax_fraction == 0.41
    assert (r.organ_factor, r.liver_margin_mm, r.noise_k) == (1.3, 8.0, 5.0)
    assert r.psf_fwhm_mm == BASE_FWHM_MM == 9.0  # no radionuclide: the 18F scanner resolution


def test_fdg_defaults_delineate_by_threshold_and_do_not_split():
    r = resolve(AnalysisOptions(), "fdg")
    assert (r.threshold_method, r.detect_method) == ("liver", "percist")
    assert r.liver_k_sd == 1.0
    assert r.contrast_fraction is None  # 0 in scores.toml: the plain threshold mask
    assert r.split_lesions is False
    assert r.liver_detect_k_sd == 4.0
    assert r.extrahepatic_liver_fraction is None


def test_user_values_win_and_a_given_extrahepatic_fraction_is_used_as_is():
    r = resolve(
        AnalysisOptions(
            threshold_method="percist",
            liver_k_sd=2.0,
            extrahepatic_liver_fraction=0.5,
            split_lesions=False,
            contrast_fraction=0.4,
            psf_fwhm_mm=7.0,
        ),
        "sstr",
        "Ga-68",
    )
    assert (r.threshold_method, r.liver_k_sd, r.contrast_fraction) == ("percist", 2.0, 0.4)
    assert r.extrahepatic_liver_fraction == 0.5
    assert r.extrahepatic_liver_fraction_masked is None  # no masked-mode switch, no local bg
    assert r.split_lesions is False
    assert r.psf_fwhm_mm == 7.0


def test_psf_default_is_the_effective_resolution_of_the_radionuclide():
    r = resolve(AnalysisOptions(), "sstr", "Ga-68")
    assert r.psf_fwhm_mm == effective_fwhm_mm("Ga-68") == pytest.approx(10.4, abs=0.2)
