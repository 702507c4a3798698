"""Discovery and geometry: sorting, spacing policy, tilt, several series, zip, CT resampling."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pydicom
import pytest

from nenscope.errors import NenscopeError
from nenscope.imaging import discover, load_series, load_study, resample_to
from nenscope.imaging.series import series_geometry
from test_imaging_helpers import make_ct_series, make_pet_series


def test_sorted_by_position_not_instance_number(tmp_path):
    # instance numbers are a random permutation of the positions
    files, values, _ = make_pet_series(tmp_path, shape=(5, 4, 4), seed=3)
    loaded = load_series(tmp_path)
    np.testing.assert_allclose(loaded.volume.array, values, rtol=1e-6)
    z = [float(d.ImagePositionPatient[2]) for d in loaded.datasets]
    assert z == sorted(z, reverse=True)
    # affine: slice 0 at the highest z, stepping −3 mm; column → +x, row → +y at 4 mm
    np.testing.assert_allclose(loaded.volume.affine[:3, 3], [-8.0, -8.0, -88.0])
    np.testing.assert_allclose(loaded.volume.affine[:3, 0], [0, 0, -3.0])
    np.testing.assert_allclose(loaded.volume.affine[:3, 1], [0, 4.0, 0])
    np.testing.assert_allclose(loaded.volume.affine[:3, 2], [4.0, 0, 0])


def test_small_spacing_jitter_is_stacked_with_warning(tmp_path):
    z = [0.0, 3.02, 5.98, 9.0]  # within 5 % of 3 mm of a regular grid
    _, values, _ = make_pet_series(tmp_path, shape=(4, 4, 4), positions_mm=z)
    loaded = load_series(tmp_path)
    np.testing.assert_allclose(loaded.volume.array, values, rtol=1e-6)
    assert loaded.volume.spacing[0] == pytest.approx(3.0)
    assert "stacked without resampling" in loaded.warnings[0]


def test_irregular_spacing_is_resampled_linearly(tmp_path):
    z = [0.0, 2.0, 5.0, 7.0, 9.0]  # steps 2, 3, 2, 2 mm: 0.5 mm off a regular grid (> 5 %)
    _, values, _ = make_pet_series(tmp_path, shape=(5, 4, 4), positions_mm=z)
    loaded = load_series(tmp_path)
    assert "resampled linearly" in loaded.warnings[0]
    vol = loaded.volume
    # median step 2 mm from the first slice (z = 9) down: z = 9, 7, 5, 3, 1
    assert vol.spatial_shape == (5, 4, 4)
    v = dict(zip([9.0, 7.0, 5.0, 2.0, 0.0], values, strict=True))  # values run along −z
    np.testing.assert_allclose(vol.array[0], v[9.0], rtol=1e-6)
    np.testing.assert_allclose(vol.array[3], (2 / 3) * v[2.0] + (1 / 3) * v[5.0], rtol=1e-5)
    np.testing.assert_allclose(vol.array[4], 0.5 * v[0.0] + 0.5 * v[2.0], rtol=1e-5)
    np.testing.assert_allclose((vol.affine @ [4, 0, 0, 1])[2], 1.0, atol=1e-9)


def test_gap_duplicate_and_tilt_are_refused(tmp_path):
    make_pet_series(tmp_path / "gap", shape=(4, 4, 4), positions_mm=[0.0, 3.0, 6.0, 15.0])
    with pytest.raises(NenscopeError, match="slices are missing"):
        load_series(tmp_path / "gap")
    make_pet_series(tmp_path / "dup", shape=(4, 4, 4), positions_mm=[0.0, 3.0, 3.0, 6.0])
    with pytest.raises(NenscopeError, match="repeat"):
        load_series(tmp_path / "dup")
    files, _, _ = make_pet_series(tmp_path / "tilt", shape=(4, 4, 4))
    for f in files:  # shift each slice along y by 0.5·z (≈27° gantry tilt)
        ds = pydicom.dcmread(f)
        x, y, z = (float(v) for v in ds.ImagePositionPatient)
        ds.ImagePositionPatient = [x, y + 0.5 * z, z]
        ds.save_as(f)
    with pytest.raises(NenscopeError, match="tilt"):
        load_series(tmp_path / "tilt")


def test_several_series_and_ct(tmp_path):
    files, values, pt_uid = make_pet_series(
        tmp_path / "pt", study_uid="1.2.3.4", for_uid="1.2.3.4.9"
    )
    make_ct_series(tmp_path / "ct", study_uid="1.2.3.4", for_uid="1.2.3.4.9")
    make_pet_series(tmp_path / "other", study_uid="1.2.3.5", corrected="DECY")  # a NAC series
    (tmp_path / "notes.txt").write_text("not dicom")
    disc = discover(tmp_path)
    assert sorted(s.kind for s in disc.series) == ["CT", "PT", "PT"]
    assert [f.reason for f in disc.skipped_files] == ["not a DICOM file"]
    study = load_study(tmp_path)  # the attenuation-corrected PET is chosen
    assert study.series_instance_uid == pt_uid
    assert study.ct is not None and study.ct.spatial_shape == (4, 6, 6)
    # CT onto the PET grid: PET voxel (0, 1, 1) centre = (−4, −4, −94) mm, CT voxel index there =
    # slice (−92.5 − (−94))/2.5 = 0.6, row/col (−4 + 9)/3 = 5/3: trilinear of the HU ramp
    ct_on_pet = resample_to(study.ct, study.emission, order=1)
    assert ct_on_pet.spatial_shape == study.emission.spatial_shape
    hu = study.ct.array.astype(np.float64)
    s, r = 0.6, 5 / 3
    i0, j0 = 0, 1
    exp = 0.0
    for di, wi in ((0, 1 - s), (1, s)):
        for dj, wj in ((0, 1 - (r - j0)), (1, r - j0)):
            for dk, wk in ((0, 1 - (r - j0)), (1, r - j0)):
                exp += wi * wj * wk * hu[i0 + di, j0 + dj, j0 + dk]
    assert ct_on_pet.array[0, 1, 1] == pytest.approx(exp, rel=1e-5)
    uid_study = load_study(tmp_path, series_uid=pt_uid)
    assert uid_study.series_instance_uid == pt_uid


def test_ambiguous_and_absent_emission(tmp_path):
    make_pet_series(tmp_path / "a")
    make_pet_series(tmp_path / "b")
    with pytest.raises(NenscopeError, match="choose one by its SeriesInstanceUID"):
        load_study(tmp_path)
    make_ct_series(tmp_path / "ctonly", study_uid="1.2")
    with pytest.raises(NenscopeError, match="no PET or reconstructed SPECT"):
        load_study(tmp_path / "ctonly")


def test_zip_archive(tmp_path):
    files, values, _ = make_pet_series(tmp_path / "pt")
    archive = tmp_path / "study.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for f in files:
            zf.write(f, arcname=f"DICOM/{Path(f).name}")
        zf.writestr("README.txt", "hello")
    study = load_study(archive)
    np.testing.assert_allclose(study.emission.array, values, rtol=1e-6)
    assert [Path(f.path).name for f in discover(archive).skipped_files] == ["study.zip!README.txt"]


def test_truncated_file_is_skipped(tmp_path):
    files, _, _ = make_pet_series(tmp_path, shape=(4, 4, 4))
    data = files[0].read_bytes()
    files[0].write_bytes(data[:-20])
    disc = discover(tmp_path)
    assert len(disc.skipped_files) == 1 and "truncated" in disc.skipped_files[0].reason
    assert disc.series[0].n_instances == 3


def test_series_geometry_from_headers(tmp_path):
    make_pet_series(tmp_path, shape=(3, 4, 5), spacing_mm=(2.0, 4.0, 3.0))
    shape, spacing, warnings = series_geometry(discover(tmp_path).series[0])
    assert shape == (3, 4, 5) and spacing == pytest.approx((2.0, 4.0, 3.0)) and warnings == []


def test_enhanced_multiframe_pet_geometry(tmp_path):
    import highdicom as hd

    files, values, _ = make_pet_series(tmp_path / "pt", shape=(3, 4, 4))
    enhanced = hd.legacy.LegacyConvertedEnhancedPETImage(
        legacy_datasets=[pydicom.dcmread(f) for f in files],
        series_instance_uid=hd.UID(),
        series_number=5,
        sop_instance_uid=hd.UID(),
        instance_number=1,
    )
    (tmp_path / "enh").mkdir()
    enhanced.save_as(tmp_path / "enh" / "pet.dcm")
    classic = load_series(tmp_path / "pt").volume
    loaded = load_series(tmp_path / "enh").volume
    np.testing.assert_allclose(loaded.array, values, rtol=1e-6)
    np.testing.assert_allclose(loaded.affine, classic.affine, atol=1e-9)


def test_planar_nm_is_not_a_volume(tmp_path):
    from test_imaging_helpers import make_nm_spect

    make_nm_spect(tmp_path / "nm.dcm")
    ds = pydicom.dcmread(tmp_path / "nm.dcm")
    ds.ImageType = ["ORIGINAL", "PRIMARY", "STATIC", "EMISSION"]
    ds.save_as(tmp_path / "nm.dcm")
    assert discover(tmp_path).series[0].kind == "NM-planar"
    with pytest.raises(NenscopeError, match="planar"):
        load_study(tmp_path)


def test_dicomdir_file_set(tmp_path):
    from pydicom.fileset import FileSet

    files, values, _ = make_pet_series(tmp_path / "src")
    fs = FileSet()
    for f in files:
        ds = pydicom.dcmread(f)
        ds.StudyTime, ds.StudyID = "090000", "1"
        fs.add(ds)
    fs.write(tmp_path / "media")
    disc = discover(tmp_path / "media")
    assert [s.kind for s in disc.series] == ["PT"]
    assert [Path(f.path).name for f in disc.skipped_files] == ["DICOMDIR"]
    np.testing.assert_allclose(load_study(disc).emission.array, values, rtol=1e-6)


def test_single_frame_nm_spect_slices(tmp_path):
    # reconstructed SPECT written one slice per file, position only in DetectorInformationSequence
    from pydicom.sequence import Sequence

    from test_imaging_helpers import NM_SOP

    files, values, _ = make_pet_series(tmp_path, shape=(4, 4, 4))
    for f in files:
        ds = pydicom.dcmread(f)
        ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = NM_SOP
        ds.Modality = "NM"
        ds.ImageType = ["ORIGINAL", "PRIMARY", "RECON TOMO", "EMISSION"]
        det = pydicom.Dataset()
        det.ImagePositionPatient = ds.ImagePositionPatient
        det.ImageOrientationPatient = ds.ImageOrientationPatient
        ds.DetectorInformationSequence = Sequence([det])
        del ds.ImagePositionPatient, ds.ImageOrientationPatient
        ds.save_as(f)
    study = load_study(tmp_path)
    assert study.modality == "NM" and study.units == "BQML"
    np.testing.assert_allclose(study.emission.array, values, rtol=1e-6)
    np.testing.assert_allclose(study.emission.affine[:3, 0], [0, 0, -3.0])


def test_summary_of_a_mixed_folder(tmp_path):
    from nenscope.imaging.summary import summarize

    files, _, pt_uid = make_pet_series(tmp_path / "pt", study_uid="1.2.3", for_uid="1.2.3.9")
    make_ct_series(tmp_path / "ct", study_uid="1.2.3", for_uid="1.2.3.9", n=4, size=6)
    (tmp_path / "broken.dcm").write_bytes(b"DICM" * 10)
    out = summarize(tmp_path)
    by_modality = {s["modality"]: s for s in out["series"]}
    assert set(by_modality) == {"PT", "CT"}
    ct = by_modality["CT"]
    assert ct["units"] == "HU" and ct["shape"] == [4, 6, 6] and ct["spacing_mm"] == [2.5, 3.0, 3.0]
    assert ct["suv_bw_factor"] is None and ct["warnings"] == []
    pt = by_modality["PT"]
    assert pt["series_instance_uid"] == pt_uid and pt["n_instances"] == 3
    assert pt["suv_bw_factor"] == pytest.approx(2.7633668171764324e-4, rel=1e-9)
    assert [Path(f["path"]).name for f in out["skipped_files"]] == ["broken.dcm"]
    # a single file is a valid PATH too
    single = summarize(files[0])
    assert single["series"][0]["n_instances"] == 1 and single["series"][0]["shape"][0] == 1
