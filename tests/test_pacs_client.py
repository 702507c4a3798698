"""The DICOMweb client's HTTP behaviour against a scripted local server: bearer tokens,
retries with back-off, refusals, a PACS that is down or silent, QIDO filters and parsing."""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest

from nenscope.cli import main
from nenscope.pacs import (
    Pacs,
    PacsAuth,
    PacsError,
    dicom_date_range,
    is_pacs_uri,
    parse_pacs_uri,
)

STUDY_JSON = {
    "0020000D": {"vr": "UI", "Value": ["1.2.3.4"]},
    "00100020": {"vr": "LO", "Value": ["NET-007"]},
    "00100010": {"vr": "PN", "Value": [{"Alphabetic": "Doe^Jane"}]},
    "00080020": {"vr": "DA", "Value": ["20260115"]},
    "00080061": {"vr": "CS", "Value": ["CT", "PT"]},
    "00081030": {"vr": "LO", "Value": ["PET/CT DOTATATE"]},
    "00201206": {"vr": "IS", "Value": [2]},
    "00201208": {"vr": "IS", "Value": [250]},
}


class Script:
    """What the fake PACS answers: a list of (status, body, delay_s), the last one repeated;
    ``token`` is the bearer token it wants (None: any request is let in)."""

    def __init__(self, answers, token=None):
        self.answers, self.token, self.requests = list(answers), token, []


@pytest.fixture
def fake_pacs():
    script = Script([(200, [], 0.0)])

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            script.requests.append((self.path, dict(self.headers)))
            if script.token and self.headers.get("Authorization") != f"Bearer {script.token}":
                status, body, delay = 401, {"error": "no"}, 0.0
            else:
                index = min(len(script.requests), len(script.answers)) - 1
                status, body, delay = script.answers[index]
            time.sleep(delay)
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/dicom+json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/dicom-web", script
    server.shutdown()
    server.server_close()


def test_bearer_token_is_sent_and_a_wrong_one_is_refused(fake_pacs):
    url, script = fake_pacs
    script.token = "s3cret"
    assert Pacs(url, PacsAuth(token="s3cret")).find_studies() == []
    assert script.requests[-1][1]["Authorization"] == "Bearer s3cret"
    with pytest.raises(PacsError, match=r"refused the credentials .*HTTP 401.*--token"):
        Pacs(url, PacsAuth(token="wrong")).find_studies()


def test_basic_auth_header(fake_pacs):
    url, script = fake_pacs
    Pacs(url, PacsAuth(user="ann", password="pw")).find_studies()
    assert script.requests[-1][1]["Authorization"] == "Basic YW5uOnB3"  # base64("ann:pw")


def test_busy_pacs_is_retried_until_it_answers(fake_pacs):
    url, script = fake_pacs
    script.answers = [(503, {}, 0.0), (503, {}, 0.0), (200, [STUDY_JSON], 0.0)]
    found = Pacs(url, retries=3, backoff_s=0.01).find_studies()
    assert len(script.requests) == 3
    assert [s.study_instance_uid for s in found] == ["1.2.3.4"]


def test_pacs_that_stays_busy_gives_up_after_the_retries(fake_pacs):
    url, script = fake_pacs
    script.answers = [(503, {"busy": True}, 0.0)]
    with pytest.raises(PacsError, match=r"HTTP 503 .*after 3 tries"):
        Pacs(url, retries=2, backoff_s=0.01).find_studies()
    assert len(script.requests) == 3


def test_forbidden_and_not_found_say_what_to_fix(fake_pacs):
    url, script = fake_pacs
    script.answers = [(403, {}, 0.0)]
    with pytest.raises(PacsError, match=r"forbids .*HTTP 403"):
        Pacs(url, retries=0).find_studies()
    script.answers = [(404, {}, 0.0)]
    with pytest.raises(PacsError, match=r"HTTP 404.*check --url"):
        Pacs(url, retries=0).find_series("1.2.3")


def test_pacs_that_is_down_is_named():
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(PacsError, match=r"cannot reach the PACS .*after 2 tries.*refused"):
        Pacs(f"http://127.0.0.1:{port}/dicom-web", retries=1, backoff_s=0.01).find_studies()


def test_silent_pacs_times_out(fake_pacs):
    url, script = fake_pacs
    script.answers = [(200, [], 1.0)]
    with pytest.raises(PacsError, match=r"did not answer .*within 0.2 s"):
        Pacs(url, retries=0, timeout_s=0.2).find_studies()


def test_qido_filters_and_parsing(fake_pacs):
    url, script = fake_pacs
    script.answers = [(200, [STUDY_JSON], 0.0)]
    (study,) = Pacs(url).find_studies(
        patient_id="NET-*", modality="PT", date_range="2026-01-01..2026-01-31"
    )
    query = parse_qs(urlparse(script.requests[-1][0]).query)
    assert query["PatientID"] == ["NET-*"]
    assert query["ModalitiesInStudy"] == ["PT"]
    assert query["StudyDate"] == ["20260101-20260131"]
    assert study.study_date == "2026-01-15"
    assert study.modalities == ("CT", "PT")
    assert (study.patient_id, study.patient_name) == ("NET-007", "Doe^Jane")
    assert (study.n_series, study.n_instances) == (2, 250)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("20260115", "20260115"),
        ("20260101-20260131", "20260101-20260131"),
        ("20260101-", "20260101-"),
        ("-20260131", "-20260131"),
        ("2026-01-01..2026-01-31", "20260101-20260131"),
    ],
)
def test_date_ranges(text, expected):
    assert dicom_date_range(text) == expected


@pytest.mark.parametrize("text", ["", "-", "2026", "20261301", "last week"])
def test_bad_date_ranges(text):
    with pytest.raises(PacsError, match="--date-range"):
        dicom_date_range(text)


def test_pacs_study_addresses():
    assert parse_pacs_uri("pacs://127.0.0.1:8042/dicom-web/studies/1.2.840.1") == (
        "http://127.0.0.1:8042/dicom-web",
        "1.2.840.1",
    )
    assert parse_pacs_uri("pacs+https://pacs.example.org/wado/rs/studies/1.2.3/") == (
        "https://pacs.example.org/wado/rs",
        "1.2.3",
    )
    assert is_pacs_uri("pacs://h/studies/1") and not is_pacs_uri("/data/pacs://x")
    with pytest.raises(PacsError, match="pacs://HOST:PORT/dicom-web/studies/UID"):
        parse_pacs_uri("pacs://host/dicom-web/1.2.3")


def test_credentials_are_checked_and_never_printed():
    with pytest.raises(PacsError, match="not both"):
        PacsAuth(user="a", password="b", token="c")
    with pytest.raises(PacsError, match="both a user and a password"):
        PacsAuth(user="a")
    assert "pw" not in repr(PacsAuth(user="ann", password="pw"))
    assert "xyz" not in repr(PacsAuth(token="xyz"))
    with pytest.raises(PacsError, match="DICOMweb root"):
        Pacs("127.0.0.1:8042")


def test_cli_reports_a_refusal_as_an_error(fake_pacs, capsys):
    url, script = fake_pacs
    script.token = "right"
    code = main(["pacs", "find", "--url", url, "--token", "wrong"])
    assert code == 2
    assert "error: the PACS at" in capsys.readouterr().err


def test_every_analysis_site_has_its_snomed_site_or_none_by_design():
    from nenscope.analysis.sites import SITES
    from nenscope.pacs.codes import site_code

    coded = {site: site_code(site) for site in SITES}
    uncoded = sorted(site for site, code in coded.items() if code is None)
    assert uncoded == ["other"]  # no anatomical concept by design
    assert all(code.scheme_designator == "SCT" for code in coded.values() if code is not None)
    assert coded["liver"].value == "10200004" and coded["lymph node"].value == "59441001"
    assert coded["pancreas tail"].value == coded["pancreas"].value == "15776009"
    assert coded["brain/meninges"].meaning == "Meninges"
    assert coded["thyroid"].value == "69748006"
