"""``nenscope.radiomics.batch`` and ``nenscope radiomics batch``: a manifest of image/mask pairs
to one wide table (CSV + JSON sidecar, Parquet with schema metadata); one bad pair keeps its
row with the error and the others go on."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from nenscope.cli import main
from nenscope.errors import NenscopeError
from nenscope.radiomics import preset
from nenscope.radiomics.batch import METADATA_KEY, read_manifest, run_manifest

DATA = Path(__file__).parent / "data"
PH = DATA / "ibsi1" / "digital_phantom"
STS = DATA / "sts001_fdg"
SETTINGS = preset("ibsi-phantom").replace(families=("morph", "stat", "ih", "cm"))


def _manifest(tmp_path: Path) -> Path:
    """Digital phantom twice (all non-zero voxels, label 1), STS_001 DICOM PET with its
    RTSTRUCT ROI by name, and three bad pairs (missing mask, absent label, unknown ROI)."""
    path = tmp_path / "cohort" / "manifest.csv"
    path.parent.mkdir()
    ph = PH.resolve()
    rows = [
        ("phantom", ph / "phantom.nii.gz", ph / "mask.nii.gz", ""),
        ("phantom_label1", ph / "phantom.nii.gz", ph / "mask.nii.gz", "1"),
        ("no_mask", ph / "phantom.nii.gz", "missing.nii.gz", ""),
        ("absent_label", ph / "phantom.nii.gz", ph / "mask.nii.gz", "7"),
    ]
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "image", "mask", "label"])
        w.writerows(rows)
    return path


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open() as fh:
        return list(csv.DictReader(fh))


def test_manifest_to_csv_with_settings_sidecar_and_errors_recorded(tmp_path):
    manifest = _manifest(tmp_path)
    res = run_manifest(manifest, tmp_path / "out" / "features.csv", SETTINGS)
    assert [p.name for p in res.outputs] == ["features.csv", "features.json"]
    rows = _read_csv(res.outputs[0])
    assert [r["id"] for r in rows] == ["phantom", "phantom_label1", "no_mask", "absent_label"]
    assert list(rows[0])[:5] == ["id", "image", "mask", "label", "error"]
    ok = {r["id"]: r for r in rows if not r["error"]}
    assert set(ok) == {"phantom", "phantom_label1"}
    for r in ok.values():  # IBSI-1 digital phantom reference values
        assert float(r["morph_volume"]) == pytest.approx(556, abs=4)
        assert float(r["stat_mean"]) == pytest.approx(2.15, abs=0.005)
        assert float(r["cm_joint_max_3D_avg"]) == pytest.approx(0.503, abs=5e-4)
    bad = {r["id"]: r for r in rows if r["error"]}
    assert "missing.nii.gz" in bad["no_mask"]["error"] and bad["no_mask"]["morph_volume"] == ""
    assert "empty" in bad["absent_label"]["error"]
    assert res.n_ok == 2 and [i for i, _ in res.errors] == ["no_mask", "absent_label"]
    meta = json.loads(res.outputs[1].read_text())
    assert meta["settings"]["discretisation"] == "none"
    assert meta["settings"]["families"] == ["morph", "stat", "ih", "cm"]
    assert meta["manifest"] == str(manifest)


def test_manifest_to_parquet_with_schema_metadata(tmp_path):
    out = tmp_path / "features.parquet"
    res = run_manifest(_manifest(tmp_path), out, "ibsi-phantom")
    assert res.outputs == [out]
    table = pq.read_table(out)
    meta = json.loads(table.schema.metadata[METADATA_KEY.encode()])
    assert meta["settings"]["name"] == "ibsi-phantom"
    assert "arXiv:1612.07003" in meta["citation"]
    cols = table.to_pydict()
    assert cols["id"] == ["phantom", "phantom_label1", "no_mask", "absent_label"]
    assert table.schema.field("morph_volume").type == "double"
    assert cols["morph_volume"][0] == pytest.approx(556, abs=4)
    assert cols["error"][0] == "" and cols["error"][2] != ""
    assert cols["szm_sze_3D"][1] == pytest.approx(0.255, abs=5e-4)  # IBSI reference


def test_dicom_pet_with_rtstruct_roi_by_name_in_suv(tmp_path):
    manifest = tmp_path / "m.csv"
    manifest.write_text(
        "id,image,mask,label\n"
        f"STS_001,{STS / 'pet_dicom'},{STS / 'rtstruct' / '1-1.dcm'},GTV_Mass\n"
        f"STS_001_bad,{STS / 'pet_dicom'},{STS / 'rtstruct' / '1-1.dcm'},Liver\n"
    )
    settings = preset("pet-default").replace(families=("stat",))
    res = run_manifest(manifest, tmp_path / "f.csv", settings, units="bw")
    rows = _read_csv(res.outputs[0])
    assert 7.9 <= float(rows[0]["stat_max"]) <= 8.0  # SUVbw max of the GTV (MIRP's range)
    assert "Liver" in rows[1]["error"]


def test_manifest_errors_name_what_to_fix(tmp_path):
    bad = tmp_path / "m.csv"
    bad.write_text("id,img,mask\na,x.nii,y.nii\n")
    with pytest.raises(NenscopeError, match="image"):
        read_manifest(bad)
    bad.write_text("id,image,mask\na,x.nii,y.nii\na,x.nii,z.nii\n")
    with pytest.raises(NenscopeError, match="twice"):
        read_manifest(bad)
    bad.write_text("id,image,mask\n")
    with pytest.raises(NenscopeError, match="no rows"):
        read_manifest(bad)
    good = tmp_path / "sub" / "m.csv"
    good.parent.mkdir()
    good.write_text("id,image,mask\na,img.nii.gz,msk.nii.gz\n")
    (entry,) = read_manifest(good)
    assert entry.image == good.parent / "img.nii.gz" and entry.label == ""
    with pytest.raises(NenscopeError, match=r"\.csv or \.parquet"):
        run_manifest(good, tmp_path / "f.xlsx")
    with pytest.raises(NenscopeError, match="units"):
        run_manifest(good, tmp_path / "f.csv", units="suv")


def test_cli_batch_writes_the_table_and_exits_2_only_when_every_pair_fails(tmp_path, capsys):
    manifest = _manifest(tmp_path)
    out = tmp_path / "t.parquet"
    code = main(
        [
            "radiomics",
            "batch",
            str(manifest),
            "--out",
            str(out),
            "--preset",
            "ibsi-phantom",
            "--json",
        ]
    )
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["rows"] == 4 and summary["failed"] == 2 and summary["outputs"] == [str(out)]
    assert pq.read_table(out).num_rows == 4
    all_bad = tmp_path / "bad.csv"
    all_bad.write_text("id,image,mask\nx,nothing.nii.gz,nothing.nii.gz\n")
    code = main(["radiomics", "batch", str(all_bad), "--out", str(tmp_path / "b.csv")])
    assert code == 2 and "no pair gave features" in capsys.readouterr().err
    assert (tmp_path / "b.csv").is_file() and (tmp_path / "b.json").is_file()
