"""The report of a dosimetry run: one self-contained HTML file (TAC and DVH figures embedded)."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from nenscope import __version__
from nenscope.atomic import write_text_atomic
from nenscope.dosimetry import DosimetryResult
from nenscope.report.figures import data_uri, dvh_png, tac_png
from nenscope.report.format import fmt, render_template


def render_dosimetry_report(result: DosimetryResult) -> str:
    """The report as one HTML string (no external resources)."""
    dvh = dvh_png(result)
    return render_template(
        "dosimetry.html.j2",
        method=result.method,
        sex=result.sex,
        injected=f"{result.injected_gbq:.3g} GBq" if result.injected_gbq else "unknown",
        version=__version__,
        warnings=result.warnings,
        regions=result.to_dict()["regions"],
        dvhs=result.dvhs,
        tac_uri=data_uri(tac_png(result)),
        dvh_uri=data_uri(dvh) if dvh is not None else None,
        fmt=partial(fmt, spec=".3g", missing="–"),
    )


def write_dosimetry_report(result: DosimetryResult, path: str | Path) -> Path:
    """Write the report to ``path`` (``report.html``); return it."""
    return write_text_atomic(path, render_dosimetry_report(result))
