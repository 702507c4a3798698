"""The HTML/PDF report (issue 5, report part) on a small synthetic study with known lesions."""

from __future__ import annotations

import base64
import io
import re

import highdicom as hd
import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from browser_support import chromium_or_skip
from nenscope.report import exam_dose, html_to_pdf, patient_summary, write_report
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
    table = html[html.index('<table id="lesion-table">') :]
    assert table[: table.index("</table>")].count("<tr><td>") == 2  # one row per lesion
    assert "2.94 mSv" in html  # 140 MBq x 0.021 mSv/MBq
    assert "For the patient" in html and "signed" in html
    for section in ("indication", "technique", "comparison", "findings", "impression", "limits"):
        assert f'<section id="{section}">' in html, section
    assert "No prior study was given" in html and "Not given (to be completed" in html
    assert "for the reporting physician to review" in html  # the impression is a draft
    # anatomy in the table, LPS millimetres only in the detail column
    assert "<td>liver</td>" in html and "<td>bone</td>" in html
    assert '<td class="num detail">-52, 0, -40</td>' in html
    assert not list(tmp_path.glob(".*.tmp"))  # atomic writes leave nothing behind


def test_mip_shows_the_lesions_where_they_are():
    findings, suv, labels, _ = _study()
    from nenscope.report.figures import mip_png

    img = np.asarray(
        Image.open(io.BytesIO(mip_png(suv, None, view="coronal", suv_max_display=20))).convert("L")
    )
    # inverse grey: the SUV-20 lesion 1 (superior, patient right) is the darkest blob and lies
    # in the upper-left quadrant; lesion 2 (SUV 9, inferior, patient left) in the lower right.
    # The colour bar's dark end (a tall, narrow strip right of the image) is left out.
    blobs, n = ndimage.label(img < 40)
    areas = ndimage.sum_labels(np.ones_like(blobs), blobs, index=np.arange(1, n + 1))
    big = [i + 1 for i in np.argsort(areas)[-2:]]  # the lesion and the bar (not the ticks)
    all_boxes = ndimage.find_objects(blobs)
    boxes = {i: all_boxes[i - 1] for i in big}
    bar = max(big, key=lambda i: boxes[i][0].stop - boxes[i][0].start)  # the taller one
    (lesion,) = set(big) - {bar}
    rows, cols = np.nonzero(blobs == lesion)
    assert rows.mean() < img.shape[0] / 2 and cols.mean() < boxes[bar][1].start / 2


def test_exam_dose_and_patient_summary():
    findings, *_ = _study()
    dose = exam_dose(findings["study"])
    assert dose["effective_dose_msv"] == pytest.approx(2.94)
    assert "NETSPOT" in dose["source"]
    unknown = exam_dose({"agent": "unknown-thing", "injected_activity_mbq": 100})
    assert unknown["effective_dose_msv"] is None and "not in the catalogue" in unknown["note"]
    assert "CT dose is not known" in dose["note"] and dose["total_msv"] == pytest.approx(2.94)
    with_ct = exam_dose({**findings["study"], "ct_effective_dose_msv": 4.0})
    assert with_ct["total_msv"] == pytest.approx(6.94) and "CT adds 4.00 mSv" in with_ct["note"]
    lines = patient_summary(findings)
    assert any("2 spots" in line for line in lines)
    empty = patient_summary(
        {"study": {"agent": "18F-FDG"}, "summary": {"n_lesions": 0}, "lesions": []}
    )
    assert any("no spots" in line for line in empty)
    assert not any("somatostatin" in line for line in empty)
    assert any("does not rule out disease" in line for line in empty)


def test_pdf_through_headless_chromium(tmp_path):
    chromium_or_skip()
    findings, suv, labels, ct = _study()
    html = write_report(findings, suv, labels, tmp_path, ct_on_pet_grid=ct)
    pdf = html_to_pdf(html, tmp_path / "report.pdf")
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF") and len(data) > 20_000


def _with_acquisition(findings):
    """The record ``run_analysis`` hands to the report: findings plus both studies'
    acquisition (times, SUV type) and the clinical context."""
    main = {
        "agent": "68Ga-DOTATATE",
        "modality": "PT",
        "injected_activity_mbq": 140.0,
        "injection_datetime": "2026-01-15T09:00:00",
        "scan_start_datetime": "2026-01-15T10:02:00",
        "uptake_time_min": 62.0,
        "suv_kind": "bw",
        "decay_correction": "START",
        "has_ct": True,
    }
    fdg = {
        **main,
        "agent": "18F-FDG",
        "injected_activity_mbq": 312.0,
        "injection_datetime": "2026-01-16T08:00:00",
        "scan_start_datetime": "2026-01-16T09:05:00",
        "uptake_time_min": 65.0,
    }
    record = {
        **findings,
        "study": {**findings["study"], "suv_kind": "bw"},  # as the pipeline records it
        "acquisition": [main, fdg],
        "clinical": {"indication": "Pre-PRRT work-up", "prior": "68Ga-DOTATATE PET/CT 2025-06"},
        "fdg_reference": {"liver_suv_mean": 2.48, "blood_pool_suv_mean": 1.63},
        "fdg_only_lesions": [
            {
                "id": 1,
                "center_mm": [10.0, 5.0, -300.0],
                "volume_ml": 1.5,
                "fdg_suv_max": 6.4,
                "fdg_suv_mean": 4.1,
            }
        ],
    }
    record["summary"] = {
        **findings["summary"],
        "netpet": "P5",
        "n_fdg_only": 1,
        "suppressed": ["spleen (spleen)", "kidney (auto)", "urinary bladder (auto)"],
    }
    return record


def test_report_states_technique_comparison_fdg_panel_and_suppressed_organs(tmp_path):
    findings, suv, labels, ct = _study()
    record = _with_acquisition(findings)
    fdg_suv = hd.Volume(np.asarray(suv.array) * 0.3, AFFINE, "PATIENT")
    html = write_report(
        record, suv, labels, tmp_path, ct_on_pet_grid=ct, fdg_suv=fdg_suv
    ).read_text("utf-8")
    # technique: both studies, with activity, injection time, uptake time and the SUV type
    assert "2026-01-15 09:00" in html and "62 min" in html and "140 MBq" in html
    assert "2026-01-16 08:00" in html and "65 min" in html and "312 MBq" in html
    assert "Every SUV in this report is SUVbw (body weight)" in html
    assert "5.93 mSv" in html  # 312 MBq x 0.019 mSv/MBq (18F-FDG)
    assert "Compared with the prior study: 68Ga-DOTATATE PET/CT 2025-06." in html
    assert "Pre-PRRT work-up" in html
    # the FDG panel: liver and blood pool, the FDG-only lesion, its MIP; NETPET
    assert '<section id="fdg"' in html and "FDG liver mean (SUVbw)</b>2.48" in html
    assert '<td>1</td><td class="num">1.50</td><td class="num">6.4</td>' in html
    assert "NETPET P5 (1 FDG-only lesions)" in html
    assert "18F-FDG coronal MIP, window SUVbw 0–9.9" in html  # 4 x FDG liver 2.48
    assert (tmp_path / "figures" / "fdg_mip_coronal.png").stat().st_size > 1000
    assert len(re.findall(r'src="data:image/png;base64,', html)) == 2 + 2 + 1
    # physiological uptake that was suppressed
    assert "spleen (spleen); kidney (auto); urinary bladder (auto) (not counted as lesions)" in html
    # every image states its window
    assert "68Ga-DOTATATE coronal MIP, window SUVbw 0–28.0" in html  # 4 x liver 7.0
    assert "window SUVbw 0–20.0; CT −160 to 240 HU" in html


def _gradient_column(png: bytes) -> bool:
    """Whether the image holds a colour bar: a column whose grey level runs monotonically
    (either way) over at least a third of the height and spans at least 150 of 255 levels.
    Lesion blobs and body outlines do not: they rise and fall within a few pixels."""
    grey = np.asarray(Image.open(io.BytesIO(png)).convert("L"), dtype=int)
    min_run = grey.shape[0] // 3
    for column in grey.T:
        for sign in (1, -1):
            steps = sign * np.diff(column) >= 0
            start = 0
            for i, ok in enumerate(np.append(steps, False)):
                if not ok:
                    run = column[start : i + 1]
                    if i - start >= min_run and np.ptp(run) >= 150:
                        return True
                    start = i + 1
    return False


def test_every_image_has_a_colour_bar():
    from nenscope.report.figures import lesion_pngs, mip_png

    _, suv, labels, ct = _study()
    assert _gradient_column(mip_png(suv, labels, suv_max_display=20, unit="SUVbw"))
    assert _gradient_column(lesion_pngs(suv, labels, [1], ct=ct, unit="SUVbw")[1])
    assert _gradient_column(lesion_pngs(suv, labels, [2], ct=None, unit="SUVbw")[2])


def _summary_of(agent, activity_mbq, krennings, *, agent_class="sstr", **study):
    lesions = [
        {"id": i + 1, "site": "bone", "krenning": k, "suv_max": 10.0}
        for i, k in enumerate(krennings)
    ]
    return " ".join(
        patient_summary(
            {
                "study": {
                    "agent": agent,
                    "agent_class": agent_class,
                    "injected_activity_mbq": activity_mbq,
                    **study,
                },
                "summary": {"n_lesions": len(lesions)},
                "lesions": lesions,
            }
        )
    )


def test_patient_summary_dose_is_computed_against_natural_background():
    # 222 MBq 111In-pentetreotide x 0.054 mSv/MBq = 12.0 mSv = 3.9 years of 3.1 mSv
    text = _summary_of("111In-pentetreotide", 222.0, [3])
    assert "about 12.0 mSv" in text and "about the same as 4 years of natural" in text
    # 140 MBq 68Ga-DOTATATE = 2.94 mSv = 0.95 years = 11 months
    text = _summary_of("68Ga-DOTATATE", 140.0, [3])
    assert "about 2.9 mSv" in text and "11 months" in text
    assert "If a CT scan is done as well" in text  # CT dose unknown: said so
    # with the CT's dose known, the total is compared with background: 2.94 + 7 = 9.9 mSv
    text = _summary_of("68Ga-DOTATATE", 140.0, [3], ct_effective_dose_msv=7.0)
    assert "The CT scan added about 7.0 mSv. In all that is about 9.9 mSv" in text
    assert "3 years of natural radiation" in text  # 9.94 / 3.1 = 3.2 years


def test_patient_summary_names_only_what_the_agent_binds():
    sstr = _summary_of("68Ga-DOTATATE", 140.0, [3])
    assert "somatostatin receptors" in sstr
    for agent, binds in (
        ("68Ga-exendin-4", "GLP-1 receptor"),
        ("18F-DOPA", "amino-acid transport"),
        ("68Ga-FAPI-04", "fibroblast activation protein"),
        ("68Ga-pentixafor", "CXCR4"),
        ("123I-MIBG", "noradrenaline transporter"),
    ):
        text = _summary_of(agent, 150.0, [None], agent_class="other")
        assert "somatostatin" not in text, agent
        assert binds in text, agent
        assert "liver" not in text  # no Krenning: nothing said about the liver


def test_patient_summary_says_above_the_liver_only_when_true_and_never_announces_prrt():
    assert "All of these spots take up more tracer than the liver." in _summary_of(
        "68Ga-DOTATATE", 140.0, [3, 4]
    )
    some = _summary_of("68Ga-DOTATATE", 140.0, [3, 1])
    assert "1 of the 2 spots takes up more tracer than the liver." in some
    assert "All of these" not in some
    none = _summary_of("68Ga-DOTATATE", 140.0, [1, 2])
    assert "None of these spots take up more tracer than the liver." in none
    for text in (some, none):
        assert "PRRT" not in text and "eligib" not in text
        assert "only after the expert has checked the scan" in text
        assert "A scan without spots does not rule out disease" in text
        assert "final only once your nuclear medicine doctor has checked and signed" in text


def _docs_row(section: str, label: str) -> list[float]:
    """The numbers of the validation tables' rows that start with ``label`` (one per set, the
    section's tables in order)."""
    out: list[float] = []
    for line in (row for row in section.splitlines() if row.startswith(f"| {label}")):
        cells = [c.strip().strip("*").split(" ")[0] for c in line.strip("|").split("|")[1:]]
        out += [float(c.rstrip("%")) for c in cells if c.replace(".", "").rstrip("%").isdigit()]
    return out


def test_detection_limits_are_the_figures_measured_in_docs_analysis():
    from pathlib import Path

    from nenscope.report.sections import detection_limits

    limits = detection_limits()
    docs = (Path(__file__).parents[1] / "docs" / "analysis.md").read_text("utf-8")
    title = limits["source"].split(", ")[-1]  # the section the figures come from
    start = docs.index(f"### {title}")
    section = docs[start : docs.index("\n### ", start + 1)]
    sets = limits["sets"]
    assert _docs_row(section, "sensitivity") == [s["sensitivity_percent"] for s in sets]
    assert _docs_row(section, "false positives") == [s["false_positives_per_patient"] for s in sets]
    assert (
        max(_docs_row(section, "liver SUVmean error"))
        == limits["references"]["liver_error_percent_worst"]
    )
    assert (
        min(_docs_row(section, "Krenning agreement"))
        == limits["references"]["krenning_agreement_percent_worst"]
    )
    assert f"lesions >= {limits['min_diameter_mm']} mm" in section
