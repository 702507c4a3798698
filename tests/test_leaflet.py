"""Patient leaflets (issue 18 part 5): every exam in the catalogue and 177Lu-DOTATATE PRRT, the
dose sentence computed from the activity, readability, and only the agent's own target named."""

from __future__ import annotations

import json

import pytest

from browser_support import chromium_or_skip
from nenscope.cli import main
from nenscope.errors import NenscopeError
from nenscope.knowledge import get_agent, list_agents
from nenscope.leaflet import (
    TARGET_READING_EASE,
    background_equivalent,
    background_msv_per_year,
    dose_sentence,
    flesch_reading_ease,
    leaflet_for,
    render_html,
)

HUMAN_AGENTS = [a.name for a in list_agents() if a.radionuclide]


@pytest.mark.parametrize("name", HUMAN_AGENTS)
def test_leaflet_for_every_agent_is_readable_and_complete(name):
    leaflet = leaflet_for(name)
    agent = get_agent(name)
    text = leaflet.body_text
    assert flesch_reading_ease(text) >= TARGET_READING_EASE
    headings = [s.heading for s in leaflet.sections]
    assert headings[0] in ("What is this scan?", "What is this treatment?")
    assert "How do I prepare?" in headings and "What do the results mean?" in headings
    assert agent.pregnancy.text in text and agent.breastfeeding.text in text
    assert agent.purpose in text and agent.mechanism in text
    if not agent.is_therapy:
        assert "does not rule out disease" in text
        assert "tumours without " + agent.binds in text


@pytest.mark.parametrize("name", HUMAN_AGENTS)
def test_no_leaflet_names_a_target_the_agent_does_not_bind(name):
    agent = get_agent(name)
    text = leaflet_for(name).body_text.lower()
    assert agent.binds.lower() in text
    for other in list_agents():
        if other.binds != agent.binds and other.binds.lower() not in agent.binds.lower():
            assert other.binds.lower() not in text, other.binds
    if not agent.is_sstr:
        assert "somatostatin" not in text


@pytest.mark.parametrize("name", [n for n in HUMAN_AGENTS if not get_agent(n).is_therapy])
def test_dose_sentence_is_computed_from_the_activity(name):
    leaflet = leaflet_for(name, weight_kg=80.0)
    agent = get_agent(name)
    activity = agent.activity_mbq(80.0)
    assert leaflet.activity_mbq == activity
    expected = round(activity * agent.effective_dose_msv_per_mbq, 2)
    assert leaflet.effective_dose_msv == expected
    sentence = f"about {expected:.1f} mSv"
    assert sentence in leaflet.body_text
    assert background_equivalent(expected) in leaflet.body_text


def test_111in_pentetreotide_is_about_4_years_of_background():
    """12 mSv / 3.1 mSv per year (NCRP 160) = 3.9 years, not 'one or two years'."""
    assert background_msv_per_year() == 3.1
    leaflet = leaflet_for("octreoscan")
    assert leaflet.effective_dose_msv == pytest.approx(12.0, abs=0.05)
    assert "about the same as 4 years of natural radiation" in leaflet.body_text
    assert "4 hours and 24 hours" in leaflet.body_text
    assert "on two days" in leaflet.body_text


@pytest.mark.parametrize(
    ("dose_msv", "words"),
    [
        (12.0, "4 years"),
        (6.2, "2 years"),
        (5.32, "21 months"),
        (2.94, "11 months"),
        (0.3, "5 weeks"),
        (0.05, "6 days"),
        (0.001, "1 day"),
    ],
)
def test_background_equivalent(dose_msv, words):
    assert background_equivalent(dose_msv) == words
    assert words in dose_sentence(dose_msv)


def test_child_leaflet_uses_the_paediatric_dose():
    leaflet = leaflet_for("18F-FDG", weight_kg=35.0, age_years=10.0)
    assert leaflet.activity_mbq == pytest.approx(108.1)
    assert leaflet.effective_dose_msv == pytest.approx(4.0)
    assert "about 4.0 mSv" in leaflet.body_text and "10 years" in leaflet.subtitle


def test_therapy_leaflet_for_prrt():
    leaflet = leaflet_for("lutathera")
    text = leaflet.body_text
    assert leaflet.title == "Treatment with 177Lu-DOTATATE"
    assert "7.4 GBq" in text and "4 treatments, 8 weeks apart" in text
    assert "up to 30 days" in text and "2.5 months" in text
    assert "Stop at least 4 weeks before each treatment" in text
    assert leaflet.effective_dose_msv is None and "mSv" not in text


def test_preclinical_agent_has_no_leaflet():
    with pytest.raises(NenscopeError, match="no exam"):
        leaflet_for("GIPR ligand")
    with pytest.raises(NenscopeError, match="weight"):
        leaflet_for("fdg", weight_kg=-3.0)


def test_html_carries_sections_score_and_sources():
    leaflet = leaflet_for("68Ga-exendin-4")
    html = render_html(leaflet)
    assert "<h2>What is this scan?</h2>" in html and "the GLP-1 receptor" in html
    assert "Flesch reading ease" in html and "NCRP Report No. 160" in html
    assert "Lutathera" not in html  # only the sources of this exam


def test_cli_leaflet_writes_html_and_reports_readability(tmp_path, capsys):
    out = tmp_path / "x" / "fdg.html"
    argv = ["leaflet", "--agent", "fdg", "--weight-kg", "90", "--out", str(out), "--json"]
    assert main(argv) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["files"] == [str(out)] and out.exists()
    assert data["activity_mbq"] == 360.0 and data["effective_dose_msv"] == pytest.approx(6.84)
    assert data["flesch_reading_ease"] >= data["target_reading_ease"] == TARGET_READING_EASE
    assert "about 6.8 mSv" in out.read_text("utf-8")
    assert main(["leaflet", "--agent", "gipr", "--out", str(tmp_path / "g.html")]) == 2
    assert capsys.readouterr().err.startswith("error: GIPR ligand is preclinical")


def test_cli_leaflet_pdf_without_chromium_is_a_clear_error(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("NENSCOPE_CHROMIUM", str(tmp_path / "no-such-chromium"))
    argv = ["leaflet", "--agent", "lutathera", "--out", str(tmp_path / "lu.html"), "--pdf"]
    assert main(argv) == 2
    assert "headless Chromium" in capsys.readouterr().err


def test_cli_leaflet_pdf_through_headless_chromium(tmp_path, capsys):
    chromium_or_skip()
    out = tmp_path / "lu.html"
    assert main(["leaflet", "--agent", "lutathera", "--out", str(out), "--pdf"]) == 0
    pdf = out.with_suffix(".pdf").read_bytes()
    assert pdf.startswith(b"%PDF") and len(pdf) > 10_000
    assert "reading ease" in capsys.readouterr().out
