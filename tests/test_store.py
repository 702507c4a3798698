"""The results store on SQLite and on a real PostgreSQL: the shipped migrations build exactly
the models' schema, writes are transactional, concurrent writers lose and duplicate nothing,
re-analysis makes a new version, a signed review never changes, tokens are stored hashed.

PostgreSQL: ``NENSCOPE_TEST_POSTGRES_URL`` (``.ci/run`` starts one), else a throwaway
cluster started here with ``.ci/postgres`` when the server binaries are installed; without
them the PostgreSQL cases fail under ``NENSCOPE_CI`` and are skipped elsewhere.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading
import uuid
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, func, inspect, select, text
from sqlalchemy.engine import make_url

from nenscope.store import ConflictError, Store, reviews, studies, upgrade, users
from nenscope.store import analyses as store_analyses
from nenscope.store.errors import ForbiddenError
from nenscope.store.models import Analysis, AnalysisStatus, Base, Lesion, Patient, Study, User
from nenscope.store.studies import SeriesRecord, StudyRecord

ROOT = Path(__file__).resolve().parents[1]
FINDINGS = {
    "study": {"agent_class": "sstr"},
    "lesions": [
        {"id": 1, "site": "liver", "center_mm": [1.0, 2.0, 3.0], "volume_ml": 2.0, "suv_max": 9.0,
         "krenning": 3},
        {"id": 2, "site": "bone", "center_mm": [4.0, 5.0, 6.0], "volume_ml": 1.0, "suv_max": 4.0,
         "krenning": 2},
    ],
    "summary": {"n_lesions": 2},
}  # fmt: skip


@pytest.fixture(scope="module")
def postgres_server():
    url = os.environ.get("NENSCOPE_TEST_POSTGRES_URL")
    if url:
        yield url
        return
    from service_support import free_port

    folder = tempfile.mkdtemp(prefix="nenscope-pg-")  # under /tmp: the server's user reads it
    script = ROOT / ".ci" / "postgres"
    proc = subprocess.run(
        [script, "start", folder, str(free_port())], capture_output=True, text=True, timeout=120
    )
    if proc.returncode != 0:
        message = f"no PostgreSQL for the store tests: {proc.stderr.strip()}"
        if os.environ.get("NENSCOPE_CI"):
            pytest.fail(message)
        pytest.skip(message)
    yield proc.stdout.strip()
    subprocess.run([script, "stop", folder], check=False, timeout=60)
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    server = make_url(request.getfixturevalue("postgres_server"))
    name = f"t_{uuid.uuid4().hex[:16]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    yield server.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE {name} WITH (FORCE)"))
    admin.dispose()


@pytest.fixture
def store(url):
    s = Store(url)
    yield s
    s.close()


def _record(uid: str = "1.2.3", patient: str = "P1") -> StudyRecord:
    return StudyRecord(
        study_instance_uid=uid,
        patient_key=patient,
        patient_name="Doe^Jane",
        patient_sex="F",
        study_date="20260115",
        description="PET/CT",
        agent="68Ga-DOTATATE",
        modality="PT",
        n_files=2,
        size_bytes=1000,
        series=[
            SeriesRecord("1.2.3.1", "PT", "PT", "PET AC", 1),
            SeriesRecord("1.2.3.2", "CT", "CT", None, 1),
        ],
    )


def _done_analysis(store: Store, uid: str = "1.2.3") -> int:
    with store.transaction() as s:
        study = studies.add_study(s, _record(uid), f"studies/{uid}", None)
        analysis_id = store_analyses.new_analysis(s, study.id, {}, None).id
    with store.transaction() as s:
        store_analyses.start(s, analysis_id)
        store_analyses.finish(s, analysis_id, FINDINGS)
    return analysis_id


def _user(store: Store, name: str, role: str) -> User:
    with store.transaction() as s:
        token = users.add_user(s, name, role)
        return users.user_by_token(s, token)


def test_the_migrations_build_exactly_the_models(url):
    engine = create_engine(url)
    upgrade(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []
    assert set(inspect(engine).get_table_names()) == set(Base.metadata.tables) | {"alembic_version"}
    upgrade(engine)  # idempotent
    engine.dispose()


def test_a_failed_transaction_writes_nothing(store):
    with pytest.raises(RuntimeError), store.transaction() as s:
        users.add_user(s, "tech", "technologist")
        studies.add_study(s, _record(), "studies/a", None)
        raise RuntimeError("boom")
    with store.transaction() as s:
        assert s.scalar(select(func.count()).select_from(User)) == 0
        assert s.scalar(select(func.count()).select_from(Study)) == 0
        assert s.scalar(select(func.count()).select_from(Patient)) == 0


def test_a_study_is_stored_once(store):
    with store.transaction() as s:
        studies.add_study(s, _record(), "studies/a", None)
    with pytest.raises(ConflictError), store.transaction() as s:
        studies.add_study(s, _record(), "studies/b", None)
    with store.transaction() as s:
        (study,) = studies.list_studies(s)
        assert (study.folder, study.patient.name, [x.kind for x in study.series]) == (
            "studies/a",
            "Doe^Jane",
            ["PT", "CT"],
        )


def test_tokens_are_stored_as_hashes(store):
    with store.transaction() as s:
        token = users.add_user(s, "dr", "physician")
        generated = users.ensure_admin(s, None)
    assert generated is None  # a user exists: no bootstrap token
    with store.transaction() as s:
        stored = s.scalars(select(User.token_sha256)).all()
        assert users.user_by_token(s, token).name == "dr"
        assert users.user_by_token(s, token + "x") is None
    assert token not in stored and users.hash_token(token) in stored
    with store.transaction() as s:
        users.ensure_admin(s, "environment-token-123")
    with store.transaction() as s:
        assert users.user_by_token(s, "environment-token-123").role.value == "admin"


def test_first_start_generates_an_admin_token(store):
    with store.transaction() as s:
        token = users.ensure_admin(s, None)
    with store.transaction() as s:
        assert users.user_by_token(s, token).name == users.ADMIN_NAME
        assert users.ensure_admin(s, None) is None


def test_reanalysis_is_a_new_version_and_a_signed_review_never_changes(store):
    physician = _user(store, "dr", "physician")
    first = _done_analysis(store)
    with store.transaction() as s:
        reviews.decide(s, first, 2, user=physician, decision="rejected")
        analysis = store_analyses.get_analysis(s, first)
        reviews.sign(
            s, analysis, '{"x":1}', "ab" * 32, user=physician, signed_at=analysis.created_at
        )
    with store.transaction() as s:
        second = store_analyses.new_analysis(s, analysis.study_id, {"tracer": "68Ga-DOTATOC"}, None)
        assert second.version == 2 and second.folder != analysis.folder
    for change in (
        lambda s: reviews.decide(s, first, 1, user=physician, decision="rejected"),
        lambda s: reviews.set_impression(s, first, "changed", user=physician),
        lambda s: reviews.sign(
            s, analysis, "{}", "cd" * 32, user=physician, signed_at=analysis.created_at
        ),
    ):
        with pytest.raises(ConflictError), store.transaction() as s:
            change(s)
    with store.transaction() as s:
        signed = store_analyses.get_analysis(s, first)
        assert (signed.report.content, signed.report.sha256) == ('{"x":1}', "ab" * 32)
        assert [(d.number, d.decision.value) for d in signed.review.decisions] == [(2, "rejected")]


def test_only_a_physician_signs(store):
    admin = _user(store, "root", "admin")
    analysis_id = _done_analysis(store)
    with pytest.raises(ForbiddenError), store.transaction() as s:
        analysis = store_analyses.get_analysis(s, analysis_id)
        reviews.sign(s, analysis, "{}", "00" * 32, user=admin, signed_at=analysis.created_at)


def test_recovery_fails_running_jobs_and_keeps_queued_ones(store):
    with store.transaction() as s:
        study = studies.add_study(s, _record(), "studies/a", None)
        running, queued = (store_analyses.new_analysis(s, study.id, {}, None).id for _ in range(2))
    with store.transaction() as s:
        store_analyses.start(s, running)
    with store.transaction() as s:
        assert store_analyses.recover(s) == ([running], [queued])
    with store.transaction() as s:
        failed = store_analyses.get_analysis(s, running)
        assert failed.status == AnalysisStatus.failed
        assert failed.error == store_analyses.INTERRUPTED
        with pytest.raises(ConflictError):  # the job's late result is refused
            store_analyses.finish(s, running, FINDINGS)


def _in_threads(n: int, work) -> list:
    results, errors = [None] * n, []
    barrier = threading.Barrier(n)

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work(i)
        except Exception as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    return results


def test_concurrent_writers_lose_and_duplicate_nothing(store):
    def upload_and_analyse(i: int) -> int:
        with store.transaction() as s:  # 20 studies of one patient at once
            study = studies.add_study(s, _record(f"1.2.{i}"), f"studies/{i}", None)
            return store_analyses.new_analysis(s, study.id, {}, None).id

    analysis_ids = _in_threads(20, upload_and_analyse)
    with store.transaction() as s:
        study_id = s.scalar(select(Study.id).limit(1))

    def reanalyse(_i: int) -> int:
        with store.transaction() as s:  # 10 new versions of one study at once
            return store_analyses.new_analysis(s, study_id, {}, None).version

    versions = _in_threads(10, reanalyse)
    with store.transaction() as s:
        assert s.scalar(select(func.count()).select_from(Patient)) == 1
        assert s.scalar(select(func.count()).select_from(Study)) == 20
        assert s.scalar(select(func.count()).select_from(Analysis)) == 30
    assert len(set(analysis_ids)) == 20
    assert sorted(versions) == list(range(2, 12))


def test_findings_become_lesion_rows_and_dosimetry_is_kept(store):
    analysis_id = _done_analysis(store)
    with store.transaction() as s:
        rows = s.scalars(select(Lesion).where(Lesion.analysis_id == analysis_id)).all()
        assert [(r.number, r.site, r.volume_ml, r.krenning) for r in rows] == [
            (1, "liver", 2.0, 3),
            (2, "bone", 1.0, 2),
        ]
        study_id = s.scalar(select(Study.id))
        studies.add_dosimetry(s, study_id, "voxel-s-value", {"kidney_left_gy": 4.2}, None)
    with store.transaction() as s:
        (row,) = studies.dosimetry_of(s, study_id)
        assert (row.method, row.results) == ("voxel-s-value", {"kidney_left_gy": 4.2})
