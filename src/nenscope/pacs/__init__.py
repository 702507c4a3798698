"""PACS over DICOMweb: find, pull and push studies; DICOM SR measurement reports.

- :class:`Pacs` (QIDO-RS/WADO-RS/STOW-RS with Basic or token authentication, retries with
  back-off, one-line :class:`PacsError` when the PACS is down or refuses);
- :func:`measurement_report` / :func:`write_measurement_report`: TID 1500 SR of the lesions,
  referencing the DICOM-SEG and the source series, SUV units through :func:`suv_rwvm`;
- :func:`analyze_from_pacs`: pull, analyse, write SR, push SEG + SR back.

See docs/pacs.md.
"""

from nenscope.pacs.analyze import PacsAnalysis, analyze_from_pacs, write_dicom_report
from nenscope.pacs.client import (
    Pacs,
    PullResult,
    SeriesMatch,
    StudyMatch,
    dicom_date_range,
    is_pacs_uri,
    parse_pacs_uri,
)
from nenscope.pacs.rwvm import suv_rwvm
from nenscope.pacs.session import PacsAuth, PacsError
from nenscope.pacs.sr import measurement_report, read_measurement_report, write_measurement_report

__all__ = [
    "Pacs",
    "PacsAnalysis",
    "PacsAuth",
    "PacsError",
    "PullResult",
    "SeriesMatch",
    "StudyMatch",
    "analyze_from_pacs",
    "dicom_date_range",
    "is_pacs_uri",
    "measurement_report",
    "parse_pacs_uri",
    "read_measurement_report",
    "suv_rwvm",
    "write_dicom_report",
    "write_measurement_report",
]
