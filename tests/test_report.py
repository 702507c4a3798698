"""The HTML/PDF report (issue 5, report part) on a small synthetic study with known lesions."""

from __future__ import annotations

import base64
import io
import os
import re

import highdicom as hd
import numpy as np
import pytest
from PIL import Image

from nenscope.report import exam_dose, find_chromium, html_to_pdf, patient_summary, write_report
from nenscope.report.figures import to_display

# axis 0 runs toward the feet, axis 1 anterior->posterior, axis 2 right->left (LPS), 4 mm voxels
AFFINE = np.array([[0, 0, 4, -100], [0, 4, 0, -80], [-4, 0, 0, 0], [0, 0, 0, 1.0]])


def _study():
    shape = (40, 40, 50)
    z, y, x = np.indices(shape)
    body = ((y - 20) / 15) ** 2 + ((x - 25) / 22) ** 2 < 1
    suv = np.where(body, 1.0, 0.0).astype(np.float32)
    labels = np.zeros(shape, np.int32)
    for lesion_id, centre, value in ((1, (10, 20, 12), 20.0), (2, (30, 20, 38), 9.0)):
        m = sum((g - c) ** 2 for g, c in zip((z, y, x), centre, strict=True)) <= 4
        suv[m] = value
        labels[m] = lesion_id
    ct = np.where(body, 40.0, -1000.0).astype(np.float32)
    vol = lambda a: hd.Volume(a, AFFINE, "PATIENT")  # noqa: E731
    findings = {
        "study": {
            "agent": "68Ga-DOTATATE",
            "agent_class": "sstr",
            "modality": "PT",
            "injected_activity_mbq": 140.0,
            "patient_sex": "M",
            "patient_weight_kg": 70.0,
        },
        "reference": {"liver_suv_mean": 7.0, "spleen_suv_mean": 22.0},
        "lesions": [
            {
                "id": 1,
                "site": "liver",
                "center_mm": [-52.0, 0.0, -40.0],
                "volume_ml": 2.1,
                "suv_max": 20.0,
                "suv_peak": 18.0,
                "suv_mean": 19.0,
                "tla": 40.0,
                "tlr": 2.9,
                "krenning": 3,
                "sstr_rads": "4",
                "prrt_target": True,
                "fdg_suv_max": None,
            },
            {
                "id": 2,
                "site": "bone",
                "center_mm": [52.0, 0.0, -120.0],
                "volume_ml": 2.1,
                "suv_max": 9.0,
                "suv_peak": 8.0,
                "suv_mean": 9.0,
                "tla": 19.0,
                "tlr": 1.3,
                "krenning": 1,
                "sstr_rads": "3B",
                "prrt_target": True,
                "fdg_suv_max": None,
            },
        ],
        "summary": {
            "n_lesions": 2,
            "sstr_tv_ml": 4.2,
            "tl_sstr": 59.0,
            "krenning_max": 3,
            "prrt_criterion_met": False,
            "prrt_reason": "1 of 2 target lesions (lesion 2) have SSTR uptake below the liver",
            "prrt_failing_lesions": [2],
            "prrt_not_assessed": ["renal function (creatinine clearance or GFR)"],
            "netpet": None,
        },
        "method": {
            "krenning": "Krenning score: lesion SUVmax against the liver and spleen SUVmean",
            "pvc": "no partial-volume correction: the scanner's resolution is unknown",
        },
    }
    return findings, vol(suv), vol(labels), vol(ct)


def test_display_orientation_puts_head_up_and_patient_right_on_the_left():
    arr = np.zeros((3, 4, 5), np.float32)
    arr[0, 1, 0] = 1.0  # first slice (most superior), column 0 (most patient-right)
    disp, spacing = to_display(hd.Volume(arr, AFFINE, "PATIENT"))
    f, p, l_ = np.argwhere(disp == 1.0)[0]
    assert f == 0 and l_ == 0 and p == 1
    assert spacing == (4.0, 4.0, 4.0)
    flipped = AFFINE.copy()
    flipped[2, 0] = 4.0  # axis 0 now runs toward the head
    disp, _ = to_display(hd.Volume(arr, flipped, "PATIENT"))
    assert np.argwhere(disp == 1.0)[0][0] == 2


def test_report_is_self_contained_with_tables_figures_and_dose(tmp_path):
    findings, suv, labels, ct = _study()
    path = write_report(findings, suv, labels, tmp_path, ct_on_pet_grid=ct)
    html = path.read_text("utf-8")
    # self-contained: every image embedded, nothing fetched from elsewhere
    assert not re.search(r"""(src|href)=["'](https?:|//|file:)""", html)
    uris = re.findall(r'src="data:image/png;base64,([^"]+)"', html)
    assert len(uris) == 2 + 2  # two MIPs, one thumbnail per lesion
    for uri in uris:
        img = Image.open(io.BytesIO(base64.b64decode(uri)))
        assert img.width > 50 and img.height > 50
    for name in ("mip_coronal.png", "mip_sagittal.png", "lesion_001.png", "lesion_002.png"):
        assert (tmp_path / "figures" / name).stat().st_size > 1000
    # the SSTR imaging criterion per lesion, what it did not assess, and what was compared
    assert "SSTR imaging criterion for PRRT:</b> not met" in html
    assert "fails (uptake &lt; liver)" in html and "meets (uptake ≥ liver)" in html
    assert "renal function" in html
    assert "lesion SUVmax against the liver and spleen SUVmean" in html
    assert (
        "scanner&#39;s resolution is unknown" in html or "scanner's resolution is unknown" in html
    )
    assert "SUV PVC" not in html  # no corrected column without a resolution
    assert html.count("<tr><td>") == 2  # one row per lesion
    assert "2.94 mSv" in html  # 140 MBq x 0.021 mSv/MBq
    assert "For the patient" in html and "signed" in html
    assert not list(tmp_path.glob(".*.tmp"))  # atomic writes leave nothing behind


def test_mip_shows_the_lesions_where_they_are():
    findings, suv, labels, _ = _study()
    from nenscope.report.figures import mip_png

    img = np.asarray(
        Image.open(io.BytesIO(mip_png(suv, None, view="coronal", suv_max_display=20))).convert("L")
    )
    # inverse grey: the SUV-20 lesion 1 (superior, patient right) is the darkest blob and lies
    # in the upper-left quadrant; lesion 2 (SUV 9, inferior, patient left) in the lower right
    rows, cols = np.nonzero(img < 40)
    assert rows.mean() < img.shape[0] / 2 and cols.mean() < img.shape[1] / 2


def test_exam_dose_and_patient_summary():
    findings, *_ = _study()
    dose = exam_dose(findings["study"])
    assert dose["effective_dose_msv"] == pytest.approx(2.94)
    assert "NETSPOT" in dose["source"]
    assert (
        exam_dose({"agent": "unknown-thing", "injected_activity_mbq": 100})["effective_dose_msv"]
        is None
    )
    lines = patient_summary(findings)
    assert any("2 spots" in line for line in lines)
    assert any("PRRT" in line for line in lines)
    empty = patient_summary(
        {"study": {"agent": "18F-FDG"}, "summary": {"n_lesions": 0}, "lesions": []}
    )
    assert any("no spots" in line for line in empty)


def test_pdf_through_headless_chromium(tmp_path):
    if find_chromium() is None:
        if os.environ.get("NENSCOPE_CI"):
            pytest.fail("Chromium is missing in CI: .ci/run must install it")
        pytest.skip("Chromium not installed on this machine (CI installs it)")
    findings, suv, labels, ct = _study()
    html = write_report(findings, suv, labels, tmp_path, ct_on_pet_grid=ct)
    pdf = html_to_pdf(html, tmp_path / "report.pdf")
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF") and len(data) > 20_000
