"""Radionuclide and radiopharmaceutical from the DICOM RadiopharmaceuticalInformationSequence.

The radionuclide comes from RadionuclideCodeSequence (0054,0300): the code value (SNOMED CT,
or the SNOMED-RT of DICOM PS3.16 CID 4020) through
:func:`nenscope.knowledge.radionuclides.nuclide_from_code`, else the code meaning text
(``^18^Fluorine``, ``18F``, ``Ga-68``, ``Lutetium-177``...). The agent is matched against the
nenscope tracer catalogue (``nenscope.knowledge.tracers``) by name or alias and radionuclide;
unrecognised text is kept as written. Half-lives and other radionuclide facts come from
:mod:`nenscope.knowledge.radionuclides`.
"""

from __future__ import annotations

import re
from functools import lru_cache

from pydicom.dataset import Dataset

from nenscope.errors import NenscopeError
from nenscope.imaging._dicom import get_str
from nenscope.knowledge.radionuclides import ELEMENT_SYMBOLS, canonical_nuclide, nuclide_from_code

__all__ = [
    "agent_from_item",
    "agent_name",
    "nuclide_from_item",
    "parse_nuclide",
    "radiopharmaceutical_item",
]

_MASS = re.compile(r"(\d{1,3})\s*(m\d?)?(?![\d.])")
_WORD = re.compile(r"[A-Za-z]+")


def parse_nuclide(text: str | None) -> str | None:
    """Canonical ``"Ga-68"`` from free text (``^68^Gallium``, ``68Ga``, ``Ga-68``, ``F18``...).

    Returns ``None`` when no radionuclide can be recognised.
    """
    if not text:
        return None
    raw = text.replace("^", " ").replace("-", " ")
    masses = _MASS.findall(raw)
    words = _WORD.findall(raw)
    for mass, meta in masses:
        for w in words:
            symbol = ELEMENT_SYMBOLS.get(w.lower())
            candidates = [symbol] if symbol else []
            if len(w) <= 2:
                candidates.append(w)
            elif w[:-1].lower() in ("m",):
                continue
            for sym in candidates:
                try:
                    return canonical_nuclide(f"{sym}-{mass}{meta or ''}")
                except NenscopeError:
                    continue
    # forms like "F18", "Ga68", "Tc99m" glued together
    m = re.search(r"\b([A-Za-z]{1,2})(\d{1,3})(m)?\b", text)
    if m:
        try:
            return canonical_nuclide(f"{m.group(1)}-{m.group(2)}{m.group(3) or ''}")
        except NenscopeError:
            pass
    return None


def radiopharmaceutical_item(ds: Dataset) -> Dataset | None:
    """First item of RadiopharmaceuticalInformationSequence (0054,0016), or ``None``."""
    try:
        seq = ds.get("RadiopharmaceuticalInformationSequence")
        return seq[0] if seq else None
    except Exception:
        return None


def _code_meaning(item: Dataset, keyword: str) -> tuple[str | None, str | None]:
    try:
        seq = item.get(keyword)
        if seq:
            return get_str(seq[0], "CodeValue"), get_str(seq[0], "CodeMeaning")
    except Exception:
        pass
    return None, None


def nuclide_from_item(item: Dataset | None) -> str | None:
    """Radionuclide of a RadiopharmaceuticalInformationSequence item (code, meaning, text)."""
    if item is None:
        return None
    code, meaning = _code_meaning(item, "RadionuclideCodeSequence")
    nuclide = nuclide_from_code(code)
    if nuclide:
        return nuclide
    for text in (
        meaning,
        get_str(item, "Radiopharmaceutical"),
        _code_meaning(item, "RadiopharmaceuticalCodeSequence")[1],
    ):
        nuclide = parse_nuclide(text)
        if nuclide:
            return nuclide
    return None


def _key(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch.isalnum())


@lru_cache(maxsize=1)
def _agent_keys() -> list[tuple[str, str, str]]:
    """(search key, agent name, radionuclide) for every catalogue name/alias, longest first."""
    from nenscope.knowledge.tracers import list_agents

    keys = []
    for agent in list_agents():
        ligand = re.sub(r"^\d+[A-Za-z]{1,2}-", "", agent.name)
        for alias in {agent.name, ligand, *agent.aliases}:
            k = _key(alias)
            if len(k) >= 3:
                keys.append((k, agent.name, agent.radionuclide))
    keys.sort(key=lambda t: -len(t[0]))
    return keys


def agent_name(text: str | None, nuclide: str | None) -> str | None:
    """Catalogue name of the agent described by ``text`` (e.g. ``"FDG -- fluorodeoxyglucose"``
    with ``"F-18"`` gives ``"18F-FDG"``), or ``text`` itself when it is not recognised."""
    if not text:
        return None
    key = _key(text)
    for k, name, agent_nuclide in _agent_keys():
        if k in key and (nuclide is None or not agent_nuclide or agent_nuclide == nuclide):
            return name
    return text


def agent_from_item(item: Dataset | None, nuclide: str | None) -> str | None:
    """Agent from RadiopharmaceuticalCodeSequence meaning, else Radiopharmaceutical (0018,0031)."""
    if item is None:
        return None
    texts = [
        _code_meaning(item, "RadiopharmaceuticalCodeSequence")[1],
        get_str(item, "Radiopharmaceutical"),
    ]
    texts = [t for t in texts if t]
    for t in texts:
        name = agent_name(t, nuclide)
        if name != t:
            return name
    return texts[0] if texts else None
