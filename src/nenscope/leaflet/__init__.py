"""Patient leaflets for every exam in the tracer catalogue and for 177Lu-DOTATATE PRRT.

:func:`leaflet_for` builds the plain-language content from the catalogue (what the tracer
binds, preparation, timing, dose computed for the patient against natural background,
pregnancy and breast-feeding, what the results mean); :func:`write_leaflet` writes HTML and,
through headless Chromium, PDF. The sentences in :mod:`nenscope.leaflet.phrases` are shared with
the report's patient summary.
"""

from nenscope.leaflet.content import Leaflet, Section, leaflet_for
from nenscope.leaflet.phrases import (
    background_equivalent,
    background_msv_per_year,
    binding_sentence,
    dose_sentence,
    results_sentences,
)
from nenscope.leaflet.readability import TARGET_READING_EASE, flesch_reading_ease
from nenscope.leaflet.render import render_html, write_leaflet

__all__ = [
    "TARGET_READING_EASE",
    "Leaflet",
    "Section",
    "background_equivalent",
    "background_msv_per_year",
    "binding_sentence",
    "dose_sentence",
    "flesch_reading_ease",
    "leaflet_for",
    "render_html",
    "results_sentences",
    "write_leaflet",
]
