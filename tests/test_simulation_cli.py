"""``nenscope simulate``: options, outputs, errors."""

from __future__ import annotations

import json

import pytest
import typer.main

from nenscope.cli import app, main

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def test_help_documents_every_option_with_its_unit(capsys):
    assert main(["simulate", "--help"]) == 0
    text = capsys.readouterr().out
    for option in (
        "--tracer",
        "--out",
        "--seed",
        "--lesions",
        "--phantom",
        "--scanner",
        "--minutes-per-bed",
        "--injected-mbq",
        "--timepoints-h",
        "--tumour-type",
        "--voxel-mm",
        "--weight-kg",
        "--height-cm",
    ):
        assert option in text, option
    command = typer.main.get_command(app).commands["simulate"]
    helps = {p.opts[0]: p.help for p in command.params}
    assert all(helps.values()), helps
    units = {
        "--minutes-per-bed": "in minutes",
        "--injected-mbq": "in MBq",
        "--timepoints-h": "in hours",
        "--voxel-mm": "in mm",
        "--weight-kg": "in kg",
        "--height-cm": "in cm",
    }
    for option, unit in units.items():
        assert unit in helps[option], option


def test_simulate_writes_dicom_and_truth(tmp_path, capsys):
    out = tmp_path / "study"
    code = main(
        [
            "simulate",
            "--tracer",
            "68Ga-exendin-4",
            "--out",
            str(out),
            "--seed",
            "5",
            "--lesions",
            "2",
            "--tumour-type",
            "insulinoma",
            "--voxel-mm",
            "8",
            "--minutes-per-bed",
            "3",
            "--json",
        ]
    )
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["modality"] == "PT" and summary["radionuclide"] == "Ga-68"
    manifest = json.loads((out / "truth" / "manifest.json").read_text())
    first = manifest["lesions"][0]
    for key in (
        "id",
        "site",
        "center_mm",
        "diameter_mm",
        "true_suv_mean",
        "krenning_true",
        "sstr_expression",
        "fdg_avidity",
    ):
        assert key in first
    # insulinoma: GLP-1R-high primary in the pancreas, bright on exendin PET (above the pancreas)
    assert first["site"] == "pancreas" and first["glp1r_expression"] == "high"
    assert first["true_suv_mean"] > 5 * manifest["organs"]["pancreas"]["true_suv_mean"]
    assert (out / "truth" / "organs.nii.gz").exists() and (
        out / "truth" / "lesions.nii.gz"
    ).exists()
    assert len(list((out / "pet").glob("*.dcm"))) == len(list((out / "ct").glob("*.dcm"))) > 50


def test_nema_phantom_from_the_cli(tmp_path, capsys):
    out = tmp_path / "nema"
    assert (
        main(
            [
                "simulate",
                "--tracer",
                "18F-FDG",
                "--phantom",
                "nema-iec",
                "--out",
                str(out),
                "--voxel-mm",
                "8",
                "--minutes-per-bed",
                "5",
                "--json",
            ]
        )
        == 0
    )
    manifest = json.loads((out / "truth" / "manifest.json").read_text())
    assert [s["inner_diameter_mm"] for s in manifest["nema_iec"]["spheres"]] == [
        37,
        28,
        22,
        17,
        13,
        10,
    ]
    assert manifest["nema_iec"]["sphere_bqml"] == 10 * manifest["nema_iec"]["background_bqml"]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--tracer", "99Tc-nonsense"], "unknown agent"),
        (["--tracer", "177Lu-DOTATATE", "--scanner", "pet"], "emits no positrons"),
        (["--tracer", "68Ga-DOTATATE", "--phantom", "mouse"], "phantom must be"),
        (["--tracer", "68Ga-DOTATATE", "--tumour-type", "G7"], "unknown tumour type"),
    ],
)
def test_user_errors_exit_2(tmp_path, capsys, argv, message):
    code = main(["simulate", "--out", str(tmp_path / "x"), "--voxel-mm", "8", *argv])
    assert code == 2
    assert message in capsys.readouterr().err
