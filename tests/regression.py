"""Golden outputs of the main jobs, recorded before a refactoring and compared after it.

``tests/test_regression.py`` recomputes these signatures and compares them with
``tests/data/regression/golden.json`` (numbers to 1e-9 relative, everything else exactly).
Re-record only for a change that is *meant* to change results, and say so in the commit::

    .venv/bin/python tests/regression.py --record

The signatures cover:

- ``analyze`` on in-memory virtual patients (the cohort path of ``test_analysis_cohort``):
  seed 100 (G1) and 101 (G2) with their FDG study (NETPET), seed 102 (G3) SSTR alone;
- ``run_analysis`` on a small DICOM study (loader, SUV, findings.json);
- ``dosimetry`` through the CLI on a simulated 177Lu patient at three time points, with the
  simulator's organ masks and with ``--auto-masks``.
"""

from __future__ import annotations

import hashlib
import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np

from conftest import cached_simulation

GOLDEN = Path(__file__).parent / "data" / "regression" / "golden.json"
REL_TOL = 1e-9
# fields that change from run to run (UIDs made at write time, paths)
VOLATILE = {
    "series_instance_uid",
    "study_instance_uid",
    "frame_of_reference_uid",
    "sop_instance_uid",
}


def _labels_digest(volume) -> str:
    arr = np.ascontiguousarray(np.asarray(volume.array), dtype=np.int32)
    return hashlib.sha256(arr.tobytes()).hexdigest()[:16]


def _strip(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _strip(v) for k, v in obj.items() if k not in VOLATILE}
    if isinstance(obj, list | tuple):
        return [_strip(v) for v in obj]
    return obj


def cohort_signature(seed: int, tumour_type: str, *, with_fdg: bool) -> dict[str, Any]:
    sys.path.insert(0, str(Path(__file__).parent))
    from test_analysis_cohort import analyze_pair, simulate_pair

    sim, fsim = simulate_pair(seed, tumour_type, with_fdg=with_fdg)
    _, findings = analyze_pair(sim, fsim, masks=False, seed=seed)
    return {"findings": _strip(findings.to_dict()), "labels": _labels_digest(findings.labels)}


def run_signature(tmp: Path) -> dict[str, Any]:
    from nenscope.jobs.analyze import run_analysis
    from nenscope.simulation.output import write_study
    from nenscope.simulation.study import SimulationConfig

    cfg = SimulationConfig(tracer="68Ga-DOTATATE", seed=11, n_lesions=3, voxel_mm=8.0)
    write_study(cached_simulation(cfg), tmp / "study")
    result = run_analysis(tmp / "study", tmp / "out")
    findings = json.loads((tmp / "out" / "findings.json").read_text("utf-8"))
    return {"findings": _strip(findings), "labels": _labels_digest(result.findings.labels)}


def dosimetry_signature(tmp: Path) -> dict[str, Any]:
    from nenscope.cli import main

    study = tmp / "lu"
    args = [
        "simulate",
        "--tracer",
        "177Lu-DOTATATE",
        "--seed",
        "5",
        "--lesions",
        "3",
        "--timepoints-h",
        "24,72,168",
        "--out",
        str(study),
    ]
    if main(args) != 0:
        raise RuntimeError("simulation failed")
    points = sorted(p for p in (study / "pet").iterdir() if p.is_dir())
    tp_args = [a for p in points for a in ("--timepoint", str(p))]
    out: dict[str, Any] = {}
    runs = {
        "truth_masks": [
            "--masks",
            str(study / "truth" / "organs.nii.gz"),
            "--label-names",
            str(study / "truth" / "manifest.json"),
            "--region",
            "liver",
            "--region",
            "spleen",
            "--region",
            "kidney_left",
            "--region",
            "kidney_right",
            "--no-register",  # the SimpleITK registration is multi-threaded: not bitwise stable
        ],
        "auto_masks": ["--auto-masks", "--psf-fwhm-mm", "14", "--no-register"],
    }
    for name, extra in runs.items():
        target = tmp / f"dosi_{name}"
        if main(["dosimetry", *tp_args, *extra, "--out", str(target)]) != 0:
            raise RuntimeError(f"dosimetry {name} failed")
        doc = json.loads((target / "dosimetry.json").read_text("utf-8"))
        out[name] = _strip(doc)
    return out


def compute_all(tmp: Path) -> dict[str, Any]:
    return {
        "cohort_100_G1_fdg": cohort_signature(100, "G1", with_fdg=True),
        "cohort_101_G2_fdg": cohort_signature(101, "G2", with_fdg=True),
        "cohort_102_G3": cohort_signature(102, "G3", with_fdg=False),
        "run_seed11_dicom": run_signature(tmp),
        "dosimetry_seed5": dosimetry_signature(tmp),
    }


def differences(expected: Any, actual: Any, path: str = "") -> list[str]:
    """Every place where ``actual`` departs from ``expected`` (numbers beyond REL_TOL)."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        diffs = [f"{path}/{k}: missing" for k in expected if k not in actual]
        diffs += [f"{path}/{k}: unexpected" for k in actual if k not in expected]
        for k in expected.keys() & actual.keys():
            diffs += differences(expected[k], actual[k], f"{path}/{k}")
        return diffs
    if isinstance(expected, list) and isinstance(actual, list):
        if len(expected) != len(actual):
            return [f"{path}: length {len(actual)} != {len(expected)}"]
        return [
            d
            for i, (e, a) in enumerate(zip(expected, actual, strict=True))
            for d in differences(e, a, f"{path}[{i}]")
        ]
    numbers = (int, float)
    if (
        isinstance(expected, numbers)
        and isinstance(actual, numbers)
        and not isinstance(expected, bool)
        and not isinstance(actual, bool)
    ):
        e, a = float(expected), float(actual)
        if (math.isnan(e) and math.isnan(a)) or math.isclose(e, a, rel_tol=REL_TOL, abs_tol=1e-12):
            return []
        return [f"{path}: {actual!r} != {expected!r}"]
    return [] if expected == actual else [f"{path}: {actual!r} != {expected!r}"]


def _record() -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        data = compute_all(Path(tmp))
    GOLDEN.parent.mkdir(parents=True, exist_ok=True)
    GOLDEN.write_text(json.dumps(data, indent=1, sort_keys=True, allow_nan=True) + "\n", "utf-8")
    print(f"recorded {GOLDEN}")


if __name__ == "__main__":
    if sys.argv[1:] != ["--record"]:
        sys.exit("usage: python tests/regression.py --record")
    _record()
