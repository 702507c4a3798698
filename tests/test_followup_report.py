"""The comparison report: content, matched numbering, and its rendering in headless Chromium."""

from __future__ import annotations

import highdicom as hd
import matplotlib.image as mpimg
import numpy as np
import pytest

from browser_support import chromium_browser, chromium_or_skip, keep_artefact
from nenscope.followup.criteria import sstr_uptake, sstr_volume
from nenscope.followup.report import entry_label_maps, write_comparison_report
from nenscope.report import html_to_pdf, screenshot

SHAPE = (40, 24, 24)


def _volume(arr: np.ndarray) -> hd.Volume:
    affine = np.array([[0, 0, 4.0, 0], [0, 4.0, 0, 0], [-4.0, 0, 0, 0], [0, 0, 0, 1.0]])
    return hd.Volume(arr, affine, "PATIENT", frame_of_reference_uid="1.2.3")


def _images():
    suv = np.full(SHAPE, 1.0, np.float32)
    prior = np.zeros(SHAPE, np.int32)
    current = np.zeros(SHAPE, np.int32)
    prior[8:12, 10:14, 5:9] = 1
    prior[25:29, 10:14, 14:18] = 2
    current[8:13, 10:14, 5:10] = 2  # prior 1 grew, now numbered 2
    current[30:33, 10:13, 10:13] = 1  # new
    suv[(prior > 0) | (current > 0)] = 12.0
    return _volume(suv), _volume(prior), _volume(current)


def _comparison() -> dict:
    responses = [sstr_volume(3.0, 4.5, 1), sstr_uptake([3.0], [2.5], n_new=1)]
    lesions = [
        dict(
            status="paired",
            current_id=2,
            prior_id=1,
            center_mm=[1, 2, 3],
            site="liver",
            suv_max_prior=10.0,
            suv_max_current=12.0,
            suv_peak_prior=8.0,
            suv_peak_current=9.5,
            volume_ml_prior=1.0,
            volume_ml_current=1.6,
            volume_change_pct=60.0,
            volume_pvc_change_pct=45.0,
            suv_max_change_pct=20.0,
            krenning_prior=3,
            krenning_current=4,
        ),
        dict(
            status="new",
            current_id=1,
            prior_id=None,
            center_mm=[4, 5, 6],
            site="bone",
            suv_max_prior=None,
            suv_max_current=9.0,
            suv_peak_prior=None,
            suv_peak_current=7.0,
            volume_ml_prior=None,
            volume_ml_current=0.5,
            volume_change_pct=None,
            volume_pvc_change_pct=None,
            suv_max_change_pct=None,
            krenning_prior=None,
            krenning_current=3,
        ),
        dict(
            status="disappeared",
            current_id=None,
            prior_id=2,
            center_mm=[7, 8, 9],
            site="lymph node",
            suv_max_prior=7.0,
            suv_max_current=None,
            suv_peak_prior=5.0,
            suv_peak_current=None,
            volume_ml_prior=0.8,
            volume_ml_current=None,
            volume_change_pct=-100.0,
            volume_pvc_change_pct=-100.0,
            suv_max_change_pct=None,
            krenning_prior=3,
            krenning_current=None,
        ),
    ]
    patient = dict(
        sstr_tv_ml_prior=3.0,
        sstr_tv_ml_current=4.5,
        sstr_tv_change_pct=50.0,
        tumour_volume_pvc_ml_prior=3.5,
        tumour_volume_pvc_ml_current=5.0,
        tumour_volume_pvc_change_pct=42.9,
        tl_sstr_prior=30.0,
        tl_sstr_current=50.0,
        tl_sstr_change_pct=66.7,
        n_new=1,
        n_disappeared=1,
        n_paired=1,
        n_split=0,
        n_merged=0,
        response={r.criterion: r.category for r in responses},
        response_details=[r.to_dict() for r in responses],
    )
    return dict(
        lesions=lesions,
        patient=patient,
        registration=dict(method="rigid (CT)", ncc_rigid=0.97, ncc_final=0.97, ncc_threshold=0.95),
        current=dict(scan_start_datetime="2026-04-16T10:00:00"),
        prior=dict(scan_start_datetime="2026-01-15T10:00:00"),
        warnings=["a note"],
    )


def _write(tmp_path):
    suv, prior, current = _images()
    findings = {"reference": {"liver_suv_mean": 6.0}, "study": {"agent": "68Ga-DOTATATE"}}
    return write_comparison_report(
        _comparison(),
        tmp_path,
        prior_suv=suv,
        prior_labels=prior,
        current_suv=suv,
        current_labels=current,
        prior_findings=findings,
        current_findings=findings,
    )


def test_entry_numbers_mark_the_same_lesion_on_both_studies():
    _, prior, current = _images()
    cur_n, pri_n = entry_label_maps(
        _comparison(), np.asarray(current.array), np.asarray(prior.array)
    )
    # entry 1 is prior lesion 1 = current lesion 2; entry 2 the new current 1; entry 3 prior 2
    assert set(np.unique(cur_n[np.asarray(current.array) == 2])) == {1}
    assert set(np.unique(pri_n[np.asarray(prior.array) == 1])) == {1}
    assert set(np.unique(cur_n[np.asarray(current.array) == 1])) == {2}
    assert set(np.unique(pri_n[np.asarray(prior.array) == 2])) == {3}


def test_report_holds_the_table_the_criteria_and_both_figures(tmp_path):
    html = _write(tmp_path).read_text("utf-8")
    for text in (
        "paired",
        "new",
        "disappeared",
        "+60 %",
        "+45 %",
        "SSTR tumour volume (volumetric, research)",
        "research criterion, no consensus",
        "No consensus response criterion",
        "Henson",
        "Haug",
        "rigid (CT)",
        "a note",
        "3 → 4",
    ):
        assert text in html, text
    assert html.count("data:image/png;base64,") == 2  # waterfall and the MIP pair
    assert "http://" not in html and "https://" not in html  # self-contained


def test_report_renders_in_headless_chromium(tmp_path):
    chromium_or_skip()
    html = _write(tmp_path)
    pdf = html_to_pdf(html, tmp_path / "report.pdf")
    assert pdf.read_bytes().startswith(b"%PDF") and pdf.stat().st_size > 20_000
    png = screenshot(html, tmp_path / "report.png", width=1100, height=1800)
    img = mpimg.imread(png)
    # the page is drawn: a white page with dark text and the grey-scale MIPs, not blank
    assert img.shape[0] == 1800 and img[..., :3].std() > 0.1


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium driven by Playwright."""
    yield from chromium_browser()


def test_comparison_section_is_visible_in_playwright(browser, tmp_path):
    """The lesion table (one row per entry, numbered as on the MIPs), the waterfall plot and
    the side-by-side MIPs are drawn; the screenshot is kept (``$NENSCOPE_ARTEFACTS`` in CI)."""
    from playwright.sync_api import expect

    html = _write(tmp_path)
    errors: list[str] = []
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(html.resolve().as_uri())
    table = page.locator("h2:has-text('Lesions') + table")
    expect(table).to_be_visible()
    rows = table.locator("tr")
    expect(rows).to_have_count(4)  # header + paired, new, disappeared
    assert [rows.nth(i).locator("td").first.inner_text() for i in (1, 2, 3)] == ["1", "2", "3"]
    expect(rows.nth(1)).to_contain_text("paired")
    for alt in ("waterfall plot", "coronal MIPs of the prior and the current study"):
        img = page.locator(f"img[alt^='{alt}']")
        expect(img).to_be_visible()
        img.scroll_into_view_if_needed()
        width = img.evaluate("e => e.complete ? e.naturalWidth : 0")
        box = img.bounding_box()
        assert width > 300 and box is not None and box["width"] > 300, alt
    expect(
        page.locator("figcaption", has_text="the same number marks the same lesion")
    ).to_be_visible()
    shot = tmp_path / "comparison_report.png"
    page.screenshot(path=str(shot), full_page=True)
    page.close()
    keep_artefact(shot, "comparison_report.png")
    assert errors == []
    img = mpimg.imread(shot)
    assert img.shape[0] > 900 and img[..., :3].std() > 0.1
