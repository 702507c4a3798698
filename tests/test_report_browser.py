"""The analysis report of a demo-like run (68Ga-DOTATATE with its 18F-FDG study, simulated) in
headless Chromium (Debian's package, driven by Playwright): every structured section is there
and visible, shows the values of findings.json, and every image is drawn. The full-page
screenshot is saved in the test's folder and copied to ``$NENSCOPE_ARTEFACTS`` when that is
set (CI), as ``report_analysis.png``."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect

from browser_support import chromium_browser, keep_artefact
from conftest import write_sstr_fdg_pair
from nenscope.jobs.analyze import run_analysis
from nenscope.report.sections import detection_limits
from nenscope.report.summary import exam_dose
from nenscope.simulation.activity import agent_uptake

SECTIONS = {
    "indication": "Indication",
    "technique": "Technique",
    "comparison": "Comparison",
    "findings": "Findings",
    "fdg": "FDG study (NETPET)",
    "impression": "Impression (draft)",
    "limits": "Detection limits of the method",
    "patient": "For the patient",
    "method": "Method",
}
INDICATION = "Pre-PRRT work-up of a G2 neuroendocrine tumour"
PRIOR = "68Ga-DOTATATE PET/CT of 2025-06-01"
# one worker analyses the pair and starts Chromium once for the three tests (--dist loadgroup)
pytestmark = [pytest.mark.xdist_group("report_browser"), pytest.mark.slow]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """The SSTR and FDG studies of one virtual patient, analysed as ``make demo`` does."""
    root = write_sstr_fdg_pair(tmp_path_factory.mktemp("report_browser"))
    run_analysis(
        root / "sstr", root / "out", fdg_path=root / "fdg", indication=INDICATION, prior=PRIOR
    )
    findings = json.loads((root / "out" / "findings.json").read_text("utf-8"))
    return root / "out", findings


@pytest.fixture(scope="module")
def browser():
    yield from chromium_browser()


@pytest.fixture(scope="module")
def page(run, browser):
    out, _ = run
    page = browser.new_page(viewport={"width": 1200, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto((out / "report.html").as_uri())
    yield page
    assert errors == []


def _text(page, section: str) -> str:
    return page.locator(f"section#{section}").inner_text()


def test_every_section_is_present_visible_and_titled(page, run, tmp_path):
    for section, heading in SECTIONS.items():
        locator = page.locator(f"section#{section}")
        expect(locator).to_have_count(1)
        expect(locator).to_be_visible()
        expect(locator.locator("h2, h3").first).to_have_text(heading)
    shot = tmp_path / "report_analysis.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 100_000
    keep_artefact(shot, "report_analysis.png")


def test_sections_show_the_values_of_findings_json(page, run):
    _, findings = run
    study, ref, fdg_ref = findings["study"], findings["reference"], findings["fdg_reference"]
    assert INDICATION in _text(page, "indication")
    assert PRIOR in _text(page, "comparison")
    technique = _text(page, "technique")
    # both studies, each with its activity, injection time, uptake time and the SUV type
    assert f"{study['injected_activity_mbq']:.0f} MBq" in technique
    assert "18F-FDG" in technique and "SUVbw (body weight)" in technique
    # the uptake times are read from the headers (the simulator scans at the agent's time)
    rows = page.locator("section#technique tr").all()[1:]
    for row, tracer in zip(rows, ("68Ga-DOTATATE", "18F-FDG"), strict=True):
        cells = row.locator("td").all_inner_texts()
        assert cells[1] == tracer and cells[6] == "SUVbw (body weight)"
        assert cells[5] == f"{agent_uptake(tracer)['uptake_min']:.0f} min"
    dose = exam_dose(study)["effective_dose_msv"]
    assert f"{dose:.2f} mSv" in technique
    found = _text(page, "findings")
    assert f"{ref['liver_suv_mean']:.2f}" in found and f"{ref['spleen_suv_mean']:.2f}" in found
    for organ in findings["summary"]["suppressed"]:
        assert organ in found
    rows = page.locator("#lesion-table tr")
    assert rows.count() == len(findings["lesions"]) + 1
    for row, lesion in zip(rows.all()[1:], findings["lesions"], strict=True):
        cells = row.locator("td").all_inner_texts()
        assert cells[:4] == [
            str(lesion["id"]),
            lesion["site"],
            f"{lesion['volume_ml']:.2f}",
            f"{lesion['suv_max']:.1f}",
        ]
    fdg = _text(page, "fdg")
    assert f"{fdg_ref['liver_suv_mean']:.2f}" in fdg
    assert findings["summary"]["netpet"] in fdg
    impression = _text(page, "impression")
    assert "for the reporting physician to review" in impression
    assert all(f"#{les['id']} {les['site']}" in impression for les in findings["lesions"])
    limits = _text(page, "limits")
    assert all(
        f"{s['sensitivity_percent']:g} % sensitivity" in limits for s in detection_limits()["sets"]
    )
    patient = _text(page, "patient")
    assert f"about {dose:.1f} mSv" in patient and "does not rule out disease" in patient


def test_every_image_is_drawn_with_its_window(page, run):
    _, findings = run
    images = page.locator("img")
    # coronal and sagittal MIPs, one fused image per lesion, the FDG MIP
    assert images.count() == 2 + len(findings["lesions"]) + 1
    for img in images.all():
        expect(img).to_be_visible()
        assert img.evaluate("i => i.complete && i.naturalWidth > 100")
    captions = page.locator("figcaption").all_inner_texts()
    assert all("window SUVbw 0–" in c for c in captions), captions
