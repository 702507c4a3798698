"""``nenscope analyze``: the main job, one study (optionally with its FDG partner) to a report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from nenscope.cli import app
from nenscope.cli._common import AllowMismatchOption, KeepOption, console, err_console, print_json
from nenscope.errors import NenscopeError
from nenscope.report.format import fmt


def print_findings(data: dict, out_dir: Path | None = None) -> None:
    """Rich summary of a ``findings.json`` dictionary (used by ``analyze`` and the demo)."""
    study, summary, ref = data["study"], data["summary"], data["reference"]
    table = Table(
        title=f"{study.get('agent')} — {summary['n_lesions']} lesion(s); "
        f"liver SUVmean {fmt(ref.get('liver_suv_mean'), '.2f')}, "
        f"spleen {fmt(ref.get('spleen_suv_mean'), '.2f')}"
    )
    cols = ["#", "site", "ml", "SUVmax", "SUVpeak", "SUVmean", "T/L", "Krenning", "SSTR-RADS"]
    has_fdg = any(les.get("fdg_suv_max") is not None for les in data["lesions"])
    has_pvc = any(les.get("suv_pvc") is not None for les in data["lesions"])
    has_prrt = any(les.get("prrt_target") is not None for les in data["lesions"])
    failing = set(summary.get("prrt_failing_lesions") or [])
    if has_prrt:
        cols += ["PRRT"]
    if has_pvc:
        cols += ["SUV PVC"]
    if has_fdg:
        cols += ["FDG SUVmax", "NETPET"]
    for col in cols:
        left = col in ("site", "SSTR-RADS", "NETPET", "PRRT")
        table.add_column(col, justify="left" if left else "right")
    for les in data["lesions"]:
        row = [
            str(les["id"]),
            les["site"],
            fmt(les["volume_ml"], ".2f"),
            fmt(les["suv_max"], ".1f"),
            fmt(les["suv_peak"], ".1f"),
            fmt(les["suv_mean"], ".1f"),
            fmt(les["tlr"], ".1f"),
            str(les.get("krenning") if les.get("krenning") is not None else "—"),
            les.get("sstr_rads") or les.get("reading") or "—",
        ]
        if has_prrt:
            target = les.get("prrt_target")
            row.append("fails" if les["id"] in failing else ("meets" if target else "—"))
        if has_pvc:
            row.append(fmt(les.get("suv_pvc"), ".1f"))
        if has_fdg:
            row += [fmt(les.get("fdg_suv_max"), ".1f"), les.get("netpet") or "—"]
        table.add_row(*row)
    console.print(table)
    if study.get("agent_class") == "sstr":
        verdict = {True: "[green]met[/green]", False: "[red]not met[/red]"}.get(
            summary.get("prrt_criterion_met"), "not assessed"
        )
        console.print(
            f"SSTR imaging criterion for PRRT: {verdict} — {summary.get('prrt_reason') or ''}"
        )
    if summary.get("netpet"):
        console.print(
            f"NETPET: {summary['netpet']} ({summary.get('n_fdg_only', 0)} FDG-only lesion(s))"
        )
    console.print(
        f"SSTR tumour volume {fmt(summary.get('sstr_tv_ml'), '.1f')} ml, "
        f"TL-SSTR {fmt(summary.get('tl_sstr'), '.1f')}, highest Krenning "
        f"{summary.get('krenning_max') if summary.get('krenning_max') is not None else '—'}"
    )
    if out_dir is not None:
        console.print(f"report: {out_dir / 'report.html'}")


# The options of `nenscope analyze` (Typer reads them from the annotations).
_Study = Annotated[
    Path | None,
    typer.Argument(help="Folder or zip with the PET/SPECT series and its CT."),
]
_Fdg = Annotated[
    Path | None,
    typer.Option("--fdg", help="The same patient's FDG PET/CT (folder or zip), for NETPET."),
]
_Tracer = Annotated[
    str | None,
    typer.Option(
        "--tracer", help="Agent, when the header's is missing or wrong (e.g. 68Ga-DOTATATE)."
    ),
]
_Out = Annotated[
    Path | None, typer.Option("--out", help="Output folder [default: out/<study name>].")
]
_OrganMasks = Annotated[
    list[Path] | None,
    typer.Option(
        "--organ-masks",
        help="Organ masks that replace the automatic ones: a TotalSegmentator or MOOSE output "
        "folder, or NIfTI / DICOM-SEG / RTSTRUCT with named ROIs (liver, spleen, kidneys...); "
        "repeatable.",
    ),
]
_Scanner = Annotated[
    Path | None,
    typer.Option(
        "--scanner",
        help="Scanner profile from 'nenscope calibrate' (NEMA IEC): its resolution gives the "
        "partial-volume-corrected uptake column.",
    ),
]
_PsfFwhmMm = Annotated[
    float | None,
    typer.Option(
        "--psf-fwhm-mm",
        min=0.5,
        help="Effective resolution (FWHM, mm) of the scanner for this radionuclide, for the "
        "partial-volume-corrected uptake column (overrides --scanner).",
    ),
]
_ThresholdMethod = Annotated[
    str | None,
    typer.Option(
        "--threshold",
        help="Lesion threshold: liver (qPSMA-style), percist, suvmax_percent or fixed [default: by agent].",
    ),
]
_MinVolumeMl = Annotated[
    float, typer.Option("--min-volume-ml", min=0.0, help="Smallest lesion kept, in ml.")
]
_WeightKg = Annotated[
    float | None,
    typer.Option("--weight-kg", help="Patient weight in kg (overrides PatientWeight)."),
]
_HeightCm = Annotated[
    float | None,
    typer.Option("--height-cm", help="Patient height in cm (overrides PatientSize)."),
]
_InjectedMbq = Annotated[
    float | None,
    typer.Option(
        "--injected-mbq", help="Injected activity in MBq (overrides RadionuclideTotalDose)."
    ),
]
_InjectionTime = Annotated[
    str | None,
    typer.Option("--injection-time", help="Injection time, HH:MM[:SS] or YYYY-MM-DDTHH:MM."),
]
_Indication = Annotated[
    str | None,
    typer.Option("--indication", help="The clinical question, for the report's indication."),
]
_Prior = Annotated[
    str | None,
    typer.Option(
        "--prior",
        help="The prior study compared with (e.g. '68Ga-DOTATATE PET/CT 2025-06-01'), for "
        "the report's comparison; without it the report states that there is none.",
    ),
]
_Radiomics = Annotated[
    bool,
    typer.Option("--radiomics", help="Also write radiomics.csv (IBSI features per lesion)."),
]
_RadiomicsPreset = Annotated[
    str,
    typer.Option("--radiomics-preset", help="Radiomics preset or settings YAML for --radiomics."),
]
_Pdf = Annotated[
    bool, typer.Option("--pdf", help="Also write report.pdf (needs headless Chromium).")
]
_Json = Annotated[bool, typer.Option("--json", help="Print findings.json instead of the table.")]
_FromPacs = Annotated[
    str | None,
    typer.Option(
        "--from-pacs",
        help="DICOMweb root of a PACS to pull --study from (credentials: NENSCOPE_PACS_USER/"
        "NENSCOPE_PACS_PASSWORD or NENSCOPE_PACS_TOKEN).",
    ),
]
_StudyUid = Annotated[
    str | None, typer.Option("--study", help="StudyInstanceUID on the --from-pacs PACS.")
]
_Push = Annotated[
    bool,
    typer.Option("--push", help="Store the DICOM-SEG, SUV map and SR back on the PACS."),
]


@app.command()
def analyze(
    study: _Study = None,
    fdg: _Fdg = None,
    tracer: _Tracer = None,
    out: _Out = None,
    organ_masks: _OrganMasks = None,
    scanner: _Scanner = None,
    psf_fwhm_mm: _PsfFwhmMm = None,
    threshold_method: _ThresholdMethod = None,
    min_volume_ml: _MinVolumeMl = 0.3,
    weight_kg: _WeightKg = None,
    height_cm: _HeightCm = None,
    injected_mbq: _InjectedMbq = None,
    injection_time: _InjectionTime = None,
    indication: _Indication = None,
    prior: _Prior = None,
    radiomics: _Radiomics = False,
    radiomics_preset: _RadiomicsPreset = "pet-default",
    pdf: _Pdf = False,
    json_: _Json = False,
    keep: KeepOption = False,
    allow_mismatch: AllowMismatchOption = False,
    from_pacs: _FromPacs = None,
    study_uid: _StudyUid = None,
    push: _Push = False,
) -> None:
    """Find, measure and score the lesions of an SSTR/FDG/GLP-1R PET (or SPECT) study.

    Writes OUT/report.html, findings.json, lesions.csv, lesions.nii.gz, lesions.seg.dcm and
    figures/*.png as one result set: OUT appears only when every file is complete, and an
    earlier OUT is replaced as a whole (or kept with --keep).
    """
    from nenscope.analysis import AnalysisOptions
    from nenscope.analysis.scanner import read_scanner_profile
    from nenscope.jobs.analyze import run_analysis

    options = AnalysisOptions(
        tracer=tracer,
        threshold_method=threshold_method,
        min_volume_ml=min_volume_ml,
        psf_fwhm_mm=psf_fwhm_mm,
        scanner=read_scanner_profile(scanner) if scanner is not None else None,
    )
    overrides = {
        k: v
        for k, v in dict(
            weight_kg=weight_kg,
            height_cm=height_cm,
            injected_mbq=injected_mbq,
            injection_time=injection_time,
        ).items()
        if v is not None
    }
    if from_pacs is not None or study_uid is not None or push:
        _analyze_from_pacs(
            from_pacs,
            study_uid,
            push,
            out,
            json_,
            fdg_path=fdg,
            options=options,
            overrides=overrides or None,
            pdf=pdf,
            radiomics=radiomics_preset if radiomics else None,
            indication=indication,
            prior=prior,
        )
        return
    if study is None:
        raise NenscopeError("give a STUDY folder or zip, or --from-pacs URL --study UID")
    out_dir = out or Path("out") / study.name.removesuffix(".zip")
    with err_console.status("analysing…") as status:
        result = run_analysis(
            study,
            out_dir,
            fdg_path=fdg,
            options=options,
            overrides=overrides or None,
            organ_masks=organ_masks,
            pdf=pdf,
            radiomics=radiomics_preset if radiomics else None,
            progress=lambda stage: status.update(f"{stage}…"),
            keep=keep,
            allow_mismatch=allow_mismatch,
            indication=indication,
            prior=prior,
        )
    data = result.findings.to_dict()
    if json_:
        print_json(data)
        return
    print_findings(data, out_dir)
    for warning in result.warnings:
        err_console.print(f"[yellow]note:[/yellow] {warning}")


# --- PACS (issue 22) ---
def _analyze_from_pacs(url, study_uid, push, out, json_, **kwargs) -> None:
    """``analyze --from-pacs URL --study UID [--push]``: pull, analyse, SR, push back."""
    from nenscope.pacs import PacsAuth, analyze_from_pacs

    if not url or not study_uid:
        raise NenscopeError("--from-pacs URL and --study UID go together (--push needs both)")
    out_dir = out or Path("out") / study_uid
    with err_console.status("pulling…") as status:
        result = analyze_from_pacs(
            url,
            study_uid,
            out_dir,
            push=push,
            auth=PacsAuth.from_env(),
            progress=lambda stage: status.update(f"{stage}…"),
            **kwargs,
        )
    data = result.run.findings.to_dict()
    if json_:
        print_json(data)
        return
    print_findings(data, out_dir)
    if result.sr is not None:
        console.print(f"DICOM SR: {result.sr}")
    if result.pushed:
        console.print(f"pushed {len(result.pushed)} instance(s) (SEG, SUV map, SR) to {url}")
    for warning in result.run.warnings:
        err_console.print(f"[yellow]note:[/yellow] {warning}")
