"""The report of a dosimetry run: one self-contained HTML file (TAC and DVH figures embedded)."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from nenscope import __version__
from nenscope.atomic import write_text_atomic
from nenscope.dosimetry import DosimetryResult
from nenscope.report.figures import data_uri, dvh_png, tac_png
from nenscope.report.format import fmt, render_template


def render_dosimetry_report(
    result: DosimetryResult,
    *,
    patient_id: str | None = None,
    study_instance_uid: str | None = None,
) -> str:
    """The report as one HTML string (no external resources), naming the patient by ID and
    the study of the first time point when known."""
    dvh = dvh_png(result)
    doc = result.to_dict()
    return render_template(
        "dosimetry.html.j2",
        method=result.method,
        patient_id=patient_id,
        study_instance_uid=study_instance_uid,
        sex=result.sex,
        injected=f"{result.injected_gbq:.3g} GBq" if result.injected_gbq else "unknown",
        version=__version__,
        warnings=result.warnings,
        regions=doc["regions"],
        projection=doc["projection"],
        marrow=doc["marrow"],
        plan_comparison=doc["plan_comparison"],
        dvhs=result.dvhs,
        tac_uri=data_uri(tac_png(result)),
        dvh_uri=data_uri(dvh) if dvh is not None else None,
        fmt=partial(fmt, spec=".3g", missing="–"),
    )


def write_dosimetry_report(
    result: DosimetryResult,
    path: str | Path,
    *,
    patient_id: str | None = None,
    study_instance_uid: str | None = None,
) -> Path:
    """Write the report to ``path`` (``report.html``); return it."""
    html = render_dosimetry_report(
        result, patient_id=patient_id, study_instance_uid=study_instance_uid
    )
    return write_text_atomic(path, html)
