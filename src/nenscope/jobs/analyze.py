"""The analysis job, one study end to end: load → analyse → write every output. The CLI's
``analyze``, the demo and the cohort runner all call :func:`run_analysis`; nothing here computes
a number itself.

Outputs in ``out_dir``, written as one result set: into a temporary folder beside it that is
renamed into place only when every file is complete (:func:`nenscope.atomic.result_folder`):
no ``out_dir`` at all after an early error or an interrupt; an earlier result set there is
replaced as a whole, or kept with ``keep`` (then the run is refused at once):

- ``findings.json``   the :class:`~nenscope.analysis.Findings` record
- ``lesions.csv``     one row per lesion
- ``lesions.nii.gz``  lesion label map on the emission grid
- ``lesions.seg.dcm`` DICOM-SEG of the lesions, referencing the source PET/SPECT series
- ``report.html``     self-contained report; ``figures/*.png``; ``report.pdf`` with ``pdf=True``
- ``radiomics.csv``   IBSI features per lesion with ``radiomics=...``
"""

from __future__ import annotations

import csv
import io
import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nenscope.analysis import AnalysisOptions, Findings, VolumeAnalysis, analyze
from nenscope.analysis.netpet import analyze_fdg
from nenscope.atomic import check_output_folder, result_folder, write_text_atomic
from nenscope.errors import NenscopeError
from nenscope.imaging import (
    Discovery,
    Study,
    ct_on_emission_grid,
    discover,
    load_study,
    save_nifti,
    write_seg,
)
from nenscope.imaging.ctdose import CtDose
from nenscope.imaging.identity import check_same_patient
from nenscope.imaging.organ_masks import read_organ_masks
from nenscope.jobs import _child
from nenscope.jobs._json import to_json
from nenscope.knowledge.ctdose import ct_dose_coefficient, ct_effective_dose_msv
from nenscope.report import html_to_pdf, report_figures, write_report

if TYPE_CHECKING:
    import highdicom as hd

Progress = Callable[[str], None]

CSV_COLUMNS = (
    "id",
    "site",
    "center_x_mm",
    "center_y_mm",
    "center_z_mm",
    "volume_ml",
    "suv_max",
    "suv_peak",
    "suv_mean",
    "tla",
    "tlr",
    "tsr",
    "krenning",
    "sstr_rads",
    "fdg_suv_max",
    "netpet",
    "ct_correlate",
    "ct_mean_hu",
)


@dataclass
class RunResult:
    """What :func:`run_analysis` produced: the findings, the files, the time per stage."""

    findings: Findings
    files: dict[str, Path]
    timings_s: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def lesions_csv(findings: dict[str, Any]) -> str:
    """The lesion table as CSV text (centre split into x, y, z in LPS mm)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for lesion in findings["lesions"]:
        row = dict(lesion)
        row["center_x_mm"], row["center_y_mm"], row["center_z_mm"] = lesion["center_mm"]
        writer.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in CSV_COLUMNS})
    return buf.getvalue()


def acquisition(study: Study, suv_kind: str, agent: str | None = None) -> dict[str, Any]:
    """How one study was acquired, as the report's technique section states it: agent
    (``agent``, e.g. from ``--tracer``, else the header's), injected activity (MBq), injection
    and scan-start times, uptake time (min), SUV type, decay correction and whether a CT was
    part of it (read from the loaded DICOM headers and the overrides)."""
    act = study.injected_activity_bq
    return {
        "agent": agent or study.agent,
        "modality": study.modality,
        "injected_activity_mbq": None if act is None else round(act / 1e6, 2),
        "injection_datetime": study.injection_datetime,
        "scan_start_datetime": study.scan_start_datetime,
        "uptake_time_min": study.uptake_time_min,
        "suv_kind": suv_kind,
        "decay_correction": study.decay_correction,
        "has_ct": study.ct is not None,
        **_ct_dose(study.ct_dose),
    }


def _ct_dose(dose: CtDose | None) -> dict[str, Any]:
    """The CT's dose indices and effective dose (trunk coefficient), or nothing."""
    if dose is None:
        return {}
    coefficient = ct_dose_coefficient("trunk")
    return {
        "ct_ctdi_vol_mgy": dose.ctdi_vol_mgy,
        "ct_dlp_mgy_cm": dose.dlp_mgy_cm,
        "ct_effective_dose_msv": ct_effective_dose_msv(dose.dlp_mgy_cm, "trunk"),
        "ct_dose_source": f"{dose.source}; E = {coefficient.k_msv_per_mgy_cm} mSv/(mGy·cm) x "
        f"DLP ({coefficient.source})",
    }


def _organ_masks(paths: list[Path] | None, reference) -> dict[str, Any] | None:
    if not paths:
        return None
    masks: dict[str, Any] = {}
    for path in paths:
        masks.update(read_organ_masks(path, reference))
    return masks


def run_analysis(
    study_path: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    fdg_path: str | os.PathLike | None = None,
    options: AnalysisOptions | None = None,
    overrides: Mapping[str, Any] | None = None,
    organ_masks: list[Path] | None = None,
    pdf: bool = False,
    radiomics: str | None = None,
    progress: Progress | None = None,
    keep: bool = False,
    allow_mismatch: bool = False,
    indication: str | None = None,
    prior: str | None = None,
) -> RunResult:
    """Analyse the study in ``study_path`` (folder or zip of DICOM) and write all outputs.

    Parameters
    ----------
    study_path : folder or zip holding the PET/SPECT series and its CT.
    out_dir : output folder (a result set: see the module docstring).
    fdg_path : the same patient's FDG PET/CT, for NETPET.
    options : :class:`~nenscope.analysis.AnalysisOptions` (``tracer`` overrides the header).
    overrides : SUV overrides (``weight_kg``, ``height_cm``, ``injected_mbq``, ``injection_time``).
    organ_masks : TotalSegmentator or MOOSE output folders/files, or NIfTI / DICOM-SEG /
        RTSTRUCT files whose ROIs (named liver, spleen, kidney…) replace the automatic ones
        (:func:`nenscope.imaging.organ_masks.read_organ_masks`).
    pdf : also print the report to PDF through headless Chromium.
    radiomics : IBSI preset or settings YAML for ``radiomics.csv`` (None: no radiomics).
    progress : called with a short stage name before each stage.
    keep : refuse to replace an earlier result set in ``out_dir`` (``--keep``).
    allow_mismatch : accept slices, a CT or an FDG study of another patient or study, with a
        warning (``--allow-mismatch``, research data); refused otherwise.
    indication : the clinical question, for the report's indication section (``--indication``).
    prior : the prior study compared with, for the report's comparison section (``--prior``);
        None: the report states that there is no prior study.
    """
    say = progress or (lambda _stage: None)
    options = options or AnalysisOptions()
    out = check_output_folder(out_dir, keep=keep)  # before hours of work, not after
    timings: dict[str, float] = {}
    t0 = time.perf_counter()

    say("load")
    # the FDG study is read and analysed in a child process meanwhile, where one can run
    # beside this one (pydicom holds the GIL: threads would not overlap the reading)
    fdg_run = None
    if fdg_path is not None:
        fdg_run = _child.start(_load_fdg, fdg_path, options, allow_mismatch)
    try:
        disc = discover(study_path)
        study = _load(disc, overrides, allow_mismatch)
        timings["load"] = time.perf_counter() - t0
        say("analyse")
        t = time.perf_counter()
        masks = _organ_masks(organ_masks, study.emission)
        findings = analyze(
            study,
            options=options,
            organ_masks=masks,
            pending_fdg=None if fdg_run is None else fdg_run.result,
        )
        fdg = None if fdg_run is None else fdg_run.result()[0]  # kept: the same objects
    finally:
        if fdg_run is not None:
            fdg_run.cancel()  # this study failed first: stop the child
    timings["analyse"] = time.perf_counter() - t
    identity_notes: list[str] = []
    if fdg is not None:
        identity_notes = check_same_patient([study, fdg], allow_mismatch=allow_mismatch)
    data = findings.to_dict()
    warnings = [*data.get("warnings", []), *identity_notes]
    with result_folder(out, keep=keep) as tmp:
        clinical = {"indication": indication, "prior": prior}
        files = _write_outputs(
            tmp,
            disc,
            (study, fdg),
            findings,
            data,
            warnings,
            options,
            (pdf, radiomics, clinical),
            say,
            timings,
        )
    findings.warnings = warnings
    files = {k: out / p.relative_to(tmp) for k, p in files.items()}
    return RunResult(findings=findings, files=files, timings_s=timings, warnings=warnings)


def _load(
    source: str | os.PathLike | Discovery,
    overrides: Mapping[str, Any] | None,
    allow_mismatch: bool,
) -> Study:
    """One study with its CT resampled onto its emission grid at once (the analysis and the
    report share it; the CT's own grid is dropped before another study is read)."""
    return ct_on_emission_grid(
        load_study(source, overrides=overrides, allow_mismatch=allow_mismatch)
    )


def _load_fdg(
    path: str | os.PathLike, options: AnalysisOptions, allow_mismatch: bool
) -> tuple[Study, VolumeAnalysis]:
    """The FDG study loaded (:func:`_load`) and analysed on its own (:func:`analyze_fdg`)."""
    fdg = _load(path, None, allow_mismatch)
    return fdg, analyze_fdg(fdg, options)


def _write_outputs(
    out: Path,
    disc: Discovery,
    studies: tuple[Study, Study | None],
    findings: Findings,
    data: dict[str, Any],
    warnings: list[str],
    options: AnalysisOptions,
    extras: tuple[bool, str | None, dict[str, str | None]],
    say: Progress,
    timings: dict[str, float],
) -> dict[str, Path]:
    """Every output of the run into ``out`` (the temporary result folder); ``studies`` is the
    main study and its FDG partner (or None), ``extras`` the PDF flag, the radiomics preset and
    the report's clinical context (indication, prior)."""
    study, fdg = studies
    pdf, radiomics, clinical = extras
    say("write")
    t = time.perf_counter()
    suv = study.suv(options.suv_kind)  # once, for radiomics and the report
    fdg_suv = fdg.suv(options.suv_kind) if fdg is not None else None
    ct_grid = study.ct  # on the emission grid since loading
    labels = findings.labels
    # the report's figures drawn in a child process meanwhile (the report's text waits for
    # the DICOM-SEG's notes)
    figures = _child.start(report_figures, data, suv, labels, ct_grid, fdg_suv)
    try:
        files = _write_data(out, disc, study, findings, data, warnings, radiomics, suv, say)
    except BaseException:
        figures.cancel()
        raise
    timings["write"] = time.perf_counter() - t

    say("report")
    t = time.perf_counter()
    patient_id = study.identity.patient_id if study.identity is not None else None
    report = {  # the report names the patient by ID (never by name) and the study
        **data,
        "warnings": warnings,
        "study": {**data["study"], "patient_id": patient_id},
    }
    report["acquisition"] = [acquisition(study, options.suv_kind, data["study"]["agent"])]
    if fdg is not None:
        report["acquisition"].append(acquisition(fdg, options.suv_kind))
    report["clinical"] = clinical
    files["report"] = write_report(
        report,
        suv,
        labels,
        out,
        ct_on_pet_grid=ct_grid,
        fdg_suv=fdg_suv,
        figures=figures.result(),
    )
    if pdf:
        files["pdf"] = html_to_pdf(files["report"], out / "report.pdf")
    timings["report"] = time.perf_counter() - t
    return files


def _write_data(
    out: Path,
    disc: Discovery,
    study: Study,
    findings: Findings,
    data: dict[str, Any],
    warnings: list[str],
    radiomics: str | None,
    suv: hd.Volume,
    say: Progress,
) -> dict[str, Path]:
    """findings.json, lesions.csv, the label map as NIfTI and DICOM-SEG (its notes and
    failure added to ``warnings``) and, with a preset, radiomics.csv."""
    files: dict[str, Path] = {}
    files["findings"] = write_text_atomic(out / "findings.json", to_json(data) + "\n")
    files["lesions_csv"] = write_text_atomic(out / "lesions.csv", lesions_csv(data))
    labels = findings.labels
    files["lesions_nifti"] = save_nifti(labels, out / "lesions.nii.gz")
    names = {int(les["id"]): f"lesion {les['id']} ({les['site']})" for les in data["lesions"]}
    if names:
        notes: list[str] = []
        try:
            sources = disc.get(study.series_instance_uid).datasets
            files["seg"] = write_seg(labels, sources, names, out / "lesions.seg.dcm", notes=notes)
        except NenscopeError as exc:
            warnings.append(f"DICOM-SEG not written: {exc}")
        warnings += [f"DICOM-SEG: {n}" for n in notes]
    else:
        warnings.append("no lesions: no DICOM-SEG written")
    if radiomics:
        from nenscope.radiomics import lesion_features

        say("radiomics")
        rows = lesion_features(suv, labels, radiomics)
        files["radiomics"] = write_text_atomic(out / "radiomics.csv", _radiomics_csv(rows))
    return files


def _radiomics_csv(rows: list[dict[str, Any]]) -> str:
    """Long format ``lesion,tag,value`` (one row per feature), the CLI's ``tag,value`` per lesion."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["lesion", "tag", "value"])
    for row in rows:
        lesion = row.get("label")
        for tag, value in row.items():
            if tag != "label":
                writer.writerow([lesion, tag, value])
    return buf.getvalue()


def load_findings(path: str | os.PathLike) -> dict[str, Any]:
    """Read a ``findings.json`` back."""
    return json.loads(Path(path).read_text("utf-8"))
