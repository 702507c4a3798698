"""The reports: one system for the analysis and the dosimetry report.

Self-contained HTML (Jinja templates in ``templates/``, figures embedded as PNG), one set of
format helpers (:mod:`.format`: :func:`~nenscope.report.format.fmt`, also used by the CLI)
and figure helpers (:mod:`.figures`); PDF through headless Chromium (:mod:`.pdf`).

- :mod:`.analysis`: :func:`write_report` — the physician's report of ``nenscope analyze``
- :mod:`.dosimetry`: :func:`write_dosimetry_report` — the report of ``nenscope dosimetry``
- :mod:`.summary`: the exam's dose and the plain-language summary

The names below are imported on first use, so ``nenscope.report.format`` stays light (no
matplotlib) for the command line.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nenscope.report.analysis import render_report, report_figures, write_report
    from nenscope.report.dosimetry import render_dosimetry_report, write_dosimetry_report
    from nenscope.report.pdf import find_chromium, html_to_pdf, screenshot
    from nenscope.report.summary import exam_dose, patient_summary

_EXPORTS = {
    "render_report": "analysis",
    "report_figures": "analysis",
    "write_report": "analysis",
    "render_dosimetry_report": "dosimetry",
    "write_dosimetry_report": "dosimetry",
    "find_chromium": "pdf",
    "html_to_pdf": "pdf",
    "screenshot": "pdf",
    "exam_dose": "summary",
    "patient_summary": "summary",
}

__all__ = [
    "exam_dose",
    "find_chromium",
    "html_to_pdf",
    "patient_summary",
    "render_dosimetry_report",
    "render_report",
    "report_figures",
    "screenshot",
    "write_dosimetry_report",
    "write_report",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
