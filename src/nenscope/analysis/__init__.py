"""Analysis: reference regions, lesion segmentation, lesion metrics, scores (DESIGN §4).

The entry point is :func:`analyze` (``Study`` -> :class:`Findings`); the pieces are usable on
their own on arrays + ``spacing_mm``:

- :mod:`~nenscope.analysis.options`     ``AnalysisOptions`` and ``resolve`` (agent defaults)
- :mod:`~nenscope.analysis.volume`      one SUV volume: references -> plan -> segment -> veto
  -> measure (``analyze_volume``)
- :mod:`~nenscope.analysis.reference`   liver, spleen, blood-pool references (no downloads)
- :mod:`~nenscope.analysis.thresholds`  the threshold plan (liver, extrahepatic, edge, noise)
- :mod:`~nenscope.analysis.segmentation` thresholds, physiological suppression, cc3d, splitting
- :mod:`~nenscope.analysis.organs`      physiological-uptake veto, body/liver anchors
- :mod:`~nenscope.analysis.physiology`  built-in recognition of kidney/bladder/brain/heart
- :mod:`~nenscope.analysis.suvpeak`     SUVpeak with partial-voxel weights
- :mod:`~nenscope.analysis.metrics`     per-lesion measurements and sites
- :mod:`~nenscope.analysis.scores`      Krenning, SSTR-RADS 1.0, PRRT eligibility, NETPET
- :mod:`~nenscope.analysis.matching`    FDG study onto the SSTR grid (registration if needed)
- :mod:`~nenscope.analysis.netpet`      FDG uptake per SSTR lesion, FDG-only lesions, NETPET
- :mod:`~nenscope.analysis.findings`    the ``Findings`` record (findings.json)
- :mod:`~nenscope.analysis.pvc`         sphere-model partial-volume correction (Krenning)
- :mod:`~nenscope.analysis.percist`     PERCIST 1.0 response between two studies
"""

from nenscope.analysis.findings import FdgOnlyLesion, Findings, Summary
from nenscope.analysis.metrics import Lesion
from nenscope.analysis.options import AnalysisOptions
from nenscope.analysis.organs import OrganAnchors
from nenscope.analysis.percist import PercistResult, percist_response
from nenscope.analysis.physiology import ComponentInfo, classify_physiological, component_table
from nenscope.analysis.pipeline import analyze
from nenscope.analysis.reference import ReferenceRegion, ReferenceRegions, find_reference_regions
from nenscope.analysis.volume import VolumeAnalysis, analyze_volume

__all__ = [
    "AnalysisOptions",
    "ComponentInfo",
    "FdgOnlyLesion",
    "Findings",
    "Lesion",
    "OrganAnchors",
    "PercistResult",
    "ReferenceRegion",
    "ReferenceRegions",
    "Summary",
    "VolumeAnalysis",
    "analyze",
    "analyze_volume",
    "classify_physiological",
    "component_table",
    "find_reference_regions",
    "percist_response",
]
