"""20 uploads and analyses at once on one live server (uvicorn, two job threads, SQLite):
every study, analysis and lesion is stored exactly once and every job finishes.

The study is the coarse one of ``service_support`` (10 mm voxels, one lesion): what is under
test is the service (uploads, queue, store), and 20 analyses of it take about half the time
of the 8 mm study's."""

from __future__ import annotations

import threading

import httpx2
import pytest
from sqlalchemy import func, select

from nenscope.service import Settings, create_app
from nenscope.store.models import Analysis, Lesion, Patient, Study
from service_support import COARSE, TOKEN, live_server, simulate, study_zip, wait_for

pytestmark = [pytest.mark.xdist_group("service_concurrency"), pytest.mark.slow]

N_STUDIES = 20


def test_twenty_concurrent_uploads_and_analyses_lose_and_duplicate_nothing(tmp_path):
    folder = simulate(tmp_path / "study", COARSE)
    zips = [study_zip(folder, copy=i) for i in range(N_STUDIES)]  # distinct StudyInstanceUIDs
    app = create_app(Settings(data_dir=tmp_path / "data", token=TOKEN, workers=2))
    results: list[tuple[int, int] | None] = [None] * N_STUDIES
    errors: list[str] = []
    barrier = threading.Barrier(N_STUDIES)

    with live_server(app) as url:

        def client() -> httpx2.Client:
            return httpx2.Client(
                base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=300
            )

        def upload_and_analyse(i: int) -> None:
            with client() as c:
                barrier.wait()
                r = c.post(
                    "/api/studies", files=[("files", (f"{i}.zip", zips[i], "application/zip"))]
                )
                if r.status_code != 201:
                    errors.append(f"upload {i}: {r.status_code} {r.text}")
                    return
                study_id = r.json()["id"]
                r = c.post(f"/api/studies/{study_id}/analyses")
                results[i] = (study_id, r.json()["id"])

        threads = [threading.Thread(target=upload_and_analyse, args=(i,)) for i in range(N_STUDIES)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        with client() as c:
            finished = [wait_for(c, analysis_id) for _, analysis_id in results]
            listed = c.get("/api/studies").json()

    assert [a["status"] for a in finished] == ["done"] * N_STUDIES
    assert {a["version"] for a in finished} == {1}
    assert len({s for s, _ in results}) == len({a for _, a in results}) == N_STUDIES
    assert sorted(s["id"] for s in listed) == sorted(s for s, _ in results)
    assert len({s["study_instance_uid"] for s in listed}) == N_STUDIES
    # the same study each time: the same findings each time
    assert len({str(a["findings"]["lesions"]) for a in finished}) == 1
    n_lesions = len(finished[0]["findings"]["lesions"])
    assert n_lesions >= 1  # the lesion rows are counted below: there must be some
    with app.state.store.transaction() as s:
        count = {
            m.__name__: s.scalar(select(func.count()).select_from(m))
            for m in (Patient, Study, Analysis, Lesion)
        }
    assert count == {
        "Patient": 1,
        "Study": N_STUDIES,
        "Analysis": N_STUDIES,
        "Lesion": N_STUDIES * n_lesions,
    }
    data = tmp_path / "data"
    assert len(list((data / "studies").iterdir())) == N_STUDIES
    assert len(list((data / "analyses").glob("study-*/v1/findings.json"))) == N_STUDIES
    assert not list((data / "incoming").glob("*"))
