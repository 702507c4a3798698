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
from nenscope.report.sections import (
    DRAFT_NOTE,
    clinical,
    clock,
    impression_lines,
    limits_lines,
    suv_type,
    technique_rows,
)
from nenscope.report.summary import exam_dose, patient_summary

METHOD = (
    "Reference regions (liver, spleen, blood pool in the descending aorta) are found "
    "automatically from CT and PET. Lesions are voxels above a liver-relative threshold after "
    "suppression of the agent's physiological uptake, split into connected components. "
    "SUVpeak is the highest mean in a 1 cm³ sphere with partial-voxel weights. SSTR-RADS 1.0 "
    "after Werner et al. (J Nucl Med 2018); NETPET after Chan et al. (Theranostics 2017)."
)


def method_lines(findings: dict[str, Any]) -> list[str]:
    """The report's method section: the general method, then what this analysis compared
    (``findings["method"]``: the agent's reading, the Krenning comparison, the
    partial-volume correction and the PRRT criterion)."""
    m = findings.get("method") or {}
    return [METHOD] + [str(m[k]) for k in ("reading", "krenning", "prrt", "pvc") if m.get(k)]


def _display_max(reference: dict[str, Any] | None) -> float | None:
    """Upper end of the MIP window: 4 x the liver SUVmean, within SUV 5-40."""
    liver = (reference or {}).get("liver_suv_mean")
    if liver:
        return float(np.clip(4.0 * liver, 5.0, 40.0))
    return None


def _figure(png: bytes, caption: str, name: str, **extra: Any) -> dict[str, Any]:
    return {"uri": data_uri(png), "caption": caption, "png": png, "name": name, **extra}


def _mips(
    suv: hd.Volume,
    labels: hd.Volume | None,
    reference: dict[str, Any] | None,
    agent: str,
    unit: str,
    prefix: str,
    views: tuple[str, ...],
) -> list[dict[str, Any]]:
    """MIPs of one study, each with its colour bar and window (0 to 4 x liver)."""
    vmax = _display_max(reference)
    out = []
    for view in views:
        png = mip_png(suv, labels, view=view, suv_max_display=vmax, unit=unit)
        window = f"{unit} 0–{fmt(vmax, '.1f')}" if vmax else f"{unit} 0–99.9th percentile"
        caption = f"{agent} {view} MIP, window {window}".strip()
        out.append(_figure(png, caption, f"{prefix}mip_{view}.png"))
    return out


def _thumbs(
    findings: dict[str, Any],
    suv: hd.Volume,
    labels: hd.Volume | None,
    ct: hd.Volume | None,
    unit: str,
) -> list[dict[str, Any]]:
    """Fused PET/CT through each lesion, windowed 0 to the lesion's SUVmax."""
    lesions = findings.get("lesions", [])
    if labels is None or not lesions:
        return []
    pngs = lesion_pngs(suv, labels, [int(les["id"]) for les in lesions], ct=ct, unit=unit)
    ct_window = "; CT −160 to 240 HU" if ct is not None else ""
    return [
        _figure(
            pngs[int(les["id"])],
            f"{les.get('site') or 'site unknown'} · SUVmax {fmt(les.get('suv_max'), '.1f')} · "
            f"window {unit} 0–{fmt(les.get('suv_max'), '.1f')}{ct_window}",
            f"lesion_{int(les['id']):03d}.png",
            id=les["id"],
        )
        for les in lesions
    ]


def report_figures(
    findings: dict[str, Any],
    suv: hd.Volume,
    labels: hd.Volume | None,
    ct_on_pet_grid: hd.Volume | None = None,
    fdg_suv: hd.Volume | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """The report's figures: ``{"mips": ..., "fdg_mips": ..., "thumbs": ...}``, each a list of
    records (PNG bytes, data URI, caption, file name); arguments as :func:`render_report`.

    They depend on the findings' study, references and lesions, not on the warnings, so the
    analysis job draws them (most of the report's time) while it writes the DICOM-SEG."""
    study = findings.get("study", {})
    agent, unit = study.get("agent") or "", suv_type(study.get("suv_kind"), short=True)
    mips = _mips(suv, labels, findings.get("reference"), agent, unit, "", ("coronal", "sagittal"))
    fdg_mips = []
    if fdg_suv is not None:
        fdg_mips = _mips(
            fdg_suv, None, findings.get("fdg_reference"), "18F-FDG", unit, "fdg_", ("coronal",)
        )
    thumbs = _thumbs(findings, suv, labels, ct_on_pet_grid, unit)
    return {"mips": mips, "fdg_mips": fdg_mips, "thumbs": thumbs}


def render_report(
    findings: dict[str, Any],
    suv: hd.Volume,
    labels: hd.Volume | None,
    *,
    ct_on_pet_grid: hd.Volume | None = None,
    fdg_suv: hd.Volume | None = None,
    figures_dir: Path | None = None,
    title: str = "NEN molecular imaging report",
    figures: dict[str, list[dict[str, Any]]] | None = None,
) -> str:
    """Return the report as one HTML string (figures embedded as base64 PNG).

    Parameters
    ----------
    findings : the ``findings.json`` dictionary (study, reference, lesions, summary), with the
        job's ``acquisition`` (one record per study: activity, times, SUV type) and
        ``clinical`` (indication, prior) when written by ``nenscope analyze``.
    suv : SUV volume the findings were measured on.
    labels : lesion label volume on the same grid (lesion ``id`` per voxel), or None.
    ct_on_pet_grid : CT resampled onto the SUV grid, for fused thumbnails.
    fdg_suv : the FDG study's SUV volume (its own grid), for the FDG panel's MIP.
    figures_dir : if given, each figure is also written there as PNG.
    figures : :func:`report_figures` of these arguments when drawn already; None: drawn here.
    """
    study = findings.get("study", {})
    unit = suv_type(study.get("suv_kind"), short=True)
    if figures is None:
        figures = report_figures(findings, suv, labels, ct_on_pet_grid, fdg_suv)
    mips, fdg_mips, thumbs = figures["mips"], figures["fdg_mips"], figures["thumbs"]
    if figures_dir is not None:
        for fig in (*mips, *fdg_mips, *thumbs):
            write_bytes_atomic(Path(figures_dir) / fig["name"], fig["png"])
    acquisitions = findings.get("acquisition") or [study]
    doses = [exam_dose(a) for a in acquisitions]
    lesions = findings.get("lesions", [])
    return render_template(
        "analysis.html.j2",
        title=title,
        study=study,
        reference=findings.get("reference", {}),
        fdg_reference=findings.get("fdg_reference"),
        fdg_acquisition=acquisitions[1] if len(acquisitions) > 1 else None,
        fdg_only=findings.get("fdg_only_lesions") or [],
        summary=findings.get("summary", {}),
        lesions=lesions,
        has_fdg=fdg_suv is not None or any(les.get("fdg_suv_max") is not None for les in lesions),
        has_pvc=any(les.get("suv_pvc") is not None for les in lesions),
        has_prrt=any(les.get("prrt_target") is not None for les in lesions),
        mips=mips,
        fdg_mips=fdg_mips,
        thumbs=thumbs,
        unit=unit,
        clinical=clinical(findings),
        technique=technique_rows(findings, [d["effective_dose_msv"] for d in doses]),
        doses=doses,
        limits=limits_lines(),
        impression=impression_lines(findings),
        draft_note=DRAFT_NOTE,
        patient_lines=patient_summary(findings),
        warnings=findings.get("warnings", []),
        method=method_lines(findings),
        fmt=fmt,
        clock=clock,
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
    fdg_suv: hd.Volume | None = None,
    figures: dict[str, list[dict[str, Any]]] | None = None,
) -> Path:
    """Write ``out_dir/report.html`` and ``out_dir/figures/*.png``; return the HTML path
    (arguments as :func:`render_report`)."""
    out_dir = Path(out_dir)
    html = render_report(
        findings,
        suv,
        labels,
        ct_on_pet_grid=ct_on_pet_grid,
        fdg_suv=fdg_suv,
        figures_dir=out_dir / "figures",
        figures=figures,
    )
    path = out_dir / "report.html"
    write_bytes_atomic(path, html.encode("utf-8"))
    return path
