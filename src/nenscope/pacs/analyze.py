"""One study from the PACS and back: pull, analyse, write the SUV map and the SR, push.

``analyze_from_pacs`` is what ``nenscope analyze --from-pacs URL --study UID [--push]`` and the
cohort runner's ``pacs://`` studies call. This module is also the one place where
``nenscope.pacs`` and ``nenscope.cohort`` import the analysis job (:func:`run_analysis`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydicom import dcmread

from nenscope.analysis import AnalysisOptions
from nenscope.atomic import atomic_path, staged_input
from nenscope.errors import NenscopeError
from nenscope.imaging import discover, load_study
from nenscope.imaging.writable import writable_sources
from nenscope.jobs.analyze import RunResult, run_analysis
from nenscope.pacs.client import Pacs
from nenscope.pacs.rwvm import suv_rwvm
from nenscope.pacs.session import PacsAuth
from nenscope.pacs.sr import write_measurement_report

__all__ = [
    "IMAGE_MODALITIES",
    "PacsAnalysis",
    "analyze_from_pacs",
    "run_analysis",
    "write_dicom_report",
]

# The series an analysis needs: the emission (PET or SPECT) and its CT. Earlier SEG/SR/RWV
# series in the study are not pulled.
IMAGE_MODALITIES = ("PT", "NM", "CT")


@dataclass
class PacsAnalysis:
    """What :func:`analyze_from_pacs` did.

    Attributes:
        run: the analysis (findings, files, warnings).
        study_dir: the folder the study was pulled into.
        sr: the TID 1500 measurement report (``lesions.sr.dcm``), None without lesions.
        rwvm: the SUV Real World Value Map (``suv.rwvm.dcm``), None without lesions.
        pushed: SOP Instance UIDs the PACS stored (SEG, RWVM, SR), empty without ``push``.
    """

    run: RunResult
    study_dir: Path
    sr: Path | None = None
    rwvm: Path | None = None
    pushed: list[str] = field(default_factory=list)


def write_dicom_report(
    study_dir: str | os.PathLike,
    run: RunResult,
    out_dir: str | os.PathLike,
    *,
    overrides: Mapping[str, Any] | None = None,
) -> tuple[Path, Path]:
    """Write ``suv.rwvm.dcm`` and ``lesions.sr.dcm`` for a finished analysis of ``study_dir``
    (the same study and SUV ``overrides`` as the run); returns (RWVM path, SR path)."""
    seg_path = run.files.get("seg")
    if seg_path is None:
        why = "; ".join(w for w in run.warnings if "SEG" in w) or "no lesions"
        raise NenscopeError(f"no DICOM-SEG, so no measurement report: {why}")
    findings = run.findings.to_dict()
    kind = findings["study"].get("suv_kind") or "bw"
    disc = discover(study_dir)
    study = load_study(disc, overrides=overrides)
    notes: list[str] = []  # sources repaired as for the SEG: type-2 empty, dates, charset
    sources = writable_sources(disc.get(study.series_instance_uid).datasets, notes)
    run.warnings += [f"SR/RWVM: {n}" for n in notes if f"DICOM-SEG: {n}" not in run.warnings]
    rwvm = suv_rwvm(sources, study.suv.get(kind), kind)
    out = Path(out_dir)
    rwvm_path = out / "suv.rwvm.dcm"
    with atomic_path(rwvm_path) as tmp:
        rwvm.save_as(tmp, enforce_file_format=True)
    sr_path = write_measurement_report(
        findings, dcmread(seg_path), sources, rwvm, out / "lesions.sr.dcm"
    )
    return rwvm_path, sr_path


def analyze_from_pacs(
    url: str,
    study_uid: str,
    out_dir: str | os.PathLike,
    *,
    push: bool = False,
    auth: PacsAuth | None = None,
    fdg_path: str | os.PathLike | None = None,
    options: AnalysisOptions | None = None,
    overrides: Mapping[str, Any] | None = None,
    radiomics: str | None = None,
    pdf: bool = False,
    progress: Callable[[str], None] | None = None,
) -> PacsAnalysis:
    """Pull study ``study_uid`` from the DICOMweb PACS at ``url`` (beside ``out_dir`` while the
    result set is made, then into ``out_dir/dicom``), analyse it into ``out_dir`` (as
    ``nenscope analyze``), write the SUV map and the SR, and
    with ``push`` store the DICOM-SEG, the map and the SR back in the same study.

    The remaining arguments are those of :func:`run_analysis`. Raises
    :class:`~nenscope.pacs.session.PacsError` when the PACS is down or refuses.
    """
    say = progress or (lambda _stage: None)
    pacs = Pacs(url, auth)
    out = Path(out_dir)
    say("pull")
    with staged_input(out, "dicom") as staging:  # beside the result set until it exists
        pulled = pacs.pull_study(study_uid, staging, modalities=IMAGE_MODALITIES)
        run = run_analysis(
            pulled.folder,
            out,
            fdg_path=fdg_path,
            options=options,
            overrides=overrides,
            pdf=pdf,
            radiomics=radiomics,
            progress=progress,
        )
    result = PacsAnalysis(run=run, study_dir=out / "dicom")
    if "seg" not in run.files:
        run.warnings.append("no DICOM-SEG, so no measurement report was written or pushed")
        return result
    say("SR")
    result.rwvm, result.sr = write_dicom_report(out / "dicom", run, out, overrides=overrides)
    if push:
        say("push")
        result.pushed = pacs.push([run.files["seg"], result.rwvm, result.sr])
    return result
