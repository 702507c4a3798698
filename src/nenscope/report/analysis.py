"""The physician's report of an analysis: one self-contained HTML file (images embedded).

:func:`write_report` takes the ``findings.json`` dictionary and the volumes it was computed
from; it writes ``report.html`` and the figures as PNG files beside it.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import highdicom as hd
import numpy as np

from nenscope import __version__
from nenscope.atomic import write_bytes_atomic
from nenscope.report.figures import data_uri, lesion_pngs, mip_png
from nenscope.report.format import fmt, render_template
from nenscope.report.summary import exam_dose, patient_summary

METHOD = (
    "Reference regions (liver, spleen, blood pool) are found automatically from CT and PET. "
    "Lesions are voxels above a liver-relative threshold after suppression of the agent's "
    "physiological uptake, split into connected components. SUVpeak is the highest mean in a "
    "1 cm³ sphere with partial-voxel weights. Krenning score on SSTR imaging: 1 below liver, "
    "2 about liver, 3 above liver, 4 above spleen. SSTR-RADS 1.0 after Werner et al. "
    "(J Nucl Med 2018); NETPET after Chan et al. (Theranostics 2017)."
)


def _display_max(findings: dict[str, Any]) -> float | None:
    liver = findings.get("reference", {}).get("liver_suv_mean")
    if liver:
        return float(np.clip(4.0 * liver, 5.0, 40.0))
    return None


def render_report(
    findings: dict[str, Any],
    suv: hd.Volume,
    labels: hd.Volume | None,
    *,
    ct_on_pet_grid: hd.Volume | None = None,
    figures_dir: Path | None = None,
    title: str = "NEN molecular imaging report",
) -> str:
    """Return the report as one HTML string (figures embedded as base64 PNG).

    Parameters
    ----------
    findings : the ``findings.json`` dictionary (study, reference, lesions, summary).
    suv : SUV volume the findings were measured on.
    labels : lesion label volume on the same grid (lesion ``id`` per voxel), or None.
    ct_on_pet_grid : CT resampled onto the SUV grid, for fused thumbnails.
    figures_dir : if given, each figure is also written there as PNG.
    """
    vmax = _display_max(findings)
    agent = findings.get("study", {}).get("agent") or ""
    mips = []
    for view in ("coronal", "sagittal"):
        png = mip_png(suv, labels, view=view, suv_max_display=vmax)
        mips.append(
            {
                "uri": data_uri(png),
                "caption": f"{view} MIP, SUV 0–{fmt(vmax, '.0f')} {agent}".strip(),
                "png": png,
                "name": f"mip_{view}.png",
            }
        )
    thumbs = []
    lesions = findings.get("lesions", [])
    if labels is not None and lesions:
        pngs = lesion_pngs(suv, labels, [int(les["id"]) for les in lesions], ct=ct_on_pet_grid)
        for lesion in lesions:
            png = pngs[int(lesion["id"])]
            caption = f"{lesion.get('site', '')} · SUVmax {fmt(lesion.get('suv_max'), '.1f')}"
            thumbs.append(
                {
                    "id": lesion["id"],
                    "uri": data_uri(png),
                    "caption": caption,
                    "png": png,
                    "name": f"lesion_{int(lesion['id']):03d}.png",
                }
            )
    if figures_dir is not None:
        for fig in (*mips, *thumbs):
            write_bytes_atomic(Path(figures_dir) / fig["name"], fig["png"])
    return render_template(
        "analysis.html.j2",
        title=title,
        study=findings.get("study", {}),
        reference=findings.get("reference", {}),
        summary=findings.get("summary", {}),
        lesions=lesions,
        has_fdg=any(les.get("fdg_suv_max") is not None for les in lesions),
        mips=mips,
        thumbs=thumbs,
        dose=exam_dose(findings.get("study", {})),
        patient_lines=patient_summary(findings),
        warnings=findings.get("warnings", []),
        method=METHOD,
        fmt=fmt,
        version=__version__,
        generated=datetime.now().strftime("%Y-%m-%d %H:%M"),
    )


def write_report(
    findings: dict[str, Any],
    suv: hd.Volume,
    labels: hd.Volume | None,
    out_dir: Path,
    *,
    ct_on_pet_grid: hd.Volume | None = None,
) -> Path:
    """Write ``out_dir/report.html`` and ``out_dir/figures/*.png``; return the HTML path."""
    out_dir = Path(out_dir)
    html = render_report(
        findings, suv, labels, ct_on_pet_grid=ct_on_pet_grid, figures_dir=out_dir / "figures"
    )
    path = out_dir / "report.html"
    write_bytes_atomic(path, html.encode("utf-8"))
    return path
