"""Score ``analyze`` on the independent phantom family (``independent_phantom``).

Figures of issue 15: sensitivity for lesions >= 10 mm, false positives per patient, Krenning
agreement where the image-based truth is > 15 % from a grade boundary, liver SUVmean and
blood-pool errors. ``python tests/independent_eval.py FWHM N [VOXEL]`` prints them.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

import numpy as np

from independent_phantom import IndependentPatient, make_patient
from nenscope.analysis import analyze


@dataclass
class Score:
    detected: list[bool] = field(default_factory=list)
    krenning_pairs: list[tuple[int, int]] = field(default_factory=list)
    false_positives: int = 0
    liver_error: float = 0.0
    blood_pool_error: float = float("nan")
    sites: list[tuple[str, str]] = field(default_factory=list)


def score(patient: IndependentPatient, findings) -> Score:
    """Match found lesions to the truth label map by overlap."""
    found = np.asarray(findings.labels.array)
    by_label = {les.label: les for les in findings.lesions}
    out, matched = Score(), set()
    for les in patient.lesions:
        hits = [int(h) for h in np.unique(found[patient.lesion_labels == les.id]) if h > 0]
        out.detected.append(bool(hits))
        if not hits:
            continue
        best = max(hits, key=lambda h: int((found[patient.lesion_labels == les.id] == h).sum()))
        matched.update(hits)
        if les.boundary_distance > 0.15 and by_label[best].krenning is not None:
            out.krenning_pairs.append((les.krenning_image, by_label[best].krenning))
        out.sites.append((les.site, by_label[best].site))
    out.false_positives = sum(1 for les in findings.lesions if les.label not in matched)
    ref = findings.reference
    out.liver_error = ref.liver.suv_mean / patient.organ_means["liver"] - 1.0
    if ref.blood_pool is not None:
        out.blood_pool_error = ref.blood_pool.suv_mean / patient.organ_means["blood_pool"] - 1.0
    return out


def run(fwhm_mm: float, n: int, voxel_mm=4.0, seed0: int = 0) -> dict[str, float]:
    scores = []
    for seed in range(seed0, seed0 + n):
        p = make_patient(seed, fwhm_mm, voxel_mm)
        s = score(p, analyze(p.study))
        scores.append(s)
        print(
            f"seed {seed}: found {sum(s.detected)}/{len(s.detected)}, FP {s.false_positives}, "
            f"K {s.krenning_pairs}, liver {s.liver_error:+.3f}, blood {s.blood_pool_error:+.3f}"
            f", sites {s.sites}",
            flush=True,
        )
    det = np.concatenate([s.detected for s in scores])
    pairs = [p for s in scores for p in s.krenning_pairs]
    return {
        "sensitivity": float(det.mean()),
        "fp_per_patient": float(np.mean([s.false_positives for s in scores])),
        "krenning_agreement": float(np.mean([a == b for a, b in pairs])) if pairs else np.nan,
        "n_krenning": len(pairs),
        "liver_error_max_abs": float(np.max(np.abs([s.liver_error for s in scores]))),
        "blood_pool_error_max_abs": float(np.nanmax(np.abs([s.blood_pool_error for s in scores]))),
    }


if __name__ == "__main__":
    fwhm, count = float(sys.argv[1]), int(sys.argv[2])
    vox = float(sys.argv[3]) if len(sys.argv) > 3 else 4.0
    print(run(fwhm, count, vox))
