"""Round trip through a real Orthanc with DICOMweb: upload a simulated study, find it, pull it,
analyse it, push the DICOM-SEG, the SUV map and the SR back, read them from the PACS.

The SR's values must equal findings.json, every reference in it must resolve (SEG segment,
source series, Real World Value Map), the SUV map must agree with a QIBA SUV computed here from
the header, and dcmtk must read the objects without a warning."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from datetime import datetime
from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom
import pytest

from conftest import cached_simulation
from nenscope.cli import main
from nenscope.errors import NenscopeError
from nenscope.pacs import Pacs, PacsAuth, PacsError, read_measurement_report
from nenscope.pacs.codes import site_code
from nenscope.simulation.output import write_study
from nenscope.simulation.study import SimulationConfig
from orthanc_server import orthanc

pytestmark = [pytest.mark.xdist_group("orthanc"), pytest.mark.slow]
PATIENT_ID = "NENSCOPE-SIM-0011"
WRITTEN = {"SEG": "lesions.seg.dcm", "SR": "lesions.sr.dcm", "RWV": "suv.rwvm.dcm"}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with orthanc(tmp_path_factory.mktemp("orthanc")) as srv:
        yield srv


@pytest.fixture(scope="module")
def roundtrip(server, tmp_path_factory):
    """Upload through the API, then ``nenscope analyze --from-pacs URL --study UID --push``."""
    root = tmp_path_factory.mktemp("pacs")
    sim = cached_simulation(
        SimulationConfig(tracer="68Ga-DOTATATE", seed=11, n_lesions=3, voxel_mm=8.0)
    )
    write_study(sim, root / "study")
    pacs = Pacs(server.url, PacsAuth(user=server.user, password=server.password))
    uploaded = pacs.push([root / "study"])
    uid = pydicom.dcmread(next((root / "study").rglob("*.dcm"))).StudyInstanceUID
    with pytest.MonkeyPatch.context() as env:
        env.setenv("NENSCOPE_PACS_USER", server.user)
        env.setenv("NENSCOPE_PACS_PASSWORD", server.password)
        args = ["analyze", "--from-pacs", server.url, "--study", uid, "--push"]
        assert main([*args, "--out", str(root / "out")]) == 0
    back = pacs.pull_study(uid, root / "back", modalities=["SEG", "SR", "RWV"])
    written = {pydicom.dcmread(root / "out" / name).SOPInstanceUID for name in WRITTEN.values()}
    objects = {  # what this run pushed (a shared PACS may hold earlier runs' objects too)
        ds.Modality: ds
        for ds in map(pydicom.dcmread, back.folder.rglob("*.dcm"))
        if ds.SOPInstanceUID in written
    }
    findings = json.loads((root / "out" / "findings.json").read_text())
    return dict(
        root=root, pacs=pacs, uid=uid, uploaded=uploaded, objects=objects, findings=findings
    )  # fmt: skip


def _dicom_files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*.dcm")]


def test_upload_and_find(roundtrip):
    pacs, uid = roundtrip["pacs"], roundtrip["uid"]
    assert len(roundtrip["uploaded"]) == len(_dicom_files(roundtrip["root"] / "study")) == 250
    (study,) = pacs.find_studies(patient_id=PATIENT_ID)
    assert study.study_instance_uid == uid
    assert {"PT", "CT"} <= set(study.modalities)
    assert [s.study_instance_uid for s in pacs.find_studies(modality="PT")] == [uid]
    assert [s.study_date for s in pacs.find_studies(date_range="20260101-20260131")] == [
        "2026-01-15"
    ]
    assert pacs.find_studies(date_range="2025-01-01..2025-12-31") == []
    assert pacs.find_studies(modality="MR") == []


def test_pull_gets_every_instance_of_the_wanted_series(roundtrip, tmp_path):
    pacs, uid = roundtrip["pacs"], roundtrip["uid"]
    pulled = pacs.pull_study(uid, tmp_path / "pt", modalities=["PT"])
    assert pulled.n_instances == 125 and [s.modality for s in pulled.series] == ["PT"]
    sent = {
        pydicom.dcmread(p).SOPInstanceUID
        for p in (roundtrip["root"] / "study" / "pet").rglob("*.dcm")
    }
    got = {pydicom.dcmread(p).SOPInstanceUID for p in _dicom_files(tmp_path / "pt")}
    assert got == sent
    # the analysis pulled the PET and the CT only
    assert len(_dicom_files(roundtrip["root"] / "out" / "dicom")) == 250


def test_seg_rwvm_and_sr_are_stored_in_the_study(roundtrip):
    objects, out = roundtrip["objects"], roundtrip["root"] / "out"
    assert set(objects) == {"SEG", "SR", "RWV"}
    for modality, name in WRITTEN.items():
        assert objects[modality].SOPInstanceUID == pydicom.dcmread(out / name).SOPInstanceUID
    series = {s.modality for s in roundtrip["pacs"].find_series(roundtrip["uid"])}
    assert {"PT", "CT", "SEG", "SR", "RWV"} <= series
    seg = objects["SEG"]
    pet_series = roundtrip["findings"]["study"]["series_instance_uid"]
    assert seg.ReferencedSeriesSequence[0].SeriesInstanceUID == pet_series
    assert len(seg.ReferencedSeriesSequence[0].ReferencedInstanceSequence) == 125


def test_sr_values_equal_findings_json(roundtrip):
    objects, findings = roundtrip["objects"], roundtrip["findings"]
    rows = read_measurement_report(objects["SR"])
    lesions = sorted(findings["lesions"], key=lambda les: les["id"])
    assert len(rows) == len(lesions) == findings["summary"]["n_lesions"] > 0
    labels = {int(s.SegmentNumber): s.SegmentLabel for s in objects["SEG"].SegmentSequence}
    for row, lesion in zip(rows, lesions, strict=True):
        assert row["lesion"] == f"lesion {lesion['id']}"
        for key in ("suv_max", "suv_peak", "suv_mean", "volume_ml", "krenning", "sstr_rads"):
            assert row[key] == lesion[key], key
        assert row["seg_sop_instance_uid"] == objects["SEG"].SOPInstanceUID
        assert labels[row["segment_number"]].startswith(f"lesion {lesion['id']} ")
        coded = site_code(lesion["site"])
        assert row["site"] == (coded.meaning if coded is not None else None), lesion["site"]


def test_sr_references_resolve(roundtrip):
    objects, findings = roundtrip["objects"], roundtrip["findings"]
    sr = hd.sr.Comprehensive3DSR.from_dataset(objects["SR"])
    assert sr.ContentTemplateSequence[0].TemplateIdentifier == "1500"
    evidence = {
        ref.ReferencedSOPInstanceUID
        for study in sr.CurrentRequestedProcedureEvidenceSequence
        for series in study.ReferencedSeriesSequence
        for ref in series.ReferencedSOPSequence
    }
    pet = {
        ref.ReferencedSOPInstanceUID
        for ref in objects["SEG"].ReferencedSeriesSequence[0].ReferencedInstanceSequence
    }
    assert {objects["SEG"].SOPInstanceUID, objects["RWV"].SOPInstanceUID} | pet == evidence
    for group in sr.content.get_volumetric_roi_measurement_groups():
        source = group.referenced_segment[1]
        assert source.UID == findings["study"]["series_instance_uid"]
        items = group[0].ContentSequence
        rwvm = [i for i in items if i.ConceptNameCodeSequence[0].CodeValue == "126100"]
        assert (
            rwvm[0].ReferencedSOPSequence[0].ReferencedSOPInstanceUID
            == objects["RWV"].SOPInstanceUID
        )


def _qiba_suv_factor(pet: pydicom.Dataset) -> float:
    """SUVbw factor (g/ml per Bq/ml) from the header: weight / decayed dose (QIBA)."""
    info = pet.RadiopharmaceuticalInformationSequence[0]
    day = pet.SeriesDate
    injected = datetime.strptime(
        day + info.RadiopharmaceuticalStartTime.split(".")[0], "%Y%m%d%H%M%S"
    )
    scan = datetime.strptime(day + pet.SeriesTime.split(".")[0], "%Y%m%d%H%M%S")
    decayed_bq = float(info.RadionuclideTotalDose) * 2.0 ** (
        -(scan - injected).total_seconds() / float(info.RadionuclideHalfLife)
    )
    return float(pet.PatientWeight) * 1000.0 / decayed_bq


def test_rwvm_gives_the_qiba_suv_and_the_seg_gives_the_sr_suvmax(roundtrip):
    root, objects, findings = roundtrip["root"], roundtrip["objects"], roundtrip["findings"]
    pet = {
        ds.SOPInstanceUID: ds
        for ds in map(pydicom.dcmread, (root / "study" / "pet").rglob("*.dcm"))
    }
    mapping = {}
    for item in objects["RWV"].ReferencedImageRealWorldValueMappingSequence:
        rwv = item.RealWorldValueMappingSequence[0]
        assert rwv.MeasurementUnitsCodeSequence[0].CodeValue == "g/ml{SUVbw}"
        for ref in item.ReferencedImageSequence:
            mapping[ref.ReferencedSOPInstanceUID] = (
                float(rwv.RealWorldValueSlope),
                float(rwv.RealWorldValueIntercept),
            )
    assert set(mapping) == set(pet)
    factor = _qiba_suv_factor(next(iter(pet.values())))
    for uid, (slope, _intercept) in mapping.items():
        assert slope == pytest.approx(float(pet[uid].RescaleSlope) * factor, rel=1e-4)
    # a viewer's SUVmax: the SEG segment's pixels on the source images, mapped by the RWVM
    seg, frames = objects["SEG"], objects["SEG"].pixel_array
    frames = frames[None] if frames.ndim == 2 else frames
    best: dict[int, float] = {}
    for frame, item in zip(frames, seg.PerFrameFunctionalGroupsSequence, strict=True):
        number = int(item.SegmentIdentificationSequence[0].ReferencedSegmentNumber)
        uid = item.DerivationImageSequence[0].SourceImageSequence[0].ReferencedSOPInstanceUID
        slope, intercept = mapping[uid]
        values = pet[uid].pixel_array[frame.astype(bool)] * slope + intercept
        if values.size:
            best[number] = max(best.get(number, -np.inf), float(values.max()))
    for n, row in enumerate(read_measurement_report(objects["SR"]), start=1):
        assert best[n] == pytest.approx(row["suv_max"], abs=2e-3, rel=1e-4)
    assert len(best) == len(findings["lesions"])


def _dcmtk(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        if os.environ.get("NENSCOPE_CI"):
            pytest.fail(f"{tool} is missing in CI: .ci/run must install dcmtk")
        pytest.skip(f"{tool} (dcmtk) not installed on this machine (CI installs it)")
    return path


def test_dcmtk_reads_the_sr_seg_and_rwvm_without_a_complaint(roundtrip):
    out = roundtrip["root"] / "out"
    done = subprocess.run(
        [_dcmtk("dsrdump"), "+Pt", str(out / "lesions.sr.dcm")], capture_output=True, text=True
    )
    assert done.returncode == 0 and done.stderr == "", done.stderr
    assert "# TID 1500 (DCMR)" in done.stdout and "# TID 1411 (DCMR)" in done.stdout
    assert done.stdout.count('"Krenning score")=(KRENNING-') == len(
        roundtrip["findings"]["lesions"]
    )
    assert "g/ml{SUVbw}" in done.stdout and "Referenced Segment" in done.stdout
    for name in ("lesions.seg.dcm", "suv.rwvm.dcm", "lesions.sr.dcm"):
        dump = subprocess.run([_dcmtk("dcmdump"), str(out / name)], capture_output=True, text=True)
        assert dump.returncode == 0 and dump.stderr == "", (name, dump.stderr)


def test_cli_find_and_pull(roundtrip, server, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("NENSCOPE_PACS_USER", server.user)
    monkeypatch.setenv("NENSCOPE_PACS_PASSWORD", server.password)
    uid = roundtrip["uid"]
    assert main(["pacs", "find", "--url", server.url, "--patient-id", PATIENT_ID, "--json"]) == 0
    assert [s["study_instance_uid"] for s in json.loads(capsys.readouterr().out)] == [uid]
    out = tmp_path / "d"
    assert (
        main(
            [
                "pacs",
                "pull",
                "--url",
                server.url,
                "--study",
                uid,
                "--out",
                str(out),
                "--modality",
                "CT",
            ]
        )
        == 0
    )
    assert len(_dicom_files(out)) == 125
    assert main(["analyze", "--from-pacs", server.url]) == 2
    assert "--study UID go together" in capsys.readouterr().err


def test_wrong_password_and_unknown_study_are_clear_errors(server, tmp_path):
    with pytest.raises(PacsError, match="refused the credentials"):
        Pacs(server.url, PacsAuth(user=server.user, password="wrong")).find_studies()
    pacs = Pacs(server.url, PacsAuth(user=server.user, password=server.password))
    with pytest.raises(PacsError, match="no study 1.2.3.999"):
        pacs.pull_study("1.2.3.999", tmp_path)


def test_cohort_study_from_a_pacs_address(roundtrip, server, tmp_path):
    from nenscope.cohort import CohortEntry, run_study

    address = server.url.replace("http://", "pacs://") + f"/studies/{roundtrip['uid']}"
    auth = PacsAuth(user=server.user, password=server.password)
    outcome = run_study(CohortEntry("p1", address, "68Ga-DOTATATE"), tmp_path, auth=auth)
    assert outcome.status == "done", outcome.error
    assert json.loads(outcome.findings_json)["lesions"] == roundtrip["findings"]["lesions"]
    assert len(_dicom_files(tmp_path / "p1" / "dicom")) == 250
    refused = run_study(CohortEntry("p2", address, None), tmp_path)  # no credentials
    assert refused.status == "failed" and "refused the credentials" in refused.error


def test_sr_without_scores_other_suv_kind_and_mismatched_seg(roundtrip, tmp_path):
    """Missing values are left out, the SUV kind sets the unit, a SEG of other findings is
    refused (no network: the round trip's files)."""
    from nenscope.pacs import measurement_report, suv_rwvm

    out = roundtrip["root"] / "out"
    seg = pydicom.dcmread(out / "lesions.seg.dcm")
    sources = [pydicom.dcmread(p) for p in sorted((out / "dicom").rglob("*.dcm"))]
    sources = [ds for ds in sources if ds.Modality == "PT"]
    findings = json.loads(json.dumps(roundtrip["findings"]))
    findings["study"]["suv_kind"] = "sul"
    first = findings["lesions"][0]
    first.update(krenning=None, sstr_rads=None, suv_peak=None, site="nowhere")
    rwvm = suv_rwvm(sources, 0.001, "sul")
    unit = rwvm.ReferencedImageRealWorldValueMappingSequence[0].RealWorldValueMappingSequence[0]
    assert unit.MeasurementUnitsCodeSequence[0].CodeValue == "g/ml{SUVlbm(Janma)}"
    sr = measurement_report(findings, seg, sources, rwvm)
    rows = read_measurement_report(sr)
    assert (rows[0]["krenning"], rows[0]["sstr_rads"], rows[0]["site"]) == (None, None, None)
    assert "suv_peak" not in rows[0] and rows[0]["suv_max"] == first["suv_max"]
    parsed = hd.sr.Comprehensive3DSR.from_dataset(sr)
    group = parsed.content.get_volumetric_roi_measurement_groups()[0]
    units = {m.unit.value for m in group.get_measurements()}
    assert units == {"g/ml{SUVlbm(Janma)}", "ml"}
    findings["lesions"] = findings["lesions"][1:]
    with pytest.raises(NenscopeError, match="segment\\(s\\) for"):
        measurement_report(findings, seg, sources, rwvm)
    with pytest.raises(NenscopeError, match="not positive"):
        suv_rwvm(sources, 0.0)
