"""Result sets are atomic (issue 16): a command's output folder appears complete or not at all;
an earlier set is replaced as a whole or kept (``--keep``), never mixed; SIGINT and SIGTERM
leave the previous complete set or none, with exit code 130 / 143; ``--out`` under a regular
file is a clear error."""

from __future__ import annotations

import os
import signal

import pytest

from nenscope.atomic import RESULT_MARKER, result_folder
from nenscope.cli import main
from nenscope.errors import NenscopeError

pytestmark = pytest.mark.xdist_group("result_sets")


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    from conftest import cached_simulation
    from nenscope.simulation.output import write_study
    from nenscope.simulation.study import SimulationConfig

    root = tmp_path_factory.mktemp("sim")
    cfg = SimulationConfig(tracer="68Ga-DOTATATE", seed=11, n_lesions=3, voxel_mm=8.0)
    write_study(cached_simulation(cfg), root)
    return root


def _snapshot(folder):
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _leftovers(parent, name):
    return [p.name for p in parent.iterdir() if p.name.startswith(f".{name}.")]


def _interrupting(sig, real):
    """``real`` (the report writer) after sending ``sig`` to this process: the signal arrives
    while the result set is being written."""

    def write(*args, **kwargs):
        os.kill(os.getpid(), sig)
        return real(*args, **kwargs)

    return write


def test_interrupts_leave_the_previous_set_or_none(study, tmp_path, monkeypatch, capsys):
    import nenscope.jobs.analyze as job

    out = tmp_path / "out"
    assert main(["analyze", str(study), "--out", str(out)]) == 0
    complete = _snapshot(out)
    assert {"findings.json", "report.html", "lesions.seg.dcm", RESULT_MARKER} <= {
        str(p) for p in complete
    }
    monkeypatch.setattr(job, "write_report", _interrupting(signal.SIGINT, job.write_report))
    assert main(["analyze", str(study), "--out", str(out)]) == 130
    assert _snapshot(out) == complete  # the previous complete set, untouched
    monkeypatch.setattr(job, "write_report", _interrupting(signal.SIGTERM, job.write_report))
    fresh = tmp_path / "fresh"
    assert main(["analyze", str(study), "--out", str(fresh)]) == 143
    assert not fresh.exists()  # none at all
    assert _leftovers(tmp_path, "out") == [] and _leftovers(tmp_path, "fresh") == []
    err = capsys.readouterr().err
    assert "interrupted (SIGINT)" in err and "interrupted (SIGTERM)" in err


def test_early_error_leaves_no_folder_and_rerun_replaces_the_whole_set(study, tmp_path, capsys):
    out = tmp_path / "out"
    # an early error (an override that cannot be read): no folder at all
    code = main(["analyze", str(study), "--injection-time", "soon", "--out", str(out)])
    assert code == 2 and not out.exists()
    # an earlier set holding a file this run does not write: replaced as a whole
    with result_folder(out) as tmp:
        (tmp / "radiomics.csv").write_text("stale")
        (tmp / "lesions.seg.dcm").write_text("another patient's SEG")
    assert main(["analyze", str(study), "--out", str(out)]) == 0
    assert not (out / "radiomics.csv").exists()
    assert (out / "lesions.seg.dcm").read_bytes()[128:132] == b"DICM"
    before = _snapshot(out)
    assert main(["analyze", str(study), "--out", str(out), "--keep"]) == 2
    assert "--keep" in capsys.readouterr().err and _snapshot(out) == before


def test_a_folder_that_is_not_a_result_set_is_never_replaced(tmp_path):
    precious = tmp_path / "data"
    precious.mkdir()
    (precious / "notes.txt").write_text("mine")
    with pytest.raises(NenscopeError, match="does not hold a nenscope result set"):
        with result_folder(precious):
            pass
    assert (precious / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize(
    "argv",
    [
        ["analyze", "{study}", "--out", "{file}/out"],
        ["analyze", "{study}", "--out", "{file}"],
        ["dosimetry", "--tac-csv", "{tac}", "--out", "{file}/out"],
        ["radiomics", "extract", "{img}", "{img}", "--out", "{file}/features.csv"],
        ["convert", "{study}", "--out", "{file}/nifti"],
    ],
)
def test_out_under_a_regular_file_is_a_clear_error(study, tmp_path, capsys, argv):
    import nibabel as nib
    import numpy as np

    blocker = tmp_path / "file"
    blocker.write_text("a regular file")
    tac = tmp_path / "tac.csv"
    tac.write_text("region,time_h,activity_mbq,mass_g\nliver,24,100,1500\nliver,72,60,1500\n")
    img = tmp_path / "img.nii.gz"
    nib.save(nib.Nifti1Image(np.ones((4, 4, 4), np.uint8), np.eye(4)), img)
    fill = {"{study}": str(study), "{file}": str(blocker), "{tac}": str(tac), "{img}": str(img)}
    args = []
    for a in argv:
        for k, v in fill.items():
            a = a.replace(k, v)
        args.append(a)
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("error:") == 1 and "file" in err and "Traceback" not in err
    assert blocker.read_text() == "a regular file"
