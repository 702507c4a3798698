"""Dosimetry regions from the analysis layer (``nenscope dosimetry --auto-masks``).

The analysis layer (``nenscope.analysis.analyze_volume``) runs on the SUV of the first 177Lu
SPECT/CT time point as an SSTR agent. Its reference organs (``ReferenceRegions.masks``: the
liver and the spleen, found automatically or from the CT) become organ regions (S-values)
and each lesion of its label map becomes a tumour region (sphere model). Lesion voxels are
removed from the organ masks, so a hepatic metastasis is not counted twice.

Kidneys: the analysis recognises them as physiological components and removes them from
the lesion map (``nenscope.analysis.physiology``), but it does not return a kidney mask,
so no kidney region is made here: a warning says that kidney dosimetry needs ``--masks``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import highdicom as hd
import numpy as np
from numpy.typing import NDArray

from nenscope.errors import NenscopeError

__all__ = ["AutoMasks", "KIDNEY_WARNING", "masks_from_analysis"]

KIDNEY_WARNING = (
    "--auto-masks: the analysis layer recognises the kidneys but returns no kidney mask; "
    "kidney dosimetry needs --masks"
)
_ORGANS = ("liver", "spleen")


@dataclass
class AutoMasks:
    """Region masks on the SUV volume's grid and what the analysis said.

    masks: ``{name: bool array}`` (``liver``, ``spleen``, ``lesion_1`` …; lesions numbered as
    in the analysis's label map); origins: ``{organ: "automatic" | "ct" | ...}``;
    warnings: notes for the user (always including the kidney one).
    """

    masks: dict[str, NDArray[np.bool_]]
    origins: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def masks_from_analysis(
    suv: hd.Volume, ct: hd.Volume | None = None, *, agent_class: str = "sstr"
) -> AutoMasks:
    """Liver, spleen and lesion masks from ``nenscope.analysis.analyze_volume``.

    Args:
        suv: SUV (body weight) volume of the first time point (``Study.suv("bw")``); the
            analysis thresholds are in SUV, so activity in Bq/ml would not do.
        ct: its CT (any grid, same frame of reference) or ``None``.
        agent_class: ``"sstr"`` for 177Lu-DOTATATE/-DOTATOC.

    Returns:
        :class:`AutoMasks` with masks on ``suv``'s grid.
    """
    from nenscope.analysis import analyze_volume

    va = analyze_volume(suv, agent_class=agent_class, ct=ct)
    labels = np.asarray(va.labels)
    lesion_any = labels > 0
    masks: dict[str, NDArray[np.bool_]] = {}
    origins: dict[str, str] = {}
    warnings: list[str] = []
    for organ in _ORGANS:
        m = va.reference.masks.get(organ)
        if m is None or not np.any(m):
            warnings.append(f"--auto-masks: the analysis found no {organ}; no {organ} region")
            continue
        masks[organ] = np.asarray(m, bool) & ~lesion_any
        region = getattr(va.reference, organ, None)
        origins[organ] = str(getattr(region, "origin", "automatic"))
    ids = np.unique(labels[lesion_any])
    for k in ids:
        masks[f"lesion_{int(k)}"] = labels == k
    if not masks:
        raise NenscopeError(
            "--auto-masks: the analysis found no liver, spleen or lesion on the first time "
            "point; give region masks with --masks"
        )
    warnings.append(KIDNEY_WARNING)
    return AutoMasks(masks, origins, warnings)
