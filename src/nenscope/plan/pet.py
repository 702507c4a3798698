"""The pre-therapy SSTR PET of a study: its analysis and the organ uptakes the plan uses.

``analyse_pet`` runs the analysis layer (:func:`nenscope.analysis.analyze`) and measures the
kidneys' SUVmean: they are delineated on the PET itself with the dosimetry's automatic regions
(everything hotter than the liver split into watershed basins, each outlined at half its
plateau, the kidneys recognised by the analysis's anatomical prior), lesions removed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from nenscope.errors import NenscopeError


def kidney_suv_mean(suv_volume, ct_volume=None) -> float | None:
    """Mean SUV over both kidneys delineated on the PET (None when they are not found).

    The kidneys come from :func:`nenscope.dosimetry.automasks.masks_from_analysis` (the
    analysis's liver and anatomical anchors, the organ finder's half-plateau outline), lesion
    voxels excluded.
    """
    from nenscope.dosimetry.automasks import masks_from_analysis

    try:
        auto = masks_from_analysis(suv_volume, ct_volume, spect=False)
    except NenscopeError:
        return None
    kid = [m for k, m in auto.masks.items() if k.startswith("kidney")]
    if not kid:
        return None
    suv = np.asarray(suv_volume.array, dtype=np.float32)
    return float(suv[np.logical_or.reduce(kid)].mean(dtype=np.float64))


def analyse_pet(
    path: str | Path, *, kidneys: bool = True
) -> tuple[dict[str, Any], dict[str, float | None]]:
    """(``findings.json`` document, organ SUVmeans) of the SSTR PET study at ``path``.

    ``kidneys=False`` skips the kidney delineation (a second pass of the analysis, about a
    minute on a whole-body PET) when the prediction model does not use the kidney uptake.
    """
    from nenscope.analysis import analyze
    from nenscope.imaging import load_study

    study = load_study(Path(path))
    if study.emission is None:
        raise NenscopeError(f"{path}: no PET series to plan from (option --study)")
    findings = analyze(study)
    doc = findings.to_dict()
    ref = doc.get("reference") or {}
    organs = {
        "kidneys": kidney_suv_mean(study.suv("bw"), study.ct) if kidneys else None,
        "spleen": ref.get("spleen_suv_mean"),
        "liver": ref.get("liver_suv_mean"),
    }
    return doc, organs
