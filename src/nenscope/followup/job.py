"""``nenscope compare``: a current and a prior study to ``DIR/comparison.json`` and
``DIR/report.html``, with the usual per-study outputs in ``DIR/current`` and ``DIR/prior``
(and ``DIR/current_fdg``, ``DIR/prior_fdg`` for an FDG pair).

This module is the one place that calls the single-study job (``run_analysis``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nenscope.atomic import write_text_atomic
from nenscope.errors import NenscopeError
from nenscope.followup.assess import fdg_responses, recist_response, sstr_responses
from nenscope.followup.criteria import Response, consensus_statement
from nenscope.followup.pair import CompareOptions, PairComparison, compare_pair
from nenscope.followup.report import write_comparison_report
from nenscope.followup.sides import (
    StudySide,
    is_analysis_folder,
    recorded_study_path,
    side_from_images,
)
from nenscope.jobs.analyze import run_analysis

__all__ = ["ComparisonResult", "comparison_dict", "compare_studies", "responses_for"]

Progress = Callable[[str], None]


@dataclass
class ComparisonResult:
    """What :func:`compare_studies` produced."""

    comparison: dict[str, Any]
    files: dict[str, Path]
    warnings: list[str] = field(default_factory=list)


def load_side(
    name: str,
    path: str | os.PathLike,
    out_dir: Path,
    *,
    fdg_path: str | os.PathLike | None = None,
    progress: Progress | None = None,
) -> StudySide:
    """A study (analysed into ``out_dir``) or a previous analysis folder, as a side."""
    if is_analysis_folder(path):
        findings, study_path = recorded_study_path(path)
        return side_from_images(name, findings, Path(path) / "lesions.nii.gz", study_path, path)
    if not Path(path).exists():
        raise NenscopeError(f"{name} study {path} does not exist")
    say = progress or (lambda _stage: None)
    result = run_analysis(
        path, out_dir, fdg_path=fdg_path, progress=lambda stage: say(f"{name}: {stage}")
    )
    # the findings as written (JSON types), as they would come from an analysis folder
    findings = json.loads(result.files["findings"].read_text("utf-8"))
    return side_from_images(name, findings, result.findings.labels, path, out_dir)


def responses_for(
    main: PairComparison, fdg_pair: PairComparison | None, *, diagnostic_ct: bool
) -> list[Response]:
    """Every criterion that applies to the compared studies, in report order."""
    out: list[Response] = []
    if main.current.agent_class == "sstr":
        out += sstr_responses(main)
    fdg = main if main.current.agent_class == "fdg" else fdg_pair
    if fdg is not None:
        out += fdg_responses(fdg)
    out.append(recist_response(main, diagnostic_ct=diagnostic_ct))
    return out


def _study_facts(side: StudySide) -> dict[str, Any]:
    study = side.findings.get("study", {})
    return {
        "study_path": str(side.study_path),
        "analysis_dir": str(side.analysis_dir),
        "agent": study.get("agent"),
        "scan_start_datetime": study.get("scan_start_datetime"),
        "n_lesions": len(side.lesions),
    }


def comparison_dict(
    main: PairComparison, responses: list[Response], fdg_pair: PairComparison | None = None
) -> dict[str, Any]:
    """The content of ``comparison.json`` (layout in docs/followup.md)."""
    patient = dict(main.totals)
    patient["response"] = {r.criterion: r.category for r in responses}
    patient["response_details"] = [r.to_dict() for r in responses]
    patient["sstr_consensus"] = consensus_statement()
    out: dict[str, Any] = {
        "lesions": main.entries,
        "patient": patient,
        "registration": main.registration.to_dict(),
        "current": _study_facts(main.current),
        "prior": _study_facts(main.prior),
        "warnings": list(main.warnings),
    }
    if fdg_pair is not None:
        out["fdg"] = {
            "lesions": fdg_pair.entries,
            "patient": fdg_pair.totals,
            "registration": fdg_pair.registration.to_dict(),
        }
        out["warnings"] += [f"FDG: {w}" for w in fdg_pair.warnings]
    return out


def compare_studies(
    current: str | os.PathLike,
    prior: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    fdg: str | os.PathLike | None = None,
    prior_fdg: str | os.PathLike | None = None,
    options: CompareOptions | None = None,
    progress: Progress | None = None,
) -> ComparisonResult:
    """Compare the current study with the prior one and write every output.

    Args:
        current, prior: each a study (folder or zip of DICOM) or a previous analysis folder.
        out_dir: output folder (created).
        fdg, prior_fdg: the same patient's FDG PET/CT at each time point: NETPET in the
            per-study outputs and, with both, PERCIST 1.0 and EORTC 1999.
        options: :class:`CompareOptions`.
        progress: called with a short stage name before each stage.
    """
    say = progress or (lambda _stage: None)
    options = options or CompareOptions()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cur = load_side("current", current, out / "current", fdg_path=fdg, progress=say)
    pri = load_side("prior", prior, out / "prior", fdg_path=prior_fdg, progress=say)
    say("registration and matching")
    main = compare_pair(cur, pri, options)
    fdg_pair = None
    warnings: list[str] = []
    if fdg is not None and prior_fdg is not None:
        fdg_pair = compare_pair(
            load_side("current FDG", fdg, out / "current_fdg", progress=say),
            load_side("prior FDG", prior_fdg, out / "prior_fdg", progress=say),
            options,
        )
    elif (fdg is None) != (prior_fdg is None):
        warnings.append("PERCIST and EORTC need FDG studies at both time points")
    data = comparison_dict(
        main, responses_for(main, fdg_pair, diagnostic_ct=options.diagnostic_ct), fdg_pair
    )
    data["warnings"] += warnings
    files = {
        "comparison": write_text_atomic(out / "comparison.json", _json(data) + "\n"),
    }
    say("report")
    files["report"] = write_comparison_report(
        data,
        out,
        prior_suv=pri.suv,
        prior_labels=pri.labels,
        current_suv=cur.suv,
        current_labels=cur.labels,
        prior_findings=pri.findings,
        current_findings=cur.findings,
    )
    return ComparisonResult(comparison=data, files=files, warnings=data["warnings"])


def _json(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2, allow_nan=False)
