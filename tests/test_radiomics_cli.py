"""``nenscope radiomics`` (default extract form and ``fit``) and the cross-validated classifier."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from nenscope.cli import main
from nenscope.errors import NenscopeError
from nenscope.radiomics.classify import fit_classifier

PH = Path(__file__).parent / "data" / "ibsi1" / "digital_phantom"


def _read(path: Path) -> dict[str, float]:
    with path.open() as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["tag", "value"]
    return {r[0]: float(r[1]) for r in rows[1:] if r[1]}


def test_default_form_writes_tag_value_rows(tmp_path):
    out = tmp_path / "f.csv"
    code = main(
        [
            "radiomics",
            str(PH / "phantom.nii.gz"),
            str(PH / "mask.nii.gz"),
            "--preset",
            "ibsi-phantom",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    feats = _read(out)
    assert feats["morph_volume"] == pytest.approx(556, abs=4)
    assert feats["cm_joint_max_3D_comb"] == pytest.approx(0.509, abs=5e-4)
    assert feats["ngl_hde_3D"] == pytest.approx(109, abs=0.5)


def test_explicit_extract_with_settings_file_and_json(tmp_path, capsys):
    s = tmp_path / "s.yaml"
    s.write_text("discretisation: none\nivh_discretisation: none\nfamilies: [stat, ih]\n")
    code = main(
        [
            "radiomics",
            "extract",
            str(PH / "phantom.nii.gz"),
            str(PH / "mask.nii.gz"),
            "--settings",
            str(s),
            "--json",
        ]
    )
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    assert data["stat_mean"] == pytest.approx(2.15, abs=5e-3)
    assert data["ih_max_grad"] == pytest.approx(8.0)
    assert not any(k.startswith("cm_") for k in data)


def test_bad_inputs_exit_2(tmp_path, capsys):
    assert main(["radiomics", str(PH / "phantom.nii.gz"), str(tmp_path / "none.nii.gz")]) == 2
    assert "error:" in capsys.readouterr().err
    assert (
        main(["radiomics", str(PH / "phantom.nii.gz"), str(PH / "mask.nii.gz"), "--preset", "nope"])
        == 2
    )
    assert (
        main(["radiomics", str(PH / "phantom.nii.gz"), str(PH / "mask.nii.gz"), "--label", "7"])
        == 2
    )


def _cohort(n: int, informative: bool, seed: int):
    rng = np.random.default_rng(seed)
    y = np.array([0, 1] * (n // 2))
    x = rng.normal(size=(n, 6))
    if informative:
        x[:, 0] += 2.0 * y  # known effect: Cohen's d = 2 → population AUC Φ(2/√2) = 0.921
    return (
        [f"p{i}" for i in range(n)],
        [f"f{j}" for j in range(6)],
        x,
        {f"p{i}": str(v) for i, v in enumerate(y)},
    )


def test_fit_recovers_known_separation_and_not_noise():
    ids, names, x, labels = _cohort(80, True, 1)
    res = fit_classifier(ids, names, x, labels, repeats=3, n_bootstrap=300)
    assert res.auc_ci_low < 0.921 < res.auc_ci_high or res.auc > 0.85
    assert res.auc > 0.8 and res.top_features[0][0] == "f0"
    ids, names, x, labels = _cohort(80, False, 2)
    res = fit_classifier(ids, names, x, labels, repeats=3, n_bootstrap=300)
    assert res.auc_ci_low < 0.5 < res.auc_ci_high


def test_fit_cli_and_errors(tmp_path, capsys):
    ids, names, x, labels = _cohort(40, True, 3)
    f = tmp_path / "features.csv"
    with f.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", *names])
        for i, row in zip(ids, x, strict=True):
            w.writerow([i, *row])
    lab = tmp_path / "labels.csv"
    lab.write_text(
        "id,grade\n" + "".join(f"{i},{'G2' if labels[i] == '1' else 'G1'}\n" for i in ids)
    )
    assert main(["radiomics", "fit", str(f), str(lab), "--repeats", "2", "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["positive_label"] == "G2" and res["n_samples"] == 40 and res["auc"] > 0.75
    lab.write_text("id,grade\n" + "".join(f"{i},G1\n" for i in ids))
    assert main(["radiomics", "fit", str(f), str(lab)]) == 2
    with pytest.raises(NenscopeError):
        fit_classifier(ids[:3], names, x[:3], labels)


def test_lesion_table_feeds_fit(tmp_path):
    from nenscope.radiomics import lesion_features, preset, write_feature_table
    from nenscope.radiomics.classify import read_feature_table

    rng = np.random.default_rng(0)
    img = rng.normal(1.0, 0.1, (10, 40, 40))
    labels = np.zeros(img.shape, np.int16)
    labels[2:6, 5:12, 5:12] = 1
    labels[3:8, 20:30, 20:30] = 2
    img[labels == 2] += 3.0
    rows = lesion_features(
        (img, (2.0, 2.0, 2.0)), labels, preset("pet-default").replace(families=("stat", "morph"))
    )
    out = tmp_path / "radiomics.csv"
    write_feature_table(rows, out)
    ids, names, x = read_feature_table(out)
    assert ids == ["1", "2"] and "stat_mean" in names
    col = names.index("morph_vol_approx")
    assert x[:, col].tolist() == [4 * 7 * 7 * 8.0, 5 * 10 * 10 * 8.0]
    assert x[1, names.index("stat_mean")] == pytest.approx(4.0, abs=0.05)


def test_settings_by_yaml_path_and_long_tables(tmp_path):
    from nenscope.radiomics import extract_features
    from nenscope.radiomics.classify import read_feature_table

    y = tmp_path / "s.yaml"
    y.write_text("discretisation: fbn\nbin_number: 8\nfamilies: [stat, ih]\n")
    img = np.arange(64, dtype=float).reshape(4, 4, 4)
    f = extract_features(img, img > 10, (1, 1, 1), str(y))
    assert f["ih_max"] == 8 and "cm_contrast_3D_avg" not in f
    long = tmp_path / "radiomics.csv"
    long.write_text(
        "lesion,tag,value\n1,stat_mean,2.5\n1,stat_max,4\n2,stat_mean,3.5\n2,stat_max,7\n"
    )
    ids, names, x = read_feature_table(long)
    assert ids == ["1", "2"] and names == ["stat_mean", "stat_max"]
    assert x.tolist() == [[2.5, 4.0], [3.5, 7.0]]
