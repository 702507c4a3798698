"""``nenscope compare`` end to end: two simulated DICOM studies of one virtual patient."""

from __future__ import annotations

import json

import pytest

from nenscope.cli import main
from nenscope.simulation import write_study
from nenscope.simulation.followup import FollowupConfig, simulate_followup
from nenscope.simulation.study import SimulationConfig

LESION_KEYS = {
    "status",
    "current_id",
    "prior_id",
    "center_mm",
    "suv_max_prior",
    "suv_max_current",
    "volume_ml_prior",
    "volume_ml_current",
    "volume_change_pct",
}
PATIENT_KEYS = {"sstr_tv_ml_prior", "sstr_tv_ml_current", "sstr_tv_change_pct", "n_new", "response"}
# the tests of the one comparison run on one worker (make test: --dist loadgroup), which
# simulates and compares the pair once for them
on_the_run = pytest.mark.xdist_group("followup_cli_run")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """Prior and follow-up on disk (4 mm voxels, 480 mm field), compared once by the command."""
    pair = simulate_followup(
        SimulationConfig(seed=11, n_lesions=4, tumour_type="G1", n_pixels=120),
        FollowupConfig(
            seed=2,
            p_disappear=0.0,
            p_shrink=0.0,
            p_grow=0.5,
            n_new=1,
            new_sites=("liver",),
            shift_mm=(5.0, -5.0, 12.0),
            rotation_deg=(0.0, 0.0, 2.0),
            breathing_mm=8.0,
        ),
    )
    root = tmp_path_factory.mktemp("followup")
    write_study(pair.prior, root / "prior")
    write_study(pair.current, root / "current")
    out = root / "out"
    code = main(["compare", str(root / "current"), str(root / "prior"), "--out", str(out)])
    return root, out, pair, code


@pytest.mark.slow
@on_the_run
def test_compare_writes_comparison_json_as_the_issue_specifies(run):
    root, out, pair, code = run
    assert code == 0
    data = json.loads((out / "comparison.json").read_text("utf-8"))
    assert data["lesions"] and all(LESION_KEYS <= set(e) for e in data["lesions"])
    assert PATIENT_KEYS <= set(data["patient"])
    assert set(data["patient"]["response"]) == {"sstr_volume", "sstr_uptake", "recist11"}
    assert data["patient"]["response"]["recist11"] is None  # no diagnostic CT declared
    assert data["registration"]["method"] == "rigid (CT)"
    for name in ("report.html", "current/findings.json", "prior/report.html"):
        assert (out / name).is_file(), name
    # the truth: every prior lesion grows or stays, one new liver lesion
    statuses = [e["status"] for e in data["lesions"]]
    assert statuses.count("new") == data["patient"]["n_new"] == 1
    assert "disappeared" not in statuses
    assert data["patient"]["response"]["sstr_volume"] == "PD"
    new = next(e for e in data["lesions"] if e["status"] == "new")
    truth_new = next(e for e in pair.truth["lesions"] if e["status"] == "new")["current"][0]
    dist = (
        sum((a - b) ** 2 for a, b in zip(new["center_mm"], truth_new["center_mm"], strict=True))
        ** 0.5
    )
    assert dist < 8.0


@pytest.mark.slow
@on_the_run
def test_an_analysis_folder_needs_its_study(run, capsys):
    root, out, _, _ = run
    code = main(["compare", str(out / "current"), str(root / "prior"), "--out", str(root / "o2")])
    assert code == 2
    assert "records no study path" in capsys.readouterr().err


@pytest.mark.slow
@on_the_run
def test_an_analysis_folder_naming_its_study_is_reused(run):
    root, out, _, _ = run
    findings = json.loads((out / "prior" / "findings.json").read_text("utf-8"))
    findings["study"]["study_path"] = str(root / "prior")
    (out / "prior" / "findings.json").write_text(json.dumps(findings), "utf-8")
    out3 = root / "o3"
    code = main(["compare", str(root / "current"), str(out / "prior"), "--out", str(out3)])
    assert code == 0
    first = json.loads((out / "comparison.json").read_text("utf-8"))
    again = json.loads((out3 / "comparison.json").read_text("utf-8"))
    assert [e["status"] for e in again["lesions"]] == [e["status"] for e in first["lesions"]]
    assert not (out3 / "prior").exists()  # the prior analysis was not run again


def test_a_missing_study_is_a_clear_error(tmp_path, capsys):
    code = main(["compare", str(tmp_path / "nope"), str(tmp_path), "--out", str(tmp_path / "o")])
    assert code == 2
    assert "does not exist" in capsys.readouterr().err


@pytest.mark.slow
def test_an_fdg_pair_is_graded_by_percist_and_eortc(tmp_path):
    """G3 disease followed with FDG: every lesion grows, one is new -> PMD under both."""
    pair = simulate_followup(
        SimulationConfig(tracer="18F-FDG", seed=21, n_lesions=3, tumour_type="G3", n_pixels=120),
        FollowupConfig(
            seed=4,
            p_disappear=0.0,
            p_shrink=0.0,
            p_grow=1.0,
            n_new=1,
            new_sites=("liver",),
            shift_mm=(4.0, 6.0, -10.0),
        ),
    )
    write_study(pair.prior, tmp_path / "prior")
    write_study(pair.current, tmp_path / "current")
    out = tmp_path / "out"
    assert (
        main(["compare", str(tmp_path / "current"), str(tmp_path / "prior"), "--out", str(out)])
        == 0
    )
    data = json.loads((out / "comparison.json").read_text("utf-8"))
    details = {r["criterion"]: r for r in data["patient"]["response_details"]}
    assert set(details) == {"percist", "eortc", "recist11"}
    assert details["percist"]["category"] == "PMD" and details["eortc"]["category"] == "PMD"
    assert "SULpeak" in details["percist"]["reason"]
