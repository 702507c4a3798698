"""QIBA SUV factors on synthetic series built with each vendor's header conventions.

Expected factors are computed by hand (the arithmetic is in each comment) from the values
written into the headers.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pytest

from nenscope.errors import NenscopeError
from nenscope.imaging import SuvOverrides, load_study
from nenscope.imaging.bodysize import (
    bsa_dubois_m2,
    ibw_sugawara_kg,
    lbm_james_kg,
    lbm_janmahasatian_kg,
)
from test_imaging_helpers import make_nm_spect, make_pet_series

# 70 kg, 370 MBq at 09:00, scan start 10:00, F-18 T½ 6586.2 s:
# 70 000 g / (370e6 Bq · 2^(−3600/6586.2)) = 2.7633668e-4 g/ml per Bq/ml
SIEMENS_BW = 2.7633668171764324e-4


def test_siemens_bqml_start(tmp_path):
    files, values, _ = make_pet_series(tmp_path, manufacturer="SIEMENS")
    study = load_study(tmp_path)
    assert study.modality == "PT" and study.units == "BQML"
    assert study.suv.bw == pytest.approx(SIEMENS_BW, rel=1e-9)
    assert study.agent == "18F-FDG" and study.radionuclide == "F-18"
    assert study.scan_start_datetime == datetime(2024, 3, 1, 10, 0, 0)
    assert study.injection_datetime == datetime(2024, 3, 1, 9, 0, 0)
    assert study.decay_correction == "START" and study.half_life_s == 6586.2
    # per-slice rescale slopes, slices sorted by position (files were written shuffled)
    np.testing.assert_allclose(study.emission.array, values, rtol=1e-6)
    np.testing.assert_allclose(study.suv("bw").array, values * SIEMENS_BW, rtol=1e-5)
    assert study.suv.warnings == []


def test_body_size_factors_by_hand(tmp_path):
    make_pet_series(tmp_path, weight_kg=70.0, height_m=1.75, sex="M")
    f = load_study(tmp_path).suv
    # Janmahasatian male: 9270·70/(6680 + 216·70/1.75²) = 55.8571 kg
    assert f.sul == pytest.approx(SIEMENS_BW * 55.857107722577474 / 70, rel=1e-9)
    # James male: 1.10·70 − 128·(70/175)² = 56.52 kg
    assert f.lbm_james == pytest.approx(SIEMENS_BW * 56.52 / 70, rel=1e-9)
    # Du Bois: 0.007184·70^0.425·175^0.725 = 1.84814 m²
    assert f.bsa == pytest.approx(SIEMENS_BW * 1.8481430181213463 / 70, rel=1e-9)
    # Sugawara male: 48.0 + 1.06·(175 − 152) = 72.38 kg
    assert f.ibw == pytest.approx(SIEMENS_BW * 72.38 / 70, rel=1e-9)


def test_female_formulas():
    # James female: 1.07·60 − 148·(60/160)² = 43.3875 kg; Janmahasatian female:
    # 9270·60/(8780 + 244·60/1.6²) = 38.4616 kg; Sugawara female: 45.5 + 0.91·(160 − 152)
    assert lbm_james_kg("F", 60, 1.6) == pytest.approx(43.3875)
    assert lbm_janmahasatian_kg("F", 60, 1.6) == pytest.approx(9270 * 60 / (8780 + 244 * 60 / 2.56))
    assert ibw_sugawara_kg("F", 1.6) == pytest.approx(52.78)
    assert bsa_dubois_m2(None, 1.6) is None and lbm_james_kg(None, 60, 1.6) is None


def test_ge_start_time_only(tmp_path):
    # GE: RadiopharmaceuticalStartTime only, taken on the series date
    make_pet_series(tmp_path, manufacturer="GE MEDICAL SYSTEMS", use_start_datetime=False)
    study = load_study(tmp_path)
    assert study.injection_datetime == datetime(2024, 3, 1, 9, 0, 0)
    assert study.suv.bw == pytest.approx(SIEMENS_BW, rel=1e-9)


def test_start_time_only_across_midnight(tmp_path):
    # injected 23:30, scan 00:30 next day: with a time only, the injection is the previous day
    make_pet_series(
        tmp_path,
        use_start_datetime=False,
        injection=datetime(2024, 3, 1, 23, 30),
        series_time=datetime(2024, 3, 2, 0, 30),
    )
    study = load_study(tmp_path)
    assert study.injection_datetime == datetime(2024, 3, 1, 23, 30)
    assert study.suv.bw == pytest.approx(SIEMENS_BW, rel=1e-9)
    assert any("previous day" in w for w in study.warnings)


def test_post_processed_series_uses_earliest_acquisition(tmp_path):
    # series re-created at 11:30, acquisition started 09:50: scan start = 09:50 (QIBA)
    # 70 000 / (370e6 · 2^(−3000/6586.2)) = 2.5942680e-4
    make_pet_series(
        tmp_path,
        series_time=datetime(2024, 3, 1, 11, 30),
        acquisition_time=datetime(2024, 3, 1, 9, 50),
    )
    study = load_study(tmp_path)
    assert study.scan_start_datetime == datetime(2024, 3, 1, 9, 50)
    assert study.suv.bw == pytest.approx(2.5942679749194823e-4, rel=1e-9)
    assert any("post-processed" in w for w in study.warnings)


def test_ge_post_processed_private_scan_time(tmp_path):
    # GE private scan date/time (0009,100D) = 09:55 wins over the acquisition time:
    # 70 000 / (370e6 · 2^(−3300/6586.2)) = 2.6774828e-4
    extra = {(0x00090010, "LO"): "GEMS_PETD_01", (0x0009100D, "DT"): "20240301095500.00"}
    make_pet_series(
        tmp_path,
        manufacturer="GE MEDICAL SYSTEMS",
        series_time=datetime(2024, 3, 1, 11, 30),
        acquisition_time=datetime(2024, 3, 1, 9, 50),
        extra=extra,
    )
    study = load_study(tmp_path)
    assert study.scan_start_datetime == datetime(2024, 3, 1, 9, 55)
    assert study.suv.bw == pytest.approx(2.677482779917734e-4, rel=1e-9)


def test_philips_bqml(tmp_path):
    # Philips BQML: same QIBA formula; the private factors are ignored for BQML
    extra = {(0x70530010, "LO"): "Philips PET Private Group", (0x70531000, "DS"): "0.123"}
    make_pet_series(tmp_path, manufacturer="Philips Medical Systems", extra=extra)
    assert load_study(tmp_path).suv.bw == pytest.approx(SIEMENS_BW, rel=1e-9)


def test_philips_cnts_private_suv_factor(tmp_path):
    # Philips CNTS: SUVbw factor = private SUV scale factor (7053,1000)
    extra = {
        (0x70530010, "LO"): "Philips PET Private Group",
        (0x70531000, "DS"): "0.000765",
        (0x70531009, "DS"): "2.7683",
    }
    make_pet_series(tmp_path, units="CNTS", manufacturer="Philips Medical Systems", extra=extra)
    study = load_study(tmp_path)
    assert study.units == "CNTS"
    assert study.suv.bw == pytest.approx(0.000765, rel=1e-12)
    # SUL = factor · LBM/W with the header's weight and height
    assert study.suv.sul == pytest.approx(0.000765 * 55.857107722577474 / 70, rel=1e-9)
    # (7053,1009)·W/decayed dose = 2.7683 · 2.7633668e-4 = 7.6498e-4: agrees within 1 %
    assert not any("differs" in w for w in study.warnings + study.suv.warnings)


def test_philips_cnts_activity_scale_only(tmp_path):
    # only the activity-concentration scale (7053,1009): Bq/ml = counts · 2.5, then QIBA
    extra = {(0x70530010, "LO"): "Philips PET Private Group", (0x70531009, "DS"): "2.5"}
    make_pet_series(tmp_path, units="CNTS", manufacturer="Philips Medical Systems", extra=extra)
    assert load_study(tmp_path).suv.bw == pytest.approx(2.5 * SIEMENS_BW, rel=1e-9)


def test_philips_cnts_without_private_tags(tmp_path):
    make_pet_series(tmp_path, units="CNTS", manufacturer="Philips Medical Systems")
    study = load_study(tmp_path)
    assert study.suv.bw is None
    assert any("7053,1000" in w for w in study.suv.warnings)
    with pytest.raises(NenscopeError, match="SUV bw cannot be computed"):
        study.suv("bw")


def test_gml_units(tmp_path):
    make_pet_series(tmp_path, units="GML", slopes=[1e-3] * 3)  # stored SUV up to 30
    f = load_study(tmp_path).suv
    assert f.bw == 1.0
    assert f.lbm_james == pytest.approx(56.52 / 70, rel=1e-9)


def test_decay_correction_admin_and_none(tmp_path):
    # ADMIN: values already decay-corrected to injection → 70 000 / 370e6
    make_pet_series(tmp_path / "admin", decay_correction="ADMIN")
    assert load_study(tmp_path / "admin").suv.bw == pytest.approx(70000 / 370e6, rel=1e-12)
    # NONE: activity at acquisition (10:20) → 70 000 / (370e6 · 2^(−4800/6586.2))
    make_pet_series(
        tmp_path / "none",
        decay_correction="NONE",
        acquisition_time=datetime(2024, 3, 1, 10, 20),
        series_time=datetime(2024, 3, 1, 10, 20),
    )
    assert load_study(tmp_path / "none").suv.bw == pytest.approx(
        70000 / (370e6 * 2 ** (-4800 / 6586.2)), rel=1e-12
    )


def test_missing_weight_names_tag_and_option(tmp_path):
    make_pet_series(tmp_path, weight_kg=None)
    study = load_study(tmp_path)
    assert study.suv.bw is None and study.suv.sul is None
    text = " ".join(study.suv.warnings)
    assert "PatientWeight (0010,1030)" in text and "--weight-kg" in text
    with pytest.raises(NenscopeError, match="--weight-kg"):
        study.suv("bw")
    fixed = load_study(tmp_path, overrides=SuvOverrides(weight_kg=70.0))
    assert fixed.suv.bw == pytest.approx(SIEMENS_BW, rel=1e-9)


def test_overrides_replace_header(tmp_path):
    make_pet_series(tmp_path, activity_bq=None, injection=None, height_m=None)
    study = load_study(tmp_path)
    assert study.suv.bw is None
    text = " ".join(study.suv.warnings)
    assert "--injected-mbq" in text and "--injection-time" in text
    # 370 MBq at 09:00 on the series date, height 175 cm
    ok = load_study(
        tmp_path, overrides={"injected_mbq": 370.0, "injection_time": "09:00", "height_cm": 175.0}
    )
    assert ok.suv.bw == pytest.approx(SIEMENS_BW, rel=1e-9)
    assert ok.suv.lbm_james == pytest.approx(SIEMENS_BW * 56.52 / 70, rel=1e-9)
    iso = load_study(
        tmp_path, overrides=SuvOverrides(injected_mbq=370.0, injection_time="2024-03-01T09:00:00")
    )
    assert iso.suv.bw == pytest.approx(SIEMENS_BW, rel=1e-9)
    with pytest.raises(NenscopeError, match="injection-time"):
        load_study(tmp_path, overrides={"injected_mbq": 370.0, "injection_time": "nine o'clock"})


def test_half_life_checked_against_radionuclide(tmp_path):
    # header half-life of Ga-68 (4062.6 s) with an F-18 code: warned, header value used
    make_pet_series(tmp_path / "a", half_life_s=4062.6)
    study = load_study(tmp_path / "a")
    assert any("differs from F-18" in w for w in study.warnings)
    assert study.suv.bw == pytest.approx(70000 / (370e6 * 2 ** (-3600 / 4062.6)), rel=1e-12)
    # no header half-life: the radionuclide's (radioactivedecay, F-18 6586.2 s) is used
    make_pet_series(tmp_path / "b", half_life_s=None)
    study = load_study(tmp_path / "b")
    assert study.half_life_s == pytest.approx(6586.2, rel=1e-4)
    assert any("RadionuclideHalfLife (0018,1075) absent" in w for w in study.warnings)


def test_sex_missing_leaves_bsa_only(tmp_path):
    make_pet_series(tmp_path, sex=None)
    f = load_study(tmp_path).suv
    assert f.bw is not None and f.bsa is not None
    assert f.sul is None and f.lbm_james is None and f.ibw is None
    assert any("PatientSex (0010,0040)" in w for w in f.warnings)


def test_multiframe_nm_spect_bqml_geometry(tmp_path):
    values, _ = make_nm_spect(tmp_path / "spect.dcm", frames=5, size=6, spacing=4.8, slope=0.25)
    study = load_study(tmp_path)
    assert study.modality == "NM" and study.units == "BQML"
    vol = study.emission
    assert vol.spatial_shape == (5, 6, 6)
    # frame k lies at (−12, −12, 50 + 4.8 k) (+normal); the volume runs along −normal
    for k in range(5):
        centre = vol.affine @ np.array([4 - k, 0, 0, 1.0])
        np.testing.assert_allclose(centre[:3], [-12.0, -12.0, 50.0 + 4.8 * k], atol=1e-9)
        np.testing.assert_allclose(vol.array[4 - k], values[k])
    # column index → +x, row index → +y, 4.8 mm each
    np.testing.assert_allclose(vol.affine[:3, 2], [4.8, 0, 0])
    np.testing.assert_allclose(vol.affine[:3, 1], [0, 4.8, 0])
    assert study.radionuclide == "Lu-177" and study.agent == "177Lu-DOTATATE"
    assert study.decay_correction == "NONE"
    assert study.acquisition_datetime == datetime(2024, 5, 2, 12, 0, 0)
    # NONE: 80 000 g / (7.4e9 · 2^(−26 h / T½(Lu-177)))
    t_half = study.half_life_s
    assert t_half == pytest.approx(6.647 * 86400, rel=2e-3)
    assert study.suv.bw == pytest.approx(80000 / (7.4e9 * 2 ** (-26 * 3600 / t_half)), rel=1e-9)


def test_multiframe_nm_with_rescale_and_units(tmp_path):
    values, _ = make_nm_spect(
        tmp_path / "spect.dcm", rwvm=False, slope=2.0, decay_correction="START"
    )
    study = load_study(tmp_path)
    assert study.units == "BQML" and study.decay_correction == "START"
    np.testing.assert_allclose(study.emission.array[::-1], values)


def test_decay_to_acquisition_factor(tmp_path):
    # ADMIN SPECT: values refer to the injection (1 May 10:00); acquisition 2 May 12:00 → 26 h
    make_nm_spect(tmp_path / "admin" / "spect.dcm", decay_correction="ADMIN")
    study = load_study(tmp_path / "admin")
    assert study.decay_to_acquisition_factor() == pytest.approx(
        2 ** (-26 * 3600 / study.half_life_s), rel=1e-12
    )
    # NONE: the values are already the activity at acquisition
    make_nm_spect(tmp_path / "none" / "spect.dcm", decay_correction="NONE")
    assert load_study(tmp_path / "none").decay_to_acquisition_factor() == 1.0
    # START PET: series (scan start) 10:00, this acquisition 10:05 → 2^(−300/6586.2)
    make_pet_series(tmp_path / "pt", acquisition_time=datetime(2024, 3, 1, 10, 5))
    pet = load_study(tmp_path / "pt")
    assert pet.scan_start_datetime == datetime(2024, 3, 1, 10, 0)
    assert pet.decay_to_acquisition_factor() == pytest.approx(2 ** (-300 / 6586.2), rel=1e-12)


def test_study_pickles_copies_and_replaces(tmp_path):
    import copy
    import dataclasses
    import pickle

    make_pet_series(tmp_path)
    study = load_study(tmp_path)
    for clone in (
        pickle.loads(pickle.dumps(study)),
        copy.deepcopy(study),
        dataclasses.replace(study),
    ):
        assert clone.suv.bw == pytest.approx(SIEMENS_BW, rel=1e-12)
        np.testing.assert_array_equal(clone.suv("bw").array, study.suv("bw").array)
    assert study.suv_factors.bw == study.suv.bw and study.suv == study.suv_factors


def _enhanced_pet(tmp_path, decay_dt: str):
    import highdicom as hd
    import pydicom

    files, values, _ = make_pet_series(tmp_path / "pt")
    legacy = [pydicom.dcmread(f) for f in files]
    enh = hd.legacy.LegacyConvertedEnhancedPETImage(
        legacy_datasets=legacy,
        series_instance_uid=hd.UID(),
        series_number=5,
        sop_instance_uid=hd.UID(),
        instance_number=1,
    )
    # the legacy converter drops the PET isotope/corrections modules: add them as an
    # Enhanced PET writer would (PS3.3 C.8.22.3, C.8.22.4)
    enh.RadiopharmaceuticalInformationSequence = legacy[0].RadiopharmaceuticalInformationSequence
    enh.DecayCorrected = "YES"
    enh.DecayCorrectionDateTime = decay_dt
    enh.Units = "BQML"
    enh.CorrectedImage = ["ATTN", "DECY"]
    (tmp_path / "enh").mkdir()
    enh.save_as(tmp_path / "enh" / "pet.dcm")
    return load_study(tmp_path / "enh"), values


def test_enhanced_pet_decay_corrected_datetime(tmp_path):
    # decay-corrected to 10:00 (the scan start): the QIBA START factor
    study, values = _enhanced_pet(tmp_path / "a", "20240301100000")
    np.testing.assert_allclose(study.emission.array, values, rtol=1e-6)
    assert study.decay_correction == "START"
    assert study.suv.bw == pytest.approx(SIEMENS_BW, rel=1e-9)
    # decay-corrected to the injection (09:00): ADMIN, 70 000 / 370e6
    study, _ = _enhanced_pet(tmp_path / "b", "20240301090000")
    assert study.decay_correction == "ADMIN"
    assert study.suv.bw == pytest.approx(70000 / 370e6, rel=1e-12)
