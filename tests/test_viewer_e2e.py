"""The viewer end to end in headless Chromium (Debian's package, driven by Playwright): sign
in, upload a simulated study, run the analysis, see the lesion table, click a lesion (the
crosshair goes to its centre), reject it, add it back by the crosshair, write the impression,
sign; the screenshot shows the fused PET/CT with green lesion outlines. The screenshot is
saved in the test's folder and copied to ``$NENSCOPE_ARTEFACTS`` when that is set (CI)."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
from matplotlib.image import imread
from playwright.sync_api import expect

from browser_support import chromium_browser, keep_artefact
from nenscope.service import Settings, create_app
from nenscope.store.users import add_user
from service_support import TOKEN, live_server, simulate, study_zip

pytestmark = [pytest.mark.xdist_group("viewer_e2e"), pytest.mark.slow]

# WebGL2 without a GPU: Chromium's software renderer
CHROMIUM_ARGS = ["--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--ignore-gpu-blocklist"]
SLOW_MS = 600_000  # an analysis on a loaded 2-core machine


@pytest.fixture(scope="module")
def browser():
    yield from chromium_browser(CHROMIUM_ARGS)


def _colours(png: bytes) -> dict[str, int]:
    """Pixel counts of the fused image's parts: grey CT, hot PET, green outlines."""
    rgb = (imread(io.BytesIO(png), format="png")[..., :3] * 255).astype(int)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    return {
        "grey": int(((abs(r - g) < 8) & (abs(g - b) < 8) & (r > 40) & (r < 230)).sum()),
        "hot": int(((r > 180) & (b < 90) & (r - g > 60)).sum()),
        "green": int(((g > 150) & (r < 90) & (b < 90)).sum()),
    }


def test_upload_analyse_review_and_sign_in_the_browser(browser, tmp_path):
    zip_path = tmp_path / "study.zip"
    zip_path.write_bytes(study_zip(simulate(tmp_path / "study")))
    app = create_app(Settings(data_dir=tmp_path / "data", token=TOKEN))
    with app.state.store.transaction() as s:
        physician = add_user(s, "dr-viewer", "physician")
    errors: list[str] = []
    with live_server(app) as url:
        page = browser.new_page(viewport={"width": 1700, "height": 950})
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("dialog", lambda dialog: dialog.accept())
        page.goto(url)
        page.fill("#token", physician)
        page.click("#login")
        expect(page.locator("#whoami")).to_have_text("dr-viewer (physician)")

        page.set_input_files("#files", str(zip_path))
        page.click("#upload")
        expect(page.locator("#studies tr")).to_have_count(1, timeout=SLOW_MS)
        page.click("#analyse")
        rows = page.locator("#lesions tr")
        expect(rows.first).to_be_visible(timeout=SLOW_MS)
        lesions = page.evaluate("nenscope.state.review.lesions")
        assert rows.count() == len(lesions) >= 3

        first = page.locator('#lesions tr[data-number="1"]')
        first.click()
        centre = np.array(lesions[0]["lesion"]["center_mm"])
        crosshair = np.array(page.evaluate("nenscope.viewer.crosshairLps()"))
        assert np.linalg.norm(crosshair - centre) < 8.0  # within one 8 mm voxel
        expect(page.locator("#location")).to_contain_text("SUV")

        first.locator("button.reject").click()
        expect(first).to_have_class(re.compile("rejected"))
        page.click("#add-at-crosshair")
        expect(page.locator("#lesions tr.added")).to_have_count(1)
        added = page.evaluate("nenscope.state.review.lesions.at(-1).lesion")
        assert added["suv_max"] == pytest.approx(lesions[0]["lesion"]["suv_max"], abs=1e-3)
        page.fill("#impression", "SSTR-positive disease; the soft-tissue focus re-added.")
        page.click("#save-impression")
        page.click("#sign")
        expect(page.locator("#signed")).to_contain_text("SHA-256", timeout=60_000)
        expect(page.locator("#sign")).to_be_disabled()

        page.wait_for_timeout(500)  # the outline layer reloaded after the last change
        fused = _colours(page.locator("#gl").screenshot())
        shot = tmp_path / "viewer.png"
        page.screenshot(path=str(shot), full_page=True)
        page.close()
    keep_artefact(shot, "viewer_e2e.png")
    assert errors == []
    assert fused["grey"] > 1000 and fused["hot"] > 1000 and fused["green"] > 50, fused
