"""The web service in process (Starlette's TestClient, real job threads, SQLite): tokens and
roles, uploads and what they may not do, the analysis job, the viewer's volumes, review with
recomputed scores, sign-off, re-analysis, protocol advice, the CLI, and logs without patient
names (every logger at DEBUG, SQL included)."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import logging
import stat
import zipfile
from pathlib import Path
from types import SimpleNamespace

import nibabel as nib
import numpy as np
import pytest
from fastapi.testclient import TestClient

from nenscope.analysis.scores import prrt_criterion, prrt_target, sstr_rads
from nenscope.cli import main
from nenscope.knowledge import advise
from nenscope.service import Settings, create_app
from nenscope.store.users import add_user
from service_support import (
    PATIENT_NAME,
    TOKEN,
    dicom_files,
    files_outside,
    simulate,
    study_zip,
    wait_for,
)

pytestmark = [pytest.mark.xdist_group("service"), pytest.mark.slow]


class _Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture(scope="module")
def logs():
    """Every log line of the module, at DEBUG (SQLAlchemy's statements included)."""
    handler = _Records()
    handler.setFormatter(logging.Formatter("%(name)s %(message)s"))
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield handler.lines
    root.removeHandler(handler)
    root.setLevel(level)


@pytest.fixture(scope="module")
def study_dir(tmp_path_factory):
    return simulate(tmp_path_factory.mktemp("sim") / "study")


@pytest.fixture(scope="module")
def svc(tmp_path_factory, logs):
    root = tmp_path_factory.mktemp("service")
    app = create_app(Settings(data_dir=root / "data", token=TOKEN, max_unpacked_mb=32))
    tokens = {"admin": TOKEN}
    with app.state.store.transaction() as s:
        for role in ("technologist", "physician"):
            tokens[role] = add_user(s, role, role)
    with TestClient(app) as client:
        client.headers["Authorization"] = f"Bearer {TOKEN}"
        yield SimpleNamespace(app=app, client=client, root=root, data=root / "data", tokens=tokens)


def _as(svc, role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {svc.tokens[role]}"}


@pytest.fixture(scope="module")
def analysed(svc, study_dir):
    """The study uploaded as separate DICOM files by a technologist, then analysed."""
    files = [
        ("files", (p.name, p.read_bytes(), "application/dicom")) for p in dicom_files(study_dir)
    ]
    r = svc.client.post("/api/studies", files=files, headers=_as(svc, "technologist"))
    assert r.status_code == 201, r.text
    study = r.json()
    r = svc.client.post(f"/api/studies/{study['id']}/analyses", headers=_as(svc, "technologist"))
    assert r.status_code == 202, r.text
    return study, wait_for(svc.client, r.json()["id"])


def test_health_needs_no_token(svc):
    r = svc.client.get("/health", headers={"Authorization": ""})
    assert r.status_code == 200 and r.json()["status"] == "ok"


def test_no_api_route_answers_without_a_valid_token(svc):
    paths = svc.app.openapi()["paths"]
    calls = [(m, p) for p, ops in paths.items() if p.startswith("/api") for m in ops]
    assert len(calls) >= 15
    for method, path in calls:
        path = path.format(study_id=1, analysis_id=1, number=1, kind="suv")
        for header in ({"Authorization": ""}, {"Authorization": "Bearer not-a-token-123456"}):
            r = svc.client.request(method, path, headers=header)
            assert r.status_code == 401, (method, path, r.status_code)


def test_an_upload_of_dicom_files_is_stored_with_its_series(analysed, study_dir, svc):
    study, _ = analysed
    assert study["patient_name"] == PATIENT_NAME
    assert study["agent"] == "68Ga-DOTATATE"
    assert study["n_files"] == len(dicom_files(study_dir))
    assert sorted(s["kind"] for s in study["series"]) == ["CT", "PT"]
    stored = svc.data / "studies"
    assert len(list(stored.iterdir())) == 1
    assert len(list(next(stored.iterdir()).iterdir())) == study["n_files"]
    listed = svc.client.get("/api/studies").json()
    assert [s["id"] for s in listed] == [study["id"]]


def test_the_same_study_is_not_stored_twice(analysed, svc, study_dir):
    zipped = study_zip(study_dir)
    r = svc.client.post("/api/studies", files=[("files", ("s.zip", zipped, "application/zip"))])
    assert r.status_code == 409
    assert f"study {analysed[0]['id']}" in r.json()["detail"]


def _zip(*members: tuple[zipfile.ZipInfo | str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for info, data in members:
            zf.writestr(info, data)
    return buf.getvalue()


def _symlink(name: str, target: str) -> tuple[zipfile.ZipInfo, bytes]:
    info = zipfile.ZipInfo(name)
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info, target.encode()


MALICIOUS = {
    "zip-slip": _zip(("ok.dcm", b"x"), ("../../../evil.dcm", b"evil")),
    "absolute path": _zip(("/tmp/evil.dcm", b"evil")),
    "drive letter": _zip(("C:\\evil.dcm", b"evil")),
    "symbolic link": _zip(_symlink("evil.dcm", "/etc/passwd")),
    "zip bomb": _zip(("evil.dcm", bytes(40 * 2**20))),  # 40 MiB of zeros > 32 MiB allowed
}


@pytest.mark.parametrize("kind", list(MALICIOUS))
def test_a_malicious_zip_writes_nothing_anywhere(svc, kind, tmp_path_factory):
    base = tmp_path_factory.getbasetemp()
    before = set(base.rglob("*"))
    r = svc.client.post(
        "/api/studies", files=[("files", ("s.zip", MALICIOUS[kind], "application/zip"))]
    )
    assert r.status_code in (400, 413), r.text
    assert set(base.rglob("*")) == before  # inside the data directory or out of it
    assert not Path("/tmp/evil.dcm").exists()


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"content": b"{}", "headers": {"Content-Type": "application/json"}}, 415),
        ({"files": [("other", ("a.dcm", b"x"))]}, 400),
        ({"files": [("files", ("a.txt", b"not dicom"))]}, 400),
        ({"files": [("files", ("a.zip", b"PK\x05\x06" + bytes(18)))]}, 400),
    ],
)
def test_bad_uploads_are_refused_with_a_reason(svc, body, status):
    r = svc.client.post("/api/studies", **body)
    assert r.status_code == status and r.json()["detail"]


def test_an_upload_over_the_size_limit_is_refused_while_it_streams(tmp_path):
    app = create_app(Settings(data_dir=tmp_path / "d", token=TOKEN, max_upload_mb=1))
    with TestClient(app) as client:
        r = client.post(
            "/api/studies",
            headers={"Authorization": f"Bearer {TOKEN}"},
            files=[("files", ("big.dcm", bytes(2 * 2**20)))],
        )
    assert r.status_code == 413 and "1 MiB" in r.json()["detail"]
    assert files_outside(tmp_path, tmp_path / "d") == []


def test_the_analysis_job_writes_the_cli_outputs_and_stores_its_findings(svc, analysed):
    study, analysis = analysed
    assert (analysis["status"], analysis["progress"], analysis["version"]) == ("done", 1.0, 1)
    folder = svc.data / "analyses" / f"study-{study['id']}" / "v1"
    assert json.loads((folder / "findings.json").read_text()) == analysis["findings"]
    for name in ("lesions.csv", "lesions.nii.gz", "lesions.seg.dcm", "report.html"):
        assert (folder / name).is_file(), name
    r = svc.client.get(f"/api/analyses/{analysis['id']}/report.html")
    assert r.status_code == 200 and r.content == (folder / "report.html").read_bytes()


def _nifti(content: bytes) -> np.ndarray:
    return np.asarray(nib.Nifti1Image.from_bytes(gzip.decompress(content)).dataobj)


def test_the_viewer_volumes_lie_on_the_analysis_grid(svc, analysed):
    _, analysis = analysed
    base = f"/api/analyses/{analysis['id']}/volumes"
    suv = _nifti(svc.client.get(f"{base}/suv").content)
    ct = _nifti(svc.client.get(f"{base}/ct").content)
    labels = _nifti(svc.client.get(f"{base}/labels").content)
    edges = _nifti(svc.client.get(f"{base}/outline").content)
    lesions = analysis["findings"]["lesions"]
    assert (
        suv.shape == ct.shape == labels.shape == tuple(analysis["findings"]["study"]["grid_shape"])
    )
    assert set(np.unique(labels)) == {0} | {les["id"] for les in lesions}
    for les in lesions:  # the label map's value is the lesion id; SUVmax is read back
        assert suv[labels == les["id"]].max() == pytest.approx(les["suv_max"], abs=1e-3)
    assert np.all(np.isin(edges[edges > 0], list(np.unique(labels))))
    assert np.all((edges == 0) | (edges == labels))
    assert -1100 < float(ct.min()) and float(ct.max()) > 100  # HU: air to bone


def test_review_recomputes_the_scores_from_the_reviewed_lesions(svc, analysed):
    _, analysis = analysed
    auto = analysis["findings"]
    base = f"/api/analyses/{analysis['id']}/review"
    first, second, third = auto["lesions"][:3]
    r = svc.client.put(
        f"{base}/lesions/{first['id']}",
        json={"decision": "rejected"},
        headers=_as(svc, "physician"),
    )
    assert r.status_code == 200, r.text
    summary = r.json()["reviewed_summary"]
    rest = auto["lesions"][1:]
    assert summary["n_lesions"] == len(rest)
    assert summary["sstr_tv_ml"] == pytest.approx(sum(les["volume_ml"] for les in rest), abs=1e-3)
    expected = prrt_criterion(
        [les["id"] for les in rest],
        [les["krenning"] for les in rest],
        [
            prrt_target(les["volume_ml"], les["site"], les["sstr_rads"], les["ct_correlate"])
            for les in rest
        ],
    )
    assert (summary["prrt_criterion_met"], summary["prrt_reason"]) == (
        expected.met,
        expected.reason,
    )
    r = svc.client.put(
        f"{base}/lesions/{second['id']}", json={"site": "bone"}, headers=_as(svc, "physician")
    )
    relabelled = next(row for row in r.json()["lesions"] if row["number"] == second["id"])
    assert relabelled["site"] == "bone"
    assert relabelled["lesion"]["sstr_rads"] == sstr_rads(
        second["krenning"], "bone", ct_correlate=second["ct_correlate"]
    )
    r = svc.client.put(
        f"{base}/lesions/{third['id']}", json={"physiological": True}, headers=_as(svc, "physician")
    )
    assert r.json()["reviewed_summary"]["n_lesions"] == len(auto["lesions"]) - 2
    # the missed lesion: a click on the rejected lesion's centre grows the same lesion back
    r = svc.client.post(
        f"{base}/lesions", json={"seed_mm": first["center_mm"]}, headers=_as(svc, "physician")
    )
    assert r.status_code == 201, r.text
    added = r.json()["lesions"][-1]
    assert (added["source"], added["number"]) == ("added", len(auto["lesions"]) + 1)
    assert added["lesion"]["suv_max"] == pytest.approx(first["suv_max"], abs=1e-3)
    voxel_ml = float(np.prod(auto["study"]["spacing_mm"])) / 1000
    assert abs(added["lesion"]["volume_ml"] - first["volume_ml"]) <= voxel_ml + 1e-6
    assert added["lesion"]["krenning"] == first["krenning"]
    assert r.json()["reviewed_summary"]["n_lesions"] == len(auto["lesions"]) - 1
    r = svc.client.put(
        f"{base}/impression",
        json={"text": "Hepatic and nodal NET; PRRT advised."},
        headers=_as(svc, "physician"),
    )
    assert r.json()["impression"].startswith("Hepatic")
    labels = _nifti(
        svc.client.get(f"/api/analyses/{analysis['id']}/volumes/labels?reviewed=true").content
    )
    assert set(np.unique(labels)) == {0} | {
        les["id"] for les in auto["lesions"][1:] if les is not third
    } | {added["number"]}


def test_only_a_physician_reviews_and_signs(svc, analysed):
    _, analysis = analysed
    base = f"/api/analyses/{analysis['id']}"
    for role in ("technologist", "admin"):
        assert svc.client.post(f"{base}/sign", headers=_as(svc, role)).status_code == 403
        r = svc.client.put(f"{base}/review/impression", json={"text": "x"}, headers=_as(svc, role))
        assert r.status_code == 403
    assert svc.client.get(f"{base}/report").json()["status"] == "draft"


def _reviewed(svc, analysis) -> None:
    """The review of test_review_recomputes_the_scores_from_the_reviewed_lesions (reject,
    relabel, physiological, add, impression), made here when that test has not run in this process
    (pytest-xdist may run this test elsewhere or first): the signing test needs all three
    decision kinds."""
    base = f"/api/analyses/{analysis['id']}/review"
    if any(row["source"] == "added" for row in svc.client.get(base).json()["lesions"]):
        return
    first, second, third = analysis["findings"]["lesions"][:3]
    doctor = _as(svc, "physician")
    for number, body in (
        (first["id"], {"decision": "rejected"}),
        (second["id"], {"site": "bone"}),
        (third["id"], {"physiological": True}),
    ):
        assert svc.client.put(f"{base}/lesions/{number}", json=body, headers=doctor).is_success
    r = svc.client.post(f"{base}/lesions", json={"seed_mm": first["center_mm"]}, headers=doctor)
    assert r.status_code == 201, r.text
    text = {"text": "Hepatic and nodal NET; PRRT advised."}
    assert svc.client.put(f"{base}/impression", json=text, headers=doctor).is_success


def test_signing_freezes_the_report_with_its_hash_and_audit_trail(svc, analysed):
    _, analysis = analysed
    base = f"/api/analyses/{analysis['id']}"
    _reviewed(svc, analysis)
    review = svc.client.get(f"{base}/review").json()
    r = svc.client.post(f"{base}/sign", headers=_as(svc, "physician"))
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["status"] == "signed" and report["signed_by"] == "physician"
    assert report["sha256"] == hashlib.sha256(report["content_text"].encode()).hexdigest()
    content = json.loads(report["content_text"])
    assert content["automatic"] == analysis["findings"]
    assert content["reviewed"]["summary"] == review["reviewed_summary"]
    assert {d["decision"] for d in content["decisions"]} == {"rejected", "accepted", "added"}
    assert content["impression"] == review["impression"]
    for method, path, body in (
        ("put", f"{base}/review/lesions/2", {"decision": "rejected"}),
        ("post", f"{base}/review/lesions", {"seed_mm": [0.0, 0.0, -700.0]}),
        ("put", f"{base}/review/impression", {"text": "changed"}),
        ("post", f"{base}/sign", None),
    ):
        r = svc.client.request(method, path, json=body, headers=_as(svc, "physician"))
        assert r.status_code == 409, (path, r.text)
    trail = svc.client.get(f"{base}/audit").json()
    assert [e["action"] for e in trail] == [
        "analysis.request", "review.lesion", "review.lesion", "review.lesion", "review.add",
        "review.impression", "report.sign",
    ]  # fmt: skip
    assert trail[1]["user"] == "physician"
    assert trail[1]["detail"]["after"]["decision"] == "rejected"
    assert trail[-1]["detail"]["sha256"] == report["sha256"]


def test_a_reanalysis_is_a_new_version_and_the_signed_report_is_unchanged(svc, analysed):
    study, analysis = analysed
    signed = svc.client.get(f"/api/analyses/{analysis['id']}/report").json()
    r = svc.client.post(f"/api/studies/{study['id']}/analyses", json={"min_volume_ml": 1.0})
    assert r.status_code == 202
    second = wait_for(svc.client, r.json()["id"])
    assert (second["status"], second["version"]) == ("done", 2)
    assert second["options"] == {"min_volume_ml": 1.0}
    assert len(second["findings"]["lesions"]) < len(analysis["findings"]["lesions"])
    assert svc.client.get(f"/api/analyses/{analysis['id']}/report").json() == signed
    assert svc.client.get(f"/api/analyses/{second['id']}/report").json()["status"] == "draft"
    versions = svc.client.get(f"/api/studies/{study['id']}").json()["analyses"]
    assert [(a["version"], a["signed"]) for a in versions] == [(1, True), (2, False)]


def test_protocol_advice_is_the_knowledge_base(svc):
    r = svc.client.post(
        "/api/protocol",
        json={"scenario": "pre-prrt", "weight_kg": 78.0},
        headers=_as(svc, "technologist"),
    )
    assert r.status_code == 200
    assert r.json() == advise("pre-prrt", weight_kg=78.0).to_dict()
    r = svc.client.post("/api/protocol", json={"scenario": "nonsense", "weight_kg": 78.0})
    assert r.status_code == 422 and "'staging'" in r.text  # the allowed scenarios


def test_users_are_added_and_listed_by_the_cli(tmp_path, capsys):
    data = str(tmp_path / "data")
    assert main(["users", "add", "dr-who", "--role", "physician", "--data-dir", data]) == 0
    token = capsys.readouterr().out.strip()
    assert len(token) >= 40
    assert main(["users", "list", "--json", "--data-dir", data]) == 0
    assert [(u["name"], u["role"]) for u in json.loads(capsys.readouterr().out)] == [
        ("dr-who", "physician")
    ]
    assert main(["users", "add", "x", "--role", "surgeon", "--data-dir", data]) == 2
    assert "unknown role" in capsys.readouterr().err


def test_no_patient_name_reaches_the_logs(logs, analysed):
    assert len(logs) > 50  # the module's requests, jobs and SQL were logged
    parts = [PATIENT_NAME, *PATIENT_NAME.split("^")[1:]]
    leaks = [line for line in logs for part in parts if part in line]
    assert leaks == []
