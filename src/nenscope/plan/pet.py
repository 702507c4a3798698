"""The pre-therapy SSTR PET of a study: its analysis and the organ uptakes the plan uses.

``analyse_pet`` runs the analysis layer (:func:`nenscope.analysis.analyze`) and measures the
kidneys' SUVmean: they are delineated on the PET itself with the dosimetry's organ finder
(everything hotter than the liver split into watershed basins, each outlined at half its
plateau, the kidneys recognised by the analysis's anatomical prior), lesions removed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from nenscope.errors import NenscopeError


def kidney_suv_mean(findings, suv_volume) -> float | None:
    """Mean SUV over both kidneys found on the PET (None when they are not found)."""
    from nenscope.dosimetry.organfinder import find_kidneys_and_spleen

    ref = findings.reference
    liver = ref.masks.get("liver")
    if liver is None or ref.liver is None or not np.any(liver):
        return None
    suv = np.asarray(suv_volume.array, dtype=np.float32)
    lesions = None if findings.labels is None else np.asarray(findings.labels.array) > 0
    found = find_kidneys_and_spleen(
        suv,
        np.asarray(suv_volume.affine),
        np.asarray(liver, bool),
        ref.liver.suv_mean,
        liver_voi_center_ijk=ref.liver.voi_center_ijk,
        lesions=lesions,
        want_spleen=False,
    )
    kid = [m for k, m in found.masks.items() if k.startswith("kidney")]
    if not kid:
        return None
    return float(suv[np.logical_or.reduce(kid)].mean(dtype=np.float64))


def analyse_pet(path: str | Path) -> tuple[dict[str, Any], dict[str, float | None]]:
    """(``findings.json`` document, organ SUVmeans) of the SSTR PET study at ``path``."""
    from nenscope.analysis import analyze
    from nenscope.imaging import load_study

    study = load_study(Path(path))
    if study.emission is None:
        raise NenscopeError(f"{path}: no PET series to plan from (option --study)")
    findings = analyze(study)
    doc = findings.to_dict()
    ref = doc.get("reference") or {}
    organs = {
        "kidneys": kidney_suv_mean(findings, study.suv("bw")),
        "spleen": ref.get("spleen_suv_mean"),
        "liver": ref.get("liver_suv_mean"),
    }
    return doc, organs
