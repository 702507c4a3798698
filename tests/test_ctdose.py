"""The CT's dose from its headers: CTDIvol x reconstructed length, and E = k x DLP (AAPM
Report 96), through the loader into the report's technique row and patient summary."""

from __future__ import annotations

import pydicom
import pytest
from pydicom.uid import generate_uid

from nenscope.errors import NenscopeError
from nenscope.imaging.ctdose import read_ct_dose
from nenscope.knowledge.ctdose import ct_dose_coefficient, ct_effective_dose_msv
from nenscope.report.sections import ct_text
from nenscope.report.summary import exam_dose
from test_imaging_helpers import make_ct_series


def _series(tmp_path, ctdi=None, n=4):
    files, _ = make_ct_series(tmp_path / "ct", study_uid=generate_uid(), n=n)  # 2.5 mm slices
    datasets = [pydicom.dcmread(f) for f in files]
    for k, ds in enumerate(datasets):
        if ctdi is not None and ctdi[k] is not None:
            ds.CTDIvol = ctdi[k]
    return datasets


def test_dlp_is_ctdivol_times_the_reconstructed_length(tmp_path):
    # 4 slices 2.5 mm apart: centres span 7.5 mm, plus one spacing: 1.0 cm
    dose = read_ct_dose(_series(tmp_path, [2.0, 3.0, 4.0, 3.0]))
    assert dose.ctdi_vol_mgy == pytest.approx(3.0)
    assert dose.scan_length_cm == pytest.approx(1.0)
    assert dose.dlp_mgy_cm == pytest.approx(3.0)


def test_no_ctdivol_on_a_slice_gives_no_dose(tmp_path):
    assert read_ct_dose(_series(tmp_path)) is None
    assert read_ct_dose(_series(tmp_path / "b", [3.0, None, 3.0, 3.0])) is None


def test_effective_dose_uses_the_aapm_coefficient():
    assert ct_dose_coefficient("trunk").k_msv_per_mgy_cm == 0.015
    assert "AAPM Report 96" in ct_dose_coefficient("trunk").source
    assert ct_effective_dose_msv(300.0) == pytest.approx(4.5)
    assert ct_effective_dose_msv(1000.0, "head") == pytest.approx(2.1)
    with pytest.raises(NenscopeError, match="region"):
        ct_dose_coefficient("knee")
    with pytest.raises(NenscopeError, match=">= 0"):
        ct_effective_dose_msv(-1.0)


def test_report_states_the_ct_dose_and_adds_it_to_the_total():
    acquisition = {
        "agent": "68Ga-DOTATATE",
        "injected_activity_mbq": 150.0,
        "has_ct": True,
        "ct_ctdi_vol_mgy": 3.0,
        "ct_dlp_mgy_cm": 300.0,
        "ct_effective_dose_msv": 4.5,
    }
    assert ct_text(acquisition) == "yes (CTDIvol 3.0 mGy, DLP 300 mGy·cm, about 4.5 mSv)"
    assert ct_text({"has_ct": True}) == "yes (dose not in the headers)"
    assert ct_text({"has_ct": False}) == "no"
    dose = exam_dose(acquisition)
    # 68Ga-DOTATATE 0.021 mSv/MBq (ICRP 128) x 150 MBq = 3.15 mSv, plus the CT's 4.5
    assert dose["effective_dose_msv"] == pytest.approx(3.15, abs=0.01)
    assert dose["total_msv"] == pytest.approx(7.65, abs=0.01)


def test_loaded_study_and_job_record_carry_the_simulated_ct_dose(tmp_path):
    from conftest import cached_simulation
    from nenscope.imaging import load_study
    from nenscope.jobs.analyze import acquisition
    from nenscope.simulation.output import CT_CTDI_VOL_MGY, write_study
    from nenscope.simulation.study import SimulationConfig

    sim = cached_simulation(
        SimulationConfig(tracer="68Ga-DOTATATE", seed=11, n_lesions=3, voxel_mm=8.0)
    )
    write_study(sim, tmp_path / "s")
    study = load_study(tmp_path / "s")
    n_slices, spacing_mm = study.ct.spatial_shape[0], study.ct.spacing[0]
    assert study.ct_dose.ctdi_vol_mgy == CT_CTDI_VOL_MGY
    assert study.ct_dose.dlp_mgy_cm == pytest.approx(
        CT_CTDI_VOL_MGY * n_slices * spacing_mm / 10.0, abs=0.1
    )
    record = acquisition(study, "bw")
    assert record["ct_effective_dose_msv"] == pytest.approx(
        0.015 * record["ct_dlp_mgy_cm"], abs=1e-3
    )
    assert "AAPM Report 96" in record["ct_dose_source"]
