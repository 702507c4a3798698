"""The reviewed findings and the report that is signed.

The reviewed lesion list is the automatic one without the rejected lesions and those
relabelled physiological, with relabelled sites, plus the lesions the physician added.
SSTR-RADS is scored again for every lesion whose site changed; the patient-level numbers
(count, SSTR tumour volume, TL-SSTR, highest Krenning score) and the PRRT criterion
(:func:`~nenscope.analysis.scores.prrt_eligibility`) are recomputed from that list. The
report puts the automatic and the reviewed findings side by side with every decision; its
canonical JSON text (sorted keys, no spaces) is what the SHA-256 covers.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from nenscope.analysis.scores import prrt_eligibility, sstr_rads

__all__ = [
    "REPORT_FORMAT",
    "canonical",
    "removed_and_added",
    "report_content",
    "reviewed_findings",
]

REPORT_FORMAT = "nenscope-report/1"


def _rescored(lesion: dict[str, Any], site: str | None, agent_class: str) -> dict[str, Any]:
    out = dict(lesion)
    if site and site != lesion.get("site"):
        out["site"] = site
        if agent_class == "sstr":
            out["sstr_rads"] = sstr_rads(
                out.get("krenning"), site, ct_correlate=out.get("ct_correlate")
            )
    return out


def _summary(automatic: dict[str, Any], lesions: list[dict[str, Any]]) -> dict[str, Any]:
    summary = dict(automatic["summary"])
    summary["n_lesions"] = len(lesions)
    summary["sstr_tv_ml"] = round(sum(float(les["volume_ml"]) for les in lesions), 3)
    summary["tl_sstr"] = round(sum(float(les["tla"]) for les in lesions), 3)
    if automatic["study"].get("agent_class") == "sstr":
        krennings = [les.get("krenning") for les in lesions]
        summary["krenning_max"] = max((k for k in krennings if k is not None), default=None)
        n_fdg_only = len(automatic.get("fdg_only_lesions") or [])
        summary["prrt_eligible"], summary["prrt_reason"] = prrt_eligibility(
            krennings, [float(les["volume_ml"]) for les in lesions], fdg_only_lesions=n_fdg_only
        )
    return summary


def reviewed_findings(automatic: dict[str, Any], decisions: list[dict[str, Any]]) -> dict[str, Any]:
    """The findings after review.

    ``decisions``: ``{"number", "decision" (accepted/rejected/added), "site",
    "physiological", "measurement"}`` per reviewed lesion. Lesions carry ``source``
    (``automatic`` or ``added``); ``excluded`` lists the removed ones with the reason.
    """
    agent_class = automatic["study"].get("agent_class", "")
    by_number = {d["number"]: d for d in decisions}
    lesions, excluded = [], []
    for les in automatic["lesions"]:
        d = by_number.get(les["id"], {})
        if d.get("decision") == "rejected" or d.get("physiological"):
            reason = "physiological" if d.get("physiological") else "rejected"
            excluded.append({"id": les["id"], "reason": reason})
            continue
        lesions.append({**_rescored(les, d.get("site"), agent_class), "source": "automatic"})
    for d in decisions:
        if d["decision"] != "added":
            continue
        if d.get("physiological"):
            excluded.append({"id": d["number"], "reason": "physiological"})
            continue
        record = {k: v for k, v in d["measurement"].items() if k != "voxels"}
        record["id"] = d["number"]
        lesion = _rescored(record, d.get("site"), agent_class)
        if agent_class == "sstr" and lesion.get("sstr_rads") is None:
            lesion["sstr_rads"] = sstr_rads(
                lesion.get("krenning"), lesion["site"], ct_correlate=lesion.get("ct_correlate")
            )
        lesions.append({**lesion, "source": "added"})
    out = {k: v for k, v in automatic.items() if k not in ("lesions", "summary")}
    out["lesions"] = lesions
    out["excluded"] = excluded
    out["summary"] = _summary(automatic, lesions)
    return out


def removed_and_added(decisions: list[dict]) -> tuple[set[int], list[tuple[int, list[int]]]]:
    """Numbers of the automatic lesions removed by review, and (number, voxels) of the added
    lesions still in the list."""
    removed = {
        d["number"]
        for d in decisions
        if d["decision"] != "added" and (d["decision"] == "rejected" or d["physiological"])
    }
    added = [
        (d["number"], d["measurement"]["voxels"])
        for d in decisions
        if d["decision"] == "added" and not d["physiological"]
    ]
    return removed, added


def canonical(content: dict[str, Any]) -> tuple[str, str]:
    """(canonical JSON text, its SHA-256 hex digest)."""
    text = json.dumps(
        content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    return text, hashlib.sha256(text.encode("utf-8")).hexdigest()


def _without_voxels(decision: dict[str, Any]) -> dict[str, Any]:
    out = dict(decision)
    if out.get("measurement") is not None:
        out["measurement"] = {k: v for k, v in out["measurement"].items() if k != "voxels"}
    return out


def report_content(
    *,
    analysis: dict[str, Any],
    automatic: dict[str, Any],
    decisions: list[dict[str, Any]],
    impression: str,
    signed_by: str | None,
    signed_at: datetime | None,
) -> dict[str, Any]:
    """The report: automatic and reviewed findings side by side, decisions, impression and
    signature (``signed_by`` None: a draft)."""
    return {
        "format": REPORT_FORMAT,
        "analysis": analysis,
        "automatic": automatic,
        "reviewed": reviewed_findings(automatic, decisions),
        "decisions": [_without_voxels(d) for d in decisions],
        "impression": impression,
        "signed_by": signed_by,
        "signed_at": None if signed_at is None else signed_at.isoformat(),
    }
