"""HTML (Jinja2) and PDF (headless Chromium, via :func:`nenscope.report.html_to_pdf`) leaflets."""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from nenscope.atomic import write_bytes_atomic
from nenscope.leaflet.content import Leaflet
from nenscope.leaflet.readability import TARGET_READING_EASE, flesch_reading_ease


def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("nenscope.leaflet", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_html(leaflet: Leaflet) -> str:
    """The leaflet as a self-contained HTML page (with its reading-ease score and sources)."""
    template = _environment().get_template("leaflet.html.j2")
    return template.render(
        leaflet=leaflet,
        reading_ease=flesch_reading_ease(leaflet.body_text),
        target=TARGET_READING_EASE,
    )


def write_leaflet(leaflet: Leaflet, out_html: Path, *, pdf: bool = False) -> list[Path]:
    """Write ``out_html`` (and ``out_html`` with ``.pdf`` when ``pdf``); return the paths."""
    out_html = Path(out_html)
    out_html.parent.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(out_html, render_html(leaflet).encode("utf-8"))
    written = [out_html]
    if pdf:
        from nenscope.report import html_to_pdf  # Chromium helper; heavy imports only here

        written.append(html_to_pdf(out_html, out_html.with_suffix(".pdf")))
    return written
