"""Bad input to the imaging room (issue 16): lenient reading with strict meaning, bounded
resources, one patient per study, masks on the image grid, writers that degrade.

Every case is built here from the synthetic series of ``test_imaging_helpers``; each test
states the input, the outcome expected (result, result with a warning, or a clear error
naming the tag or the limit) and checks it.
"""

from __future__ import annotations

import copy
import io
import json
import os
import re
import socket
import zipfile
from pathlib import Path

import highdicom as hd
import nibabel as nib
import numpy as np
import pydicom
import pytest
from pydicom.dataelem import RawDataElement
from pydicom.tag import Tag

from nenscope.errors import NenscopeError
from nenscope.imaging import discover, load_series, load_study, read_mask, write_seg
from nenscope.imaging import limits as lim
from nenscope.imaging import seg as seg_module
from nenscope.imaging.geometry import labels_on_grid
from nenscope.imaging.identity import PatientIdentity, check_same_patient
from nenscope.imaging.summary import summarize
from nenscope.imaging.writable import TYPE2_EMPTY, writable_sources
from test_imaging_helpers import make_ct_series, make_pet_series

SUV_BW = 2.7633668171764324e-4  # 70 kg, 370 MBq at 09:00, scan 10:00, F-18 (by hand)


def _edit(files, **values):
    """Set header values (raw bytes for odd ones) in every file."""
    for path in files:
        ds = pydicom.dcmread(path)
        for keyword, value in values.items():
            if value is None:
                if keyword in ds:
                    delattr(ds, keyword)
            elif isinstance(value, bytes):
                tag = Tag(keyword)
                vr = pydicom.datadict.dictionary_VR(tag)
                ds[tag] = RawDataElement(tag, vr, len(value), value, 0, False, True)
            else:
                setattr(ds, keyword, value)
        ds.save_as(path, enforce_file_format=False)


# ---- bounded resources -------------------------------------------------------------------


def test_discovery_skips_fifo_socket_and_symlink_loop(tmp_path):
    make_pet_series(tmp_path)
    os.mkfifo(tmp_path / "pipe")  # opening it would wait for a writer forever
    (tmp_path / "loop_a").symlink_to(tmp_path / "loop_b")
    (tmp_path / "loop_b").symlink_to(tmp_path / "loop_a")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(tmp_path / "sock"))
    try:
        disc = discover(tmp_path)
    finally:
        sock.close()
    reasons = {Path(f.path).name: f.reason for f in disc.skipped_files}
    assert reasons["pipe"].startswith("named pipe")
    assert reasons["sock"].startswith("socket")
    assert reasons["loop_a"] == reasons["loop_b"] == "symbolic link loop"
    study = load_study(disc)
    assert study.suv.bw == pytest.approx(SUV_BW, rel=1e-9)
    assert any("not read" in w and "incomplete" in w for w in study.warnings)


def test_zip_members_are_bounded(tmp_path, monkeypatch):
    files, _, _ = make_pet_series(tmp_path / "pt")
    archive = tmp_path / "study.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for f in files:
            zf.write(f, f"pt/{f.name}")
        zf.writestr("bomb.dcm", b"\0" * (8 * 2**20))  # 8 MiB of zeros: ratio ~1000:1
        zf.writestr("../../escape.dcm", files[0].read_bytes())
        zf.writestr("/absolute.dcm", files[0].read_bytes())
    disc = discover(archive)
    reasons = {f.path.split("!")[1]: f.reason for f in disc.skipped_files}
    assert "zip bomb guard" in reasons["bomb.dcm"] and "200:1" in reasons["bomb.dcm"]
    assert "leaves the archive" in reasons["../../escape.dcm"]
    assert "leaves the archive" in reasons["/absolute.dcm"]
    assert load_study(disc).suv.bw == pytest.approx(SUV_BW, rel=1e-9)
    monkeypatch.setattr("nenscope.imaging.discovery.MAX_ZIP_MEMBERS", 3)
    with pytest.raises(NenscopeError, match="the limit is 3 per archive"):
        discover(archive)
    monkeypatch.setattr("nenscope.imaging.discovery.MAX_ZIP_MEMBERS", 100)
    monkeypatch.setattr("nenscope.imaging.discovery.MAX_ZIP_TOTAL_BYTES", 1000)
    assert all("beyond 1000 bytes" in f.reason for f in discover(archive).skipped_files[-2:])


def test_corrupt_zip_member_is_reported(tmp_path):
    files, _, _ = make_pet_series(tmp_path / "pt", shape=(4, 4, 4))
    archive = tmp_path / "study.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as zf:
        for f in files:
            zf.write(f, f.name)
    data = bytearray(archive.read_bytes())
    start = data.index(files[1].read_bytes()[200:240])  # flip bytes inside the 2nd member
    data[start : start + 8] = b"\xff" * 8
    archive.write_bytes(bytes(data))
    disc = discover(archive)
    assert any("cannot read from archive" in f.reason for f in disc.skipped_files)
    # the slice it held is missing: an interior gap is an error, an end slice is reported
    try:
        study = load_study(disc)
    except NenscopeError as exc:
        assert "missing" in str(exc)
    else:
        assert any("incomplete" in w for w in study.warnings)


def test_grid_limits_are_named(tmp_path):
    with pytest.raises(NenscopeError, match="the limit is 1–4096"):
        lim.check_grid((10, 5000, 10), (1, 1, 1), "s")
    with pytest.raises(NenscopeError, match="the limit is 5000"):
        lim.check_grid((6000, 10, 10), (1, 1, 1), "s")
    with pytest.raises(NenscopeError, match=r"outside 0.01–100 mm"):
        lim.check_grid((10, 10, 10), (0.001, 1, 1), "s")
    files, _, _ = make_pet_series(tmp_path)
    _edit(files, PixelSpacing=[0.0001, 0.0001])
    with pytest.raises(NenscopeError, match="voxel size 0.0001 mm"):
        load_study(tmp_path)
    assert any("0.0001 mm" in w for w in summarize(tmp_path)["series"][0]["warnings"])


def test_suv_scale_limit(tmp_path):
    # 37 kBq injected: SUVs of tens of thousands, a wrong unit rather than a patient
    make_pet_series(tmp_path, activity_bq=3.7e4)
    study = load_study(tmp_path)
    with pytest.raises(NenscopeError, match="the limit is 10000"):
        study.suv("bw")


# ---- lenient reading, strict meaning -------------------------------------------------


def test_non_standard_dates_times_and_charset_are_read_with_a_note(tmp_path):
    files, _, _ = make_pet_series(tmp_path, use_start_datetime=False)
    _edit(
        files,
        SeriesDate="2024-03-01",
        StudyDate="2024/03/01",
        SeriesTime="10:00:00",
        AcquisitionTime="10:00",
        SpecificCharacterSet="ISO_IR 999",
    )
    study = load_study(tmp_path)
    assert study.suv.bw == pytest.approx(SUV_BW, rel=1e-9)
    text = " ".join(study.warnings)
    for tag in ("SeriesDate (0008,0021)", "SeriesTime (0008,0031)", "StudyDate (0008,0020)"):
        assert f"{tag} = " in text and "read leniently" in text
    assert "SpecificCharacterSet (0008,0005) = 'ISO_IR 999'" in text
    # info shows the same notes
    assert set(study.warnings) >= {
        w for w in summarize(tmp_path)["series"][0]["warnings"] if "leniently" in w
    }


@pytest.mark.parametrize(
    ("keyword", "raw", "option"),
    [
        ("PatientWeight", b"70kg", "--weight-kg"),
        ("PatientSize", b"nan ", "--height-cm"),
    ],
)
def test_a_number_that_is_not_a_number_is_refused_with_its_tag(tmp_path, keyword, raw, option):
    files, _, _ = make_pet_series(tmp_path)
    _edit(files, **{keyword: raw})
    study = load_study(tmp_path)
    factor = study.suv.bw if keyword == "PatientWeight" else study.suv.sul
    assert factor is None
    text = " ".join(study.suv.warnings)
    assert f"{keyword} (0010,10" in text and repr(raw.decode().strip()) in text and option in text


def test_activity_that_is_not_a_number_is_refused(tmp_path):
    files, _, _ = make_pet_series(tmp_path)
    for path in files:
        ds = pydicom.dcmread(path)
        item = ds.RadiopharmaceuticalInformationSequence[0]
        tag = Tag("RadionuclideTotalDose")
        item[tag] = RawDataElement(tag, "DS", 4, b"1e99", 0, False, True)
        ds.save_as(path)
    # 1e99 is a number, but not an activity: ignored with a warning, then missing
    study = load_study(tmp_path)
    assert study.suv.bw is None and "--injected-mbq" in " ".join(study.suv.warnings)


@pytest.mark.parametrize("value", [None, "0", "-1", b"x1"])
def test_pet_rescale_slope_absent_zero_or_not_a_number_is_refused(tmp_path, value):
    files, _, _ = make_pet_series(tmp_path)
    _edit(files, RescaleSlope=value)
    with pytest.raises(NenscopeError, match=r"RescaleSlope \(0028,1053\)"):
        load_study(tmp_path)
    # info still lists the series, with the reason
    warnings = summarize(tmp_path)["series"][0]["warnings"]
    assert any("RescaleSlope (0028,1053)" in w for w in warnings)


def test_ct_rescale_slope_absent_takes_the_stated_default(tmp_path):
    files, hu = make_ct_series(tmp_path, study_uid="1.2.3")
    _edit(files, RescaleSlope=None)
    loaded = load_series(tmp_path)
    np.testing.assert_allclose(loaded.volume.array, hu)
    assert any("slope 1 and intercept 0 assumed" in w for w in loaded.warnings)


def test_missing_end_slice_is_an_error_naming_number_of_slices(tmp_path):
    files, _, _ = make_pet_series(tmp_path, shape=(5, 4, 4), shuffle=False)
    for k, path in enumerate(files, start=1):
        _edit([path], NumberOfSlices=5, ImageIndex=k)
    files[-1].unlink()  # the last slice: no gap between the others shows it
    with pytest.raises(NenscopeError, match=r"4 of the 5 slices.*ImageIndex 5"):
        load_study(tmp_path)


def test_unreadable_slice_of_the_series_is_an_error(tmp_path):
    files, _, _ = make_pet_series(tmp_path, shape=(5, 4, 4))
    files[2].write_bytes(files[2].read_bytes()[:-10])  # pixel data truncated
    with pytest.raises(NenscopeError, match="unreadable.*refusing an incomplete volume"):
        load_study(tmp_path)


def test_duplicated_slice_file_is_skipped_and_the_series_loads(tmp_path):
    files, values, _ = make_pet_series(tmp_path)
    (tmp_path / "copy.dcm").write_bytes(files[0].read_bytes())
    study = load_study(tmp_path)
    np.testing.assert_allclose(study.emission.array, values, rtol=1e-6)
    assert any("duplicate SOPInstanceUID" in f.reason for f in discover(tmp_path).skipped_files)


# ---- one patient, one study ----------------------------------------------------------


def test_slices_of_two_patients_are_refused_naming_both_ids(tmp_path):
    files, _, _ = make_pet_series(tmp_path)
    _edit(files[:1], PatientID="OTHER-7", PatientName="Secret^Person")
    with pytest.raises(NenscopeError) as err:
        load_study(tmp_path)
    text = str(err.value)
    assert "PatientID (0010,0020)" in text and "'NS0001'" in text and "'OTHER-7'" in text
    assert "--allow-mismatch" in text and "Secret" not in text
    study = load_study(tmp_path, allow_mismatch=True)
    assert any("mismatch allowed" in w for w in study.warnings)
    assert not any("Secret" in w for w in study.warnings)


def test_slices_with_conflicting_weights_are_refused(tmp_path):
    files, _, _ = make_pet_series(tmp_path)
    _edit(files[:1], PatientWeight="82")
    with pytest.raises(NenscopeError, match=r"PatientWeight \(0010,1030\).*82 kg vs 70 kg"):
        load_study(tmp_path)


def test_another_patients_ct_is_refused(tmp_path):
    _, _, _ = make_pet_series(tmp_path / "pt", study_uid="1.2.826.0.1.3680043.8.498.1")
    files, _ = make_ct_series(tmp_path / "ct", study_uid="1.2.826.0.1.3680043.8.498.1")
    _edit(files, PatientID="NS0002")
    with pytest.raises(NenscopeError, match="'NS0001' vs 'NS0002'"):
        load_study(tmp_path)
    study = load_study(tmp_path, allow_mismatch=True)
    assert study.ct is not None


def test_check_same_patient_between_studies():
    pet = PatientIdentity("A1", "DOE JOHN", "19600101", "M", 70.0, "1.1", "PET")
    fdg = PatientIdentity("A1", "DOE JOHN", "19600101", "M", 76.0, "2.2", "FDG")
    # another study, weight within 15 %: the same patient
    assert check_same_patient([pet, fdg]) == []
    with pytest.raises(NenscopeError, match="StudyInstanceUID"):
        check_same_patient([pet, fdg], same_study=True)
    other = PatientIdentity("A1", "ROE JANE", "19600101", "M", 70.0, "2.2", "prior")
    with pytest.raises(NenscopeError, match=r"PatientName \(0010,0010\) differs") as err:
        check_same_patient([pet, other])
    assert "ROE" not in str(err.value) and "DOE" not in str(err.value)
    absent = PatientIdentity(None, None, None, None, None, None, "anonymised")
    assert check_same_patient([pet, absent]) == []  # nothing to compare is not a mismatch


# ---- masks on the image grid ---------------------------------------------------------


def _image():
    affine = np.array([[0, 0, 4.0, -50], [0, 4.0, 0, -60], [3.0, 0, 0, -70], [0, 0, 0, 1]])
    return hd.Volume(np.zeros((6, 8, 10), np.float32), affine, "PATIENT")


def test_a_crop_or_flip_of_the_grid_maps_exactly():
    image = _image()
    crop = np.zeros((3, 4, 5), np.uint16)
    crop[1, 2, 3] = 7
    # the crop starts at voxel (2, 3, 4) of the image and runs along its axes, column axis flipped
    affine = image.affine.copy()
    affine[:3, 3] = image.affine[:3, :3] @ [2, 3, 4 + 4] + image.affine[:3, 3]
    affine[:3, 2] *= -1
    placed = labels_on_grid(hd.Volume(crop, affine, "PATIENT"), image, "m")
    assert placed.array.shape == image.spatial_shape
    assert list(zip(*np.nonzero(placed.array), strict=True)) == [(3, 5, 8 - 3)]


def test_a_mask_on_another_grid_is_refused_not_resampled(tmp_path):
    image = _image()
    fine = image.affine.copy()
    fine[:3, :3] /= 2  # half the voxel size
    with pytest.raises(NenscopeError, match="not on the image grid"):
        labels_on_grid(hd.Volume(np.ones((12, 16, 20), np.uint16), fine, "PATIENT"), image, "m")
    shifted = image.affine.copy()
    shifted[:3, 3] += [0.3, 0, 0]  # a third of a voxel off
    with pytest.raises(NenscopeError, match="nor on a crop or flip"):
        labels_on_grid(hd.Volume(np.ones((6, 8, 10), np.uint16), shifted, "PATIENT"), image, "m")
    beyond = image.affine.copy()
    beyond[:3, 3] -= image.affine[:3, 0] * 2  # starts two slices before the image
    with pytest.raises(NenscopeError, match="beyond the image"):
        labels_on_grid(hd.Volume(np.ones((6, 8, 10), np.uint16), beyond, "PATIENT"), image, "m")
    # through read_mask: a NIfTI mask on another grid is an error
    nib.save(nib.Nifti1Image(np.ones((5, 5, 5), np.uint8), np.eye(4)), tmp_path / "m.nii.gz")
    with pytest.raises(NenscopeError, match="m.nii.gz: the mask is not on the image grid"):
        read_mask(tmp_path / "m.nii.gz", image)


def test_truncated_nifti_mask_is_a_clear_error(tmp_path):
    path = tmp_path / "mask.nii.gz"
    labels = np.random.default_rng(0).integers(0, 9, (20, 20, 20), dtype=np.uint8)
    nib.save(nib.Nifti1Image(labels, np.eye(4)), path)
    path.write_bytes(path.read_bytes()[:400])
    with pytest.raises(NenscopeError, match="not a readable NIfTI file"):
        read_mask(path, _image())


# ---- writers degrade -----------------------------------------------------------------


def _seg_inputs(tmp_path, delete=(), **edits):
    files, _, _ = make_pet_series(tmp_path / "pt", shape=(4, 6, 6))
    _edit(files, **edits)
    loaded = load_series(tmp_path / "pt")
    labels = loaded.volume.with_array(np.zeros(loaded.volume.spatial_shape, np.uint16))
    labels.array[1:3, 2:4, 2:4] = 1
    sources = [copy.deepcopy(ds) for ds in loaded.datasets]
    for ds in sources:  # attributes whose absence discovery would not accept
        for keyword in delete:
            if keyword in ds:
                delattr(ds, keyword)
    return labels, sources


def test_repairs_leave_the_source_headers_as_they_were(tmp_path):
    """Empty SliceThickness and StudyDate in the wrong form are repaired in the copies only."""
    _, sources = _seg_inputs(tmp_path, StudyDate="2024-03-01", SliceThickness="")
    before = [ds.to_json_dict() for ds in sources]
    notes: list[str] = []
    copies = writable_sources(sources, notes)
    assert copies[0].StudyDate == "20240301" and float(copies[0].SliceThickness) > 0
    assert [ds.to_json_dict() for ds in sources] == before
    assert sources[0].StudyDate == "2024-03-01" and sources[0].SliceThickness in ("", None)
    copies[0].RadiopharmaceuticalInformationSequence[0].RadionuclideTotalDose = 1.0
    assert sources[0].RadiopharmaceuticalInformationSequence[0].RadionuclideTotalDose != 1.0


def test_seg_writer_fills_repairs_and_generates(tmp_path):
    labels, sources = _seg_inputs(
        tmp_path,
        delete=(
            *[k for k in TYPE2_EMPTY if k not in ("StudyDate", "PatientName")],
            "SeriesInstanceUID",
            "StudyInstanceUID",
            "SliceThickness",
        ),
        StudyDate="2024-03-01",
        SpecificCharacterSet="ISO_IR 192",
        PatientName=b"M\xfcller^Jos\xe9",  # Latin-1 bytes under a UTF-8 declaration
    )
    notes: list[str] = []
    path = write_seg(labels, sources, {1: "lesion"}, tmp_path / "l.seg.dcm", notes=notes)
    seg = pydicom.dcmread(path)
    assert seg.StudyDate == "20240301" and str(seg.PatientName) == "Müller^José"
    assert "\ufffd" not in str(seg.PatientName) and seg.SpecificCharacterSet == "ISO_IR 192"
    for keyword in ("PatientID", "PatientBirthDate", "PatientSex", "StudyID", "AccessionNumber"):
        assert keyword in seg and seg.get(keyword) in ("", None)
    text = " ".join(notes)
    assert "PatientBirthDate (0010,0030) absent: written empty" in text
    assert "StudyInstanceUID (0020,000D) absent: a new UID generated" in text
    assert "SliceThickness (0018,0050) absent" in text
    back = hd.seg.segread(path)  # highdicom reads what it wrote
    assert back.number_of_segments == 1
    assert sources[0].get("StudyDate") == "2024-03-01"  # the sources are untouched


def _seg_without_generated(path: Path, sources: list) -> str:
    """The SEG as JSON with what each writing makes anew (UIDs not in ``sources``, dates and
    times) replaced by placeholders."""
    uid = r'"(1\.2\.826\.0\.1\.3680043\.[\d.]+)"'  # highdicom's and pydicom's UID roots
    known = set(re.findall(uid, json.dumps([ds.to_json_dict() for ds in sources])))
    text = json.dumps(pydicom.dcmread(path).to_json_dict(), sort_keys=True)
    text = re.sub(r'\{"Value": \["[\d.+-]*"\], "vr": "(DA|TM|DT)"\}', r'"\1"', text)
    generated = [u for u in dict.fromkeys(re.findall(uid, text)) if u not in known]
    for n, value in enumerate(generated):
        text = text.replace(value, f"UID{n}")
    return text


def test_seg_from_reference_copies_equals_seg_from_whole_copies(tmp_path, monkeypatch):
    """write_seg copies the first source whole and only the referencing attributes of the
    others: the SEG is the one written from whole repaired copies of all of them."""
    labels, sources = _seg_inputs(tmp_path, delete=("StudyInstanceUID",), StudyDate="2024-03-01")
    names = {1: "lesion"}
    notes: list[str] = []
    light = write_seg(labels, sources, names, tmp_path / "light.seg.dcm", notes=notes)
    whole = writable_sources(sources, [])
    assert len(writable_sources(sources, [], references_after_first=True)[1]) < len(whole[1]) / 3
    monkeypatch.setattr(seg_module, "writable_sources", lambda *_a, **_k: whole)
    full = write_seg(labels, sources, names, tmp_path / "whole.seg.dcm")
    assert _seg_without_generated(light, sources) == _seg_without_generated(full, sources)
    assert any("StudyInstanceUID (0020,000D) absent" in n for n in notes)


def test_seg_without_frame_of_reference_is_refused_clearly(tmp_path):
    labels, sources = _seg_inputs(tmp_path, delete=("FrameOfReferenceUID",))
    with pytest.raises(NenscopeError, match=r"no FrameOfReferenceUID \(0020,0052\)"):
        write_seg(labels, sources, {1: "lesion"}, tmp_path / "l.seg.dcm")
    assert not (tmp_path / "l.seg.dcm").exists()


def test_rtdose_copies_a_repaired_patient_and_study(tmp_path):
    from nenscope.dosimetry.rtdose import write_rtdose

    files, _, _ = make_pet_series(tmp_path / "pt")
    _edit(files, PatientBirthDate=None, StudyDate="2024-03-01", SpecificCharacterSet="ISO_IR 999")
    source = pydicom.dcmread(files[0], stop_before_pixels=True)
    dose = hd.Volume(np.full((3, 4, 4), 2.0, np.float32), _image().affine, "PATIENT")
    notes: list[str] = []
    path = write_rtdose(dose, tmp_path / "d.dcm", source=source, notes=notes)
    ds = pydicom.dcmread(path)
    for keyword in TYPE2_EMPTY:
        assert keyword in ds
    assert ds.StudyDate == "20240301" and ds.PatientID == "NS0001"
    assert ds.StudyInstanceUID == source.StudyInstanceUID
    assert any("FrameOfReferenceUID" in n for n in notes)  # the dose grid had none
    anonymous = write_rtdose(dose, tmp_path / "a.dcm", notes=notes)
    ds = pydicom.dcmread(anonymous)
    assert all(ds.get(k) == "" for k in TYPE2_EMPTY)
    assert any("StudyInstanceUID (0020,000D) unknown" in n for n in notes)


def test_random_and_zero_byte_files_never_stop_discovery(tmp_path):
    make_pet_series(tmp_path)
    (tmp_path / "empty.dcm").write_bytes(b"")
    (tmp_path / "random.dcm").write_bytes(np.random.default_rng(3).bytes(5000))
    (tmp_path / "text.dcm").write_bytes(io.BytesIO(b"DICM" * 40).getvalue())
    disc = discover(tmp_path)
    assert len(disc.series) == 1 and len(disc.skipped_files) == 3
    assert load_study(disc).suv.bw == pytest.approx(SUV_BW, rel=1e-9)
