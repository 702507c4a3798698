"""``nenscope analyze`` end to end on a small simulated study: every output, its format and its
links (findings.json schema, CSV = JSON, NIfTI = SEG = labels, SEG references the PET series)."""

from __future__ import annotations

import csv
import json

import highdicom as hd
import numpy as np
import pydicom
import pytest

from conftest import cached_simulation
from nenscope.atomic import RESULT_MARKER
from nenscope.cli import main
from nenscope.imaging import discover, read_nifti
from nenscope.jobs.analyze import CSV_COLUMNS, run_analysis
from nenscope.simulation.output import write_study
from nenscope.simulation.study import SimulationConfig

LESION_KEYS = {
    "id",
    "site",
    "center_mm",
    "volume_ml",
    "suv_max",
    "suv_peak",
    "suv_mean",
    "tla",
    "tlr",
    "krenning",
    "sstr_rads",
    "fdg_suv_max",
}
# one worker analyses the study once for all tests here (make test: --dist loadgroup)
pytestmark = pytest.mark.xdist_group("run_analysed")

SUMMARY_KEYS = {
    "n_lesions",
    "sstr_tv_ml",
    "tl_sstr",
    "krenning_max",
    "prrt_criterion_met",
    "prrt_failing_lesions",
    "prrt_not_assessed",
    "prrt_reason",
    "netpet",
}


@pytest.fixture(scope="module")
def analysed(tmp_path_factory):
    root = tmp_path_factory.mktemp("run")
    sim = cached_simulation(
        SimulationConfig(tracer="68Ga-DOTATATE", seed=11, n_lesions=3, voxel_mm=8.0)
    )
    write_study(sim, root / "study")
    result = run_analysis(root / "study", root / "out")
    truth = json.loads((root / "study" / "truth" / "manifest.json").read_text())
    return root, result, truth


def test_findings_json_has_the_documented_shape(analysed):
    root, result, _ = analysed
    data = json.loads((root / "out" / "findings.json").read_text())
    assert {"study", "reference", "lesions", "summary"} <= set(data)
    assert {"liver_suv_mean", "spleen_suv_mean"} <= set(data["reference"])
    assert SUMMARY_KEYS <= set(data["summary"])
    assert data["summary"]["n_lesions"] == len(data["lesions"]) == len(result.findings.lesions)
    for lesion in data["lesions"]:
        assert LESION_KEYS <= set(lesion)
        assert len(lesion["center_mm"]) == 3
    assert data["study"]["agent"] == "68Ga-DOTATATE"
    assert data["study"]["injected_activity_mbq"] > 0


def test_brightest_true_lesion_is_found_at_its_place(analysed):
    _, result, truth = analysed
    hottest = max(truth["lesions"], key=lambda les: (les["true_suv_mean"], les["diameter_mm"]))
    centres = np.array([les.center_mm for les in result.findings.lesions])
    distance = np.linalg.norm(centres - np.array(hottest["center_mm"]), axis=1).min()
    assert distance < 16.0  # two 8 mm voxels


def test_csv_matches_json(analysed):
    root, _, _ = analysed
    data = json.loads((root / "out" / "findings.json").read_text())
    with open(root / "out" / "lesions.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert tuple(rows[0].keys()) == CSV_COLUMNS
    assert len(rows) == len(data["lesions"])
    for row, lesion in zip(rows, data["lesions"], strict=True):
        assert int(row["id"]) == lesion["id"]
        assert float(row["suv_max"]) == pytest.approx(lesion["suv_max"])
        assert float(row["center_z_mm"]) == pytest.approx(lesion["center_mm"][2])


def test_seg_opens_with_highdicom_references_the_pet_and_matches_the_labels(analysed):
    root, result, _ = analysed
    seg = hd.seg.segread(root / "out" / "lesions.seg.dcm")
    pet_uid = result.findings.study["series_instance_uid"]
    referenced = {item.SeriesInstanceUID for item in seg.ReferencedSeriesSequence}
    assert referenced == {pet_uid}
    assert seg.FrameOfReferenceUID == result.findings.study["frame_of_reference_uid"]
    n = len(result.findings.lesions)
    assert len(seg.SegmentSequence) == n
    labels = read_nifti(root / "out" / "lesions.nii.gz")
    lab = np.asarray(labels.array)
    assert set(np.unique(lab)) == set(range(n + 1))
    assert lab.shape == tuple(result.findings.labels.spatial_shape)
    # voxel count per segment in the SEG equals the lesion's voxel count
    sources = discover(root / "study").get(pet_uid).datasets
    sop_uids = [(pet_uid, ds.SOPInstanceUID) for ds in sources]
    pixels = seg.get_pixels_by_source_instance(
        source_sop_instance_uids=[u for _, u in sop_uids], ignore_spatial_locations=True
    )
    for number, lesion in enumerate(result.findings.lesions, start=1):
        assert (
            int(pixels[..., number - 1].sum()) == lesion.n_voxels == int((lab == lesion.id).sum())
        )


def test_outputs_are_complete_and_atomic(analysed):
    root, result, _ = analysed
    out = root / "out"
    for name in (
        "findings.json",
        "lesions.csv",
        "lesions.nii.gz",
        "lesions.seg.dcm",
        "report.html",
    ):
        assert (out / name).stat().st_size > 0, name
    assert (out / "figures" / "mip_coronal.png").exists()
    # no temporary files left behind: the only hidden file is the result-set marker
    assert [p.name for p in out.rglob(".*")] == [RESULT_MARKER]
    assert pydicom.dcmread(out / "lesions.seg.dcm").Modality == "SEG"
    assert set(result.timings_s) == {"load", "analyse", "write", "report"}


def test_cli_analyze_json_and_bad_input(analysed, tmp_path, capsys):
    root, result, _ = analysed
    args = ["analyze", str(root / "study"), "--out", str(tmp_path / "o"), "--json"]
    context = ["--indication", "staging of a small-bowel NET", "--prior", "PET/CT of 2025-03-02"]
    assert main([*args, *context]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["summary"]["n_lesions"] == len(result.findings.lesions)
    html = (tmp_path / "o" / "report.html").read_text("utf-8")  # the report's clinical context
    assert "<p>staging of a small-bowel NET</p>" in html
    assert "Compared with the prior study: PET/CT of 2025-03-02." in html
    assert main(["analyze", str(tmp_path / "missing")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["analyze", str(root / "study" / "ct"), "--out", str(tmp_path / "o2")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err


def test_analyze_radiomics_csv_matches_the_lesion_metrics(analysed, tmp_path):
    """``analyze --radiomics``: one block of IBSI features per lesion; the intensity maximum
    inside each lesion equals that lesion's SUVmax and the volume its mesh volume."""
    root, result, _ = analysed
    run = run_analysis(root / "study", tmp_path, radiomics="pet-default")
    with open(tmp_path / "radiomics.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    by_lesion: dict[int, dict[str, float]] = {}
    for row in rows:
        by_lesion.setdefault(int(row["lesion"]), {})[row["tag"]] = float(row["value"])
    lesions = {les.id: les for les in run.findings.lesions}
    assert set(by_lesion) == set(lesions)
    for lesion_id, features in by_lesion.items():
        assert features["stat_max"] == pytest.approx(lesions[lesion_id].suv_max, rel=1e-4)
        voxel_ml = lesions[lesion_id].volume_ml / lesions[lesion_id].n_voxels
        assert features["morph_vol_approx"] / 1000.0 == pytest.approx(
            lesions[lesion_id].volume_ml, rel=1e-6, abs=voxel_ml * 1e-3
        )
