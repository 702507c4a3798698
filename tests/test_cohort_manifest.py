"""Cohort pieces without a cluster: the manifest, the store, one study's task, the summary
tables and plots on hand-made results."""

from __future__ import annotations

import json
import socket

import pyarrow.parquet as pq
import pytest

from nenscope.cli import main
from nenscope.cohort import CohortEntry, CohortStore, StudyOutcome, read_manifest, run_study
from nenscope.cohort import runner as runner_module
from nenscope.cohort.runner import run_cohort
from nenscope.cohort.store import sqlite_path
from nenscope.cohort.summary import summarize
from nenscope.errors import NenscopeError


def _write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def test_manifest_resolves_paths_and_keeps_pacs_addresses(tmp_path):
    (tmp_path / "sub").mkdir()
    manifest = _write(
        tmp_path / "sub" / "m.csv",
        "\ufeffstudy_id,path,tracer,fdg_path,prior_path,notes\n"
        "p1,data/p1,68Ga-DOTATATE,data/p1_fdg,,first\n"
        ",,,,,\n"
        "p2,pacs://127.0.0.1:8042/dicom-web/studies/1.2.3,,,/abs/prior,\n",
    )
    first, second = read_manifest(manifest)
    assert first == CohortEntry(
        "p1",
        str(tmp_path / "sub" / "data" / "p1"),
        "68Ga-DOTATATE",
        str(tmp_path / "sub" / "data" / "p1_fdg"),
        None,
    )
    assert second == CohortEntry(
        "p2", "pacs://127.0.0.1:8042/dicom-web/studies/1.2.3", None, None, "/abs/prior"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("study_id,path\np1,x\n", "missing column.*tracer"),
        ("study_id,path,tracer\np1,x,\np1,y,\n", "line 3: study_id 'p1' repeats"),
        ("study_id,path,tracer\n../p1,x,\n", "line 2: study_id '../p1' must be"),
        ("study_id,path,tracer\np1,,\n", "line 2: empty path for p1"),
        ("study_id,path,tracer\n", "lists no studies"),
    ],
)
def test_bad_manifests_name_the_line(tmp_path, text, message):
    with pytest.raises(NenscopeError, match=message):
        read_manifest(_write(tmp_path / "m.csv", text))


def test_missing_manifest(tmp_path):
    with pytest.raises(NenscopeError, match="does not exist"):
        read_manifest(tmp_path / "nope.csv")


def test_store_urls(tmp_path):
    assert sqlite_path(f"sqlite:///{tmp_path}/c.sqlite") == tmp_path / "c.sqlite"
    assert sqlite_path(tmp_path / "c.sqlite") == tmp_path / "c.sqlite"
    with pytest.raises(NenscopeError, match="SQLite file"):
        sqlite_path("postgresql://db/nenscope")
    _write(tmp_path / "junk.sqlite", "not a database at all" * 100)
    with pytest.raises(NenscopeError, match="is not a cohort store"):
        CohortStore(tmp_path / "junk.sqlite")


def _findings(study_id: str, lesions: list[dict], netpet=None) -> str:
    return json.dumps(
        {
            "study": {"agent": "68Ga-DOTATATE", "modality": "PT", "injected_activity_mbq": 150.0},
            "reference": {"liver_suv_mean": 6.0, "spleen_suv_mean": 20.0},
            "summary": {
                "n_lesions": len(lesions),
                "sstr_tv_ml": sum(les["volume_ml"] for les in lesions),
                "krenning_max": max((les["krenning"] for les in lesions), default=None),
                "netpet": netpet,
            },
            "lesions": lesions,
        }
    )


def _lesion(i, site, krenning, volume_ml, suv_max):
    return {
        "id": i,
        "site": site,
        "center_mm": [1.0 * i, 2.0, 3.0],
        "volume_ml": volume_ml,
        "suv_max": suv_max,
        "krenning": krenning,
        "sstr_rads": "4",
        "fdg_suv_max": None,
    }


@pytest.fixture
def store(tmp_path):
    a = [_lesion(1, "liver", 4, 2.5, 30.0), _lesion(2, "bone", 3, 1, 12.5)]
    b = [_lesion(1, "liver", 2, 0.5, 7.0)]
    radiomics = "lesion,tag,value\n1,morph_volume,2500.0\n1,stat_mean,20.5\n2,morph_volume,1000\n"
    with CohortStore(tmp_path / "c.sqlite") as db:
        db.record(
            CohortEntry("a", "/a", "68Ga-DOTATATE"),
            StudyOutcome("a", "done", "/o/a", 3.0, _findings("a", a, "P1"), radiomics),
        )
        db.record(
            CohortEntry("b", "/b", None, prior_path="/b0"),
            StudyOutcome("b", "done", "/o/b", 2.0, _findings("b", b)),
        )
        db.record(
            CohortEntry("c", "/c", None),
            StudyOutcome("c", "failed", "/o/c", 0.1, error="no PET series", traceback="T"),
        )
        assert db.finished() == {"a", "b", "c"}
        assert db.finished(include_failed=False) == {"a", "b"}
    return tmp_path / "c.sqlite"


def test_summary_tables(store, tmp_path):
    result = summarize(store, tmp_path / "s", radiomics=True)
    assert (result.n_studies, result.n_done, result.n_lesions) == (3, 2, 3)
    studies = pq.read_table(result.files["studies_parquet"]).to_pylist()
    assert [(s["study_id"], s["status"], s["n_lesions"]) for s in studies] == [
        ("a", "done", 2),
        ("b", "done", 1),
        ("c", "failed", None),
    ]
    assert studies[0]["sstr_tv_ml"] == 3.5 and studies[0]["netpet"] == "P1"
    assert studies[1]["prior_path"] == "/b0" and studies[2]["error"] == "no PET series"
    lesions = pq.read_table(result.files["lesions_parquet"]).to_pylist()
    assert [(r["study_id"], r["id"], r["site"]) for r in lesions] == [
        ("a", 1, "liver"),
        ("a", 2, "bone"),
        ("b", 1, "liver"),
    ]
    assert lesions[1]["volume_ml"] == 1.0  # ints among floats become floats
    assert (lesions[0]["center_x_mm"], lesions[0]["center_y_mm"]) == (1.0, 2.0)
    assert lesions[0]["morph_volume"] == 2500.0 and lesions[0]["stat_mean"] == 20.5
    assert lesions[1]["morph_volume"] == 1000.0 and lesions[1]["stat_mean"] is None
    assert lesions[2]["morph_volume"] is None  # study b has no radiomics
    csv_lines = result.files["lesions_csv"].read_text().splitlines()
    assert len(csv_lines) == 4 and csv_lines[0].startswith('"study_id","id"')
    for name in ("krenning_png", "sstr_tv_png", "netpet_png", "sites_png"):
        assert result.files[name].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_summary_without_radiomics_and_errors(store, tmp_path):
    result = summarize(store, tmp_path / "s")
    assert "morph_volume" not in pq.read_table(result.files["lesions_parquet"]).column_names
    with pytest.raises(NenscopeError, match="no cohort store at"):
        summarize(tmp_path / "none.sqlite", tmp_path / "e")
    CohortStore(tmp_path / "empty.sqlite").close()
    with pytest.raises(NenscopeError, match="holds no study"):
        summarize(tmp_path / "empty.sqlite", tmp_path / "e")


def test_cli_summary(store, tmp_path, capsys):
    assert (
        main(["cohort", "summary", "--db", f"sqlite:///{store}", "--out", str(tmp_path / "s")]) == 0
    )
    assert "3 studies (2 done), 3 lesions" in capsys.readouterr().out
    assert main(["cohort", "summary", "--db", str(tmp_path / "none.sqlite"), "--radiomics"]) == 2


def test_a_missing_study_is_a_failed_outcome_not_an_exception(tmp_path):
    outcome = run_study(CohortEntry("x", str(tmp_path / "gone"), None), tmp_path / "out")
    assert outcome.status == "failed" and outcome.error == f"{tmp_path / 'gone'} does not exist"
    assert "NenscopeError" in outcome.traceback and outcome.findings_json is None


def test_runner_option_errors(tmp_path):
    manifest = _write(tmp_path / "m.csv", "study_id,path,tracer\np1,x,\n")
    with pytest.raises(NenscopeError, match="leave it out with --scheduler"):
        run_cohort(manifest, out_dir=tmp_path, workers=2, scheduler="tcp://127.0.0.1:1")
    with pytest.raises(NenscopeError, match="at least 1"):
        run_cohort(manifest, out_dir=tmp_path, workers=0)


def test_unreachable_scheduler_is_named(tmp_path, monkeypatch):
    monkeypatch.setattr(runner_module, "SCHEDULER_TIMEOUT_S", 1.0)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    manifest = _write(tmp_path / "m.csv", "study_id,path,tracer\np1,x,\n")
    with pytest.raises(
        NenscopeError, match=f"cannot reach the Dask scheduler at tcp://127.0.0.1:{port}"
    ):
        run_cohort(manifest, out_dir=tmp_path, scheduler=f"tcp://127.0.0.1:{port}")
