"""The analysis on the body's box against the whole grid, patient by patient (issue 17).

``analyze`` runs twice per virtual patient: as it does (every stage after the body mask on
the body's box, :func:`nenscope.analysis._crop.body_box`) and with the box replaced by the
whole grid; ``findings.json``'s content and the label map must be byte-identical. Patients:
the simulator's cohort (SSTR with its FDG study, as ``tests/test_analysis_cohort.py`` builds
them), as simulated (the box is ~60 % of its grid) and in a clinical field of view (the same
studies with :data:`WIDEN_MM` of air added on each side in-plane, so the box is ~25 % of the
grid, as on the clinical fixture), and the independent phantom family
(``tests/independent_phantom.py``: other anatomy, 2.5-5 mm voxels, anisotropic too).

Usage: ``python bench/validate_crop.py [--cohort FIRST N] [--independent FIRST N]``
(defaults: cohort seeds 800-819, independent seeds 0-7 at 4.5 and 9 mm FWHM). Prints one
line per patient and the number that differ (exit status 1 if any).
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import sys
from collections.abc import Callable
from pathlib import Path

import highdicom as hd
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from independent_eval import voxel_for  # noqa: E402
from independent_phantom import make_patient  # noqa: E402
from nenscope.analysis import analyze, volume  # noqa: E402
from nenscope.analysis._crop import BodyBox  # noqa: E402
from nenscope.analysis._geometry import patient_axes, spacing_from_affine  # noqa: E402
from nenscope.imaging import Study  # noqa: E402
from test_analysis_cohort import analyze_pair, sim_to_study, simulate_pair  # noqa: E402

TUMOUR_TYPES = ("G1", "G2", "G3")
#: air added on each side of the simulated field in-plane (mm): a 200 mm wider field
WIDEN_MM = 100.0


def _widened(study: Study) -> Study:
    """``study`` with :data:`WIDEN_MM` of air (0 Bq/ml, -1000 HU) around its field in-plane
    (emission and CT on the emission grid)."""
    affine = np.asarray(study.emission.affine, dtype=float)
    spacing = spacing_from_affine(affine)
    pads = [(0, 0)] * 3
    for ax in patient_axes(affine)[:2]:
        n = int(round(WIDEN_MM / spacing[ax]))
        pads[ax] = (n, n)
    shifted = affine.copy()
    shifted[:3, 3] = affine[:3, :3] @ -np.array([p[0] for p in pads], dtype=float) + affine[:3, 3]

    def pad(volume: hd.Volume, value: float) -> hd.Volume:
        if tuple(volume.spatial_shape) != tuple(study.emission.spatial_shape):
            raise ValueError("the CT must be on the emission grid")
        arr = np.pad(np.asarray(volume.array), pads, constant_values=value)
        return hd.Volume(
            arr, shifted, "PATIENT", frame_of_reference_uid=volume.frame_of_reference_uid
        )

    ct = None if study.ct is None else pad(study.ct, -1000.0)
    return dataclasses.replace(study, emission=pad(study.emission, 0.0), ct=ct)


def _analyze_widened(sim, fsim):
    study = _widened(sim_to_study(sim))
    frame = study.emission.frame_of_reference_uid
    return analyze(study, fdg=_widened(sim_to_study(fsim, frame_of_reference_uid=frame)))


def _whole_grid(body, spacing, masks=None) -> BodyBox:
    return BodyBox(tuple(slice(0, n) for n in body.shape), body.shape)


def _signature(findings) -> tuple[str, str]:
    labels = np.ascontiguousarray(np.asarray(findings.labels.array), dtype=np.int32)
    doc = json.dumps(findings.to_dict(), sort_keys=True, default=str)
    return doc, hashlib.sha256(labels.tobytes()).hexdigest()


def same_with_and_without_box(run: Callable[[], object]) -> bool:
    """Whether ``run()`` (an ``analyze`` call) gives the same findings on the box and on the
    whole grid."""
    boxed = _signature(run())
    original = volume.body_box
    volume.body_box = _whole_grid
    try:
        whole = _signature(run())
    finally:
        volume.body_box = original
    return boxed == whole


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cohort", type=int, nargs=2, default=[800, 20], metavar=("FIRST", "N"))
    ap.add_argument("--independent", type=int, nargs=2, default=[0, 8], metavar=("FIRST", "N"))
    args = ap.parse_args(argv)
    differ = 0
    first, n = args.cohort
    for seed in range(first, first + n):
        tumour = TUMOUR_TYPES[seed % 3]
        sim, fsim = simulate_pair(seed, tumour, with_fdg=True)
        same = same_with_and_without_box(
            lambda sim=sim, fsim=fsim, seed=seed: analyze_pair(sim, fsim, masks=False, seed=seed)[1]
        )
        wide = same_with_and_without_box(lambda sim=sim, fsim=fsim: _analyze_widened(sim, fsim))
        differ += (not same) + (not wide)
        print(
            f"cohort seed {seed} ({tumour}, with FDG): {'same' if same else 'DIFFERENT'}, "
            f"in a clinical field of view: {'same' if wide else 'DIFFERENT'}"
        )
    first, n = args.independent
    for fwhm_mm in (4.5, 9.0):
        for seed in range(first, first + n):
            patient = make_patient(seed, fwhm_mm, voxel_for(seed))
            same = same_with_and_without_box(lambda p=patient: analyze(p.study))
            differ += not same
            print(
                f"independent seed {seed} ({fwhm_mm} mm FWHM, {voxel_for(seed)} mm voxels): "
                f"{'same' if same else 'DIFFERENT'}"
            )
    print(f"patients whose findings differ: {differ}")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
