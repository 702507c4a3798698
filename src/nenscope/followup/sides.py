"""One time point of a comparison: its findings, lesion label map, SUV volume and CT.

A side comes either from a fresh analysis of a study (folder or zip of DICOM) or from a
previous analysis folder (``findings.json`` + ``lesions.nii.gz``). The registration needs the
study's CT and the report its SUV volume, so an analysis folder must name its study: the
``study_path`` recorded in ``findings.json`` (``study.study_path``) is used when present,
otherwise the study itself must be given instead of the folder.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import highdicom as hd
import numpy as np

from nenscope.errors import NenscopeError
from nenscope.imaging import load_study, read_nifti, resample_to

__all__ = ["StudySide", "is_analysis_folder", "recorded_study_path", "side_from_images"]


@dataclass
class StudySide:
    """One time point.

    Attributes:
        name: ``"current"`` or ``"prior"`` (``"current FDG"``, ``"prior FDG"``).
        findings: the ``findings.json`` dictionary.
        labels: lesion label map (lesion id per voxel) on the emission grid.
        suv: SUV volume (the findings' SUV kind) on the emission grid.
        ct: the study's CT on its own grid, or ``None``.
        sul_per_suv: SUL / SUV factor ratio (PERCIST is read in SUL), ``None`` if unknown.
        study_path: the study (folder or zip).
        analysis_dir: the folder holding the findings.
    """

    name: str
    findings: dict[str, Any]
    labels: hd.Volume
    suv: hd.Volume
    ct: hd.Volume | None
    sul_per_suv: float | None
    study_path: Path
    analysis_dir: Path

    @property
    def lesions(self) -> dict[int, dict[str, Any]]:
        """Lesion id -> lesion record of ``findings.json``."""
        return {int(les["id"]): les for les in self.findings.get("lesions", [])}

    @property
    def agent_class(self) -> str | None:
        """``"sstr"``, ``"fdg"``, ... as recorded by the analysis."""
        return self.findings.get("study", {}).get("agent_class")


def is_analysis_folder(path: str | os.PathLike) -> bool:
    """True for a folder holding ``findings.json`` and ``lesions.nii.gz``."""
    p = Path(path)
    return p.is_dir() and (p / "findings.json").is_file() and (p / "lesions.nii.gz").is_file()


def recorded_study_path(folder: str | os.PathLike) -> tuple[dict[str, Any], Path]:
    """The findings of an analysis folder and the study they were computed from.

    Raises:
        NenscopeError: ``findings.json`` records no study path, or the study is gone.
    """
    folder = Path(folder)
    findings = json.loads((folder / "findings.json").read_text("utf-8"))
    recorded = findings.get("study", {}).get("study_path")
    if not recorded:
        raise NenscopeError(
            f"{folder} is an analysis folder whose findings.json records no study path: "
            "give the study (DICOM folder or zip) instead, the registration needs its CT"
        )
    path = Path(recorded)
    if not path.is_absolute():
        path = (folder / path).resolve()
    if not path.exists():
        raise NenscopeError(
            f"the study {path} recorded in {folder / 'findings.json'} is not there: "
            "give the study (DICOM folder or zip) instead"
        )
    return findings, path


def side_from_images(
    name: str,
    findings: dict[str, Any],
    labels: hd.Volume | str | os.PathLike,
    study_path: str | os.PathLike,
    analysis_dir: str | os.PathLike,
) -> StudySide:
    """Load the study's SUV and CT and put ``labels`` (a volume or a NIfTI path) on its grid."""
    study = load_study(study_path)
    kind = findings.get("study", {}).get("suv_kind") or "bw"
    suv = study.suv(kind)
    if not isinstance(labels, hd.Volume):
        labels = read_nifti(labels, frame_of_reference_uid=suv.frame_of_reference_uid)
    labels = resample_to(labels, suv, order=0)
    factor, sul = study.suv.factors.get(kind), study.suv.factors.get("sul")
    return StudySide(
        name=name,
        findings=findings,
        labels=labels.with_array(np.asarray(labels.array).astype(np.int32)),
        suv=suv,
        ct=study.ct,
        sul_per_suv=None if not factor or not sul else float(sul / factor),
        study_path=Path(study_path),
        analysis_dir=Path(analysis_dir),
    )
