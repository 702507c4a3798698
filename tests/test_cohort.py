"""The cohort on Dask: two simulated studies and a corrupt one, on a LocalCluster and on a
scheduler and worker started separately (``dask scheduler`` + ``dask worker``).

Done when: 2 done, 1 recorded failed with its error; a re-run does nothing new; the stored
findings are the study folders' findings.json; the summary tables hold every lesion."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pyarrow.parquet as pq
import pytest

from conftest import cached_simulation
from nenscope.cli import main
from nenscope.cohort import CohortStore, run_cohort, summarize
from nenscope.simulation.output import write_study
from nenscope.simulation.study import SimulationConfig

pytestmark = [pytest.mark.xdist_group("cohort"), pytest.mark.slow]


class Recorder:
    def __init__(self):
        self.started, self.outcomes = None, []

    def start(self, total, skipped, workers):
        self.started = (total, skipped, workers)

    def advance(self, outcome):
        self.outcomes.append(outcome)


@pytest.fixture(scope="module")
def manifest(tmp_path_factory):
    """s11 and s12 (simulated 68Ga-DOTATATE, 8 mm) and 'broken': s11's files cut in half."""
    root = tmp_path_factory.mktemp("cohort")
    for seed in (11, 12):
        sim = cached_simulation(
            SimulationConfig(tracer="68Ga-DOTATATE", seed=seed, n_lesions=3, voxel_mm=8.0)
        )
        write_study(sim, root / f"s{seed}")
    for src in (root / "s11").rglob("*.dcm"):
        dest = root / "broken" / src.relative_to(root / "s11")
        dest.parent.mkdir(parents=True, exist_ok=True)
        data = src.read_bytes()
        dest.write_bytes(data[: len(data) // 2])
    path = root / "manifest.csv"
    path.write_text(
        "study_id,path,tracer\n"
        "s11,s11,68Ga-DOTATATE\n"
        f"s12,{root / 's12'},\n"
        "broken,broken,68Ga-DOTATATE\n"
    )
    return path


@pytest.fixture(scope="module")
def local_run(manifest):
    out = manifest.parent / "local"
    progress = Recorder()
    run = run_cohort(manifest, out_dir=out, workers=2, progress=progress)
    return out, run, progress


def test_two_done_one_failed_with_its_error(local_run):
    out, run, progress = local_run
    assert sorted(run.done) == ["s11", "s12"]
    assert list(run.failed) == ["broken"]
    assert "no PET or reconstructed SPECT series" in run.failed["broken"]
    assert progress.started == (3, 0, 2) and len(progress.outcomes) == 3
    with CohortStore(run.db) as store:
        rows = {r["study_id"]: r for r in store.studies()}
    assert {k: r["status"] for k, r in rows.items()} == {
        "s11": "done",
        "s12": "done",
        "broken": "failed",
    }
    assert rows["broken"]["error"] == run.failed["broken"]
    assert "Traceback" in rows["broken"]["traceback"]
    for study_id in ("s11", "s12"):
        stored = json.loads(rows[study_id]["findings_json"])
        assert stored == json.loads((out / study_id / "findings.json").read_text())
        assert (out / study_id / "report.html").is_file()
    assert json.loads(rows["s12"]["findings_json"])["study"]["agent"] == "68Ga-DOTATATE"


def test_rerun_does_nothing_new(local_run, manifest):
    out, run, _ = local_run
    with CohortStore(run.db) as store:
        before = store.studies()
    progress = Recorder()
    again = run_cohort(manifest, out_dir=out, workers=2, progress=progress)
    assert (again.done, again.failed, again.workers) == ([], {}, 0)
    assert sorted(again.skipped) == ["broken", "s11", "s12"]
    assert progress.started == (0, 3, 0) and progress.outcomes == []
    with CohortStore(run.db) as store:
        assert store.studies() == before


def test_summary_has_every_lesion(local_run, tmp_path):
    out, run, _ = local_run
    result = summarize(run.db, tmp_path)
    lesions = pq.read_table(result.files["lesions_parquet"]).to_pylist()
    for study_id in ("s11", "s12"):
        findings = json.loads((out / study_id / "findings.json").read_text())
        mine = [r for r in lesions if r["study_id"] == study_id]
        assert [r["suv_max"] for r in mine] == [les["suv_max"] for les in findings["lesions"]]
        assert [r["krenning"] for r in mine] == [les["krenning"] for les in findings["lesions"]]
    studies = pq.read_table(result.files["studies_parquet"]).to_pylist()
    assert [s["status"] for s in studies] == ["failed", "done", "done"]  # broken, s11, s12


@pytest.fixture(scope="module")
def scheduler(tmp_path_factory):
    """``dask scheduler`` and one ``dask worker`` as separate processes on 127.0.0.1."""
    folder = tmp_path_factory.mktemp("dask")
    address_file = folder / "scheduler.json"
    py = [sys.executable, "-m"]
    procs = [
        subprocess.Popen(
            [*py, "distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", "0",
             "--dashboard-address", "127.0.0.1:0",
             "--no-dashboard", "--scheduler-file", str(address_file)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
    ]  # fmt: skip
    try:
        end = time.monotonic() + 60
        while not address_file.exists() and time.monotonic() < end:
            time.sleep(0.2)
        address = json.loads(address_file.read_text())["address"]
        procs.append(
            subprocess.Popen(
                [*py, "distributed.cli.dask_worker", address, "--nthreads", "1",
                 "--nworkers", "1", "--no-dashboard"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )
        )  # fmt: skip
        yield address
    finally:
        for proc in reversed(procs):  # the worker first; no graceful close needed
            proc.kill()
            proc.wait(timeout=30)


def test_existing_scheduler_with_radiomics_and_retry(manifest, scheduler, tmp_path, capsys):
    """s11 and the broken study (one good study is enough here: the worker runs them in turn)."""
    lines = manifest.read_text().splitlines()
    manifest = manifest.parent / "manifest_scheduler.csv"
    manifest.write_text("\n".join(line for line in lines if not line.startswith("s12,")))
    out = tmp_path / "out"
    run = run_cohort(manifest, out_dir=out, scheduler=scheduler, radiomics="pet-default")
    assert run.done == ["s11"] and list(run.failed) == ["broken"]
    assert run.workers == 1
    summary = summarize(run.db, tmp_path / "summary", radiomics=True)
    lesions = pq.read_table(summary.files["lesions_parquet"]).to_pylist()
    radiomics = (out / "s11" / "radiomics.csv").read_text().splitlines()
    lesion, tag, value = radiomics[1].split(",")
    row = next(r for r in lesions if r["study_id"] == "s11" and r["id"] == int(lesion))
    assert row[tag] == pytest.approx(float(value))
    # the CLI on the same cluster: only the failed study is tried again, and fails again
    db = f"sqlite:///{run.db}"
    args = ["cohort", "run", str(manifest), "--scheduler", scheduler, "--out", str(out), "--db", db]
    assert main([*args, "--retry-failed"]) == 0
    captured = capsys.readouterr()
    assert "failed broken: no PET or reconstructed SPECT series" in captured.err
    assert "0 done, 1 failed, 1 skipped" in captured.out
    assert main(args) == 0
    assert "0 done, 0 failed, 2 skipped" in capsys.readouterr().out


def _itk_threads() -> int:
    import SimpleITK as sitk

    return sitk.ProcessObject.GetGlobalDefaultNumberOfThreads()


def test_local_workers_run_itk_on_one_thread(monkeypatch):
    """A local worker is one core: ITK must not start a thread per CPU in each worker."""
    from nenscope.cohort.runner import dask_client

    # the runner's own setting, not the one-thread environment of make test's workers
    monkeypatch.delenv("ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS", raising=False)
    with dask_client(2, None) as client:
        client.wait_for_workers(2, timeout=30)
        assert list(client.run(_itk_threads).values()) == [1, 1]
