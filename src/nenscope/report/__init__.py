"""The report: self-contained HTML with MIPs, lesion thumbnails and tables; PDF via Chromium."""

from nenscope.report.html import render_report, write_report
from nenscope.report.pdf import find_chromium, html_to_pdf, screenshot
from nenscope.report.summary import exam_dose, patient_summary

__all__ = [
    "exam_dose",
    "find_chromium",
    "html_to_pdf",
    "patient_summary",
    "render_report",
    "screenshot",
    "write_report",
]
