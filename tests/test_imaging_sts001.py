"""Real data: the STS_001 GE FDG PET (TCIA, via MIRP) against the IBSI SUV image and MIRP's ranges."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from nenscope.cli import main
from nenscope.imaging import (
    discover,
    load_study,
    read_mask,
    read_nifti,
    read_rtstruct,
    read_seg,
    resample_to,
    save_nifti,
    write_seg,
)
from nenscope.imaging.series import load_series

DATA = Path(__file__).parent / "data" / "sts001_fdg"


@pytest.fixture(scope="module")
def study():
    return load_study(DATA / "pet_dicom")


@pytest.fixture(scope="module")
def gtv(study):
    labels, names = read_rtstruct(
        DATA / "rtstruct" / "1-1.dcm", study.emission, roi_names=["GTV_Mass"]
    )
    assert names == {1: "GTV_Mass"}
    return labels.array == 1


def test_header_and_factor(study):
    assert study.units == "BQML" and study.decay_correction == "START"
    assert study.agent == "18F-FDG" and study.radionuclide == "F-18"
    assert study.emission.spatial_shape == (267, 128, 128)
    # IBSI: raw × 2.42903e-4 is the SUVbw image
    assert study.suv.bw == pytest.approx(2.42903e-4, rel=5e-6)
    assert (
        study.patient.weight_kg == 71.0
        and study.patient.height_m == 1.63
        and study.patient.sex == "M"
    )
    # irregular spacing 3.19–3.29 mm: stacked within tolerance, with a warning that says so
    assert any("3.190–3.290" in w for w in study.warnings)
    assert study.emission.spacing[0] == pytest.approx(3.27, abs=1e-4)


def test_suvbw_equals_ibsi_reference_voxel_for_voxel(study):
    ref = read_nifti(DATA / "suv_nifti_reference" / "PET_image.nii.gz")
    ours = resample_to(study.suv("bw"), ref, order=0)
    # the reference is a 41×43×59 crop; check that it lies inside our grid (the overlap is all of it)
    corners = np.array([[i, j, k, 1.0] for i in (0, 40) for j in (0, 42) for k in (0, 58)])
    idx = (np.linalg.inv(study.emission.affine) @ ref.affine @ corners.T)[:3]
    assert np.all(idx >= -0.5) and np.all(idx.T <= np.array(study.emission.spatial_shape) - 0.5)
    diff = np.abs(ours.array - ref.array)
    assert diff.max() <= 1e-3
    assert ref.array.max() == pytest.approx(ours.array.max(), abs=1e-3)


def test_rtstruct_matches_ibsi_mask(study, gtv):
    mask = read_nifti(DATA / "suv_nifti_reference" / "PET_mask.nii.gz")
    on_ref = resample_to(study.emission.with_array(gtv.astype(np.uint8)), mask, order=0)
    assert int(gtv.sum()) == int((mask.array > 0).sum()) == 5095
    assert np.array_equal(on_ref.array > 0, mask.array > 0)


def _ranges() -> dict[str, tuple[float, float]]:
    rows = csv.DictReader((DATA / "expected_suv_ranges.csv").read_text().splitlines())
    return {
        r["quantity_in_GTV_Mass_roi"]: (float(r["expected_min"]), float(r["expected_max"]))
        for r in rows
    }


@pytest.mark.parametrize(
    "kind,row_max,row_min",
    [
        ("bw", "SUVbw max", "SUVbw min"),
        ("bsa", "SUVbsa max (BSA in m^2/kg-style units)", "SUVbsa min"),
        ("lbm_james", "SUVlbm (James) max", "SUVlbm (James) min"),
        ("sul", "SUVlbm_bmi (Janmahasatian) max", "SUVlbm_bmi min"),
        ("ibw", "SUV ideal body weight max", "SUV ideal body weight min"),
    ],
)
def test_gtv_suv_ranges(study, gtv, kind, row_max, row_min):
    ranges = _ranges()
    vals = study.suv(kind).array[gtv]
    assert ranges[row_max][0] <= vals.max() <= ranges[row_max][1]
    assert ranges[row_min][0] <= vals.min() <= ranges[row_min][1]


def test_activity_at_injection_matches_mirp(study, gtv):
    # MIRP "none" conversion: Bq/ml decay-corrected to injection = raw · 2^(Δt/T½)
    dt = (study.scan_start_datetime - study.injection_datetime).total_seconds()
    vals = study.emission.array[gtv].astype(np.float64) * 2 ** (dt / study.half_life_s)
    assert 43300 <= vals.max() <= 43400
    assert 920 <= vals.min() <= 930


def test_discovery_lists_other_files(tmp_path):
    disc = discover(DATA)
    kinds = sorted(s.kind for s in disc.series)
    assert kinds == ["PT", "RTSTRUCT"]
    skipped = {Path(f.path).name: f.reason for f in disc.skipped_files}
    assert skipped["expected_suv_ranges.csv"] == "not a DICOM file"
    assert "PET_image.nii.gz" in skipped


def test_nifti_round_trip(study, tmp_path):
    suv = study.suv("bw")
    path = save_nifti(suv, tmp_path / "suv.nii.gz")
    back = read_nifti(path)
    np.testing.assert_allclose(back.affine, suv.affine, atol=1e-4)
    assert np.array_equal(back.array, suv.array)


def test_seg_write_read_and_read_mask(tmp_path):
    loaded = load_series(discover(DATA / "pet_dicom").series[0])
    labels, names = read_rtstruct(DATA / "rtstruct" / "1-1.dcm", loaded.volume)
    assert set(names.values()) == {"GTV_Mass", "GTV_Edema"}
    # nested ROIs: the smaller one (GTV_Mass) stays whole
    assert int((labels.array == 1).sum()) == 5095
    seg_path = write_seg(labels, loaded.datasets, names, tmp_path / "seg" / "gtv.dcm")
    back, back_names = read_seg(seg_path, loaded.volume)
    assert back_names == names
    assert np.array_equal(back.array, labels.array)
    for source in (
        seg_path,
        tmp_path / "seg",
        DATA / "rtstruct",
        DATA / "suv_nifti_reference" / "PET_mask.nii.gz",
    ):
        mask, mask_names = read_mask(source, loaded.volume)
        assert int((mask.array == 1).sum()) == 5095, source


def test_cli_info_json(capsys):
    code = main(["info", str(DATA), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    pt = next(s for s in out["series"] if s["modality"] == "PT")
    assert pt["shape"] == [267, 128, 128] and pt["spacing_mm"] == pytest.approx(
        [3.27, 4.6875, 4.6875]
    )
    assert pt["suv_bw_factor"] == pytest.approx(2.42903e-4, rel=5e-6)
    assert pt["radiopharmaceutical"] == "18F-FDG" and pt["patient_sex"] == "M"
    assert pt["scan_start_datetime"] == "2000-09-07T11:20:11"
    assert {"path", "reason"} <= set(out["skipped_files"][0])
    # the weight override changes the factor proportionally
    main(["info", str(DATA / "pet_dicom"), "--json", "--weight-kg", "142"])
    doubled = json.loads(capsys.readouterr().out)["series"][0]
    assert doubled["suv_bw_factor"] == pytest.approx(2 * pt["suv_bw_factor"], rel=1e-12)


def test_cli_info_table_and_error(capsys, tmp_path):
    assert main(["info", str(DATA / "pet_dicom")]) == 0
    out = capsys.readouterr().out
    assert "BQML" in out and "3.190–3.290 mm" in out.replace("\n", " ").replace("  ", " ")
    assert main(["info", str(tmp_path / "nope")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_cli_convert_to_nifti(tmp_path, capsys):
    assert main(["convert", str(DATA / "pet_dicom"), "--out", str(tmp_path / "n"), "--json"]) == 0
    written = json.loads(capsys.readouterr().out)
    assert written["emission_units"] == "SUVbw"
    suv = read_nifti(written["emission"])
    ref = read_nifti(DATA / "suv_nifti_reference" / "PET_image.nii.gz")
    assert np.abs(resample_to(suv, ref, order=0).array - ref.array).max() <= 1e-3
    assert (
        main(["convert", str(DATA / "pet_dicom"), "--out", str(tmp_path / "n"), "--suv", "none"])
        == 0
    )
    raw = read_nifti(tmp_path / "n" / "emission.nii.gz")
    assert float(raw.array.max()) == pytest.approx(273860.38, rel=1e-6)  # Bq/ml, the hottest voxel
    assert (
        main(["convert", str(DATA / "pet_dicom"), "--out", str(tmp_path / "n"), "--suv", "xx"]) == 2
    )
