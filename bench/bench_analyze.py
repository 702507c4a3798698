"""``analyze`` on a whole-body study, stage by stage, with the equivalent number of passes.

A virtual patient (68Ga-DOTATATE PET/CT at 4 mm, about 250×150×150 voxels, and its FDG
partner) is simulated and written as DICOM; then the pipeline runs as ``nenscope analyze``
runs it, and each stage is timed: load (DICOM → Study), references, segmentation, metrics
(the functions the pipeline calls, wrapped with timers), and the report. "Passes" expresses
each stage's time in units of one streaming pass over the emission volume (read + write of
every float32 voxel, measured in the same run): the DESIGN's performance budget. Goal (issue
5): analysis ≤ 10 s on 2 cores without report rendering. No peer tool does this job; the
reference is the budget.

Usage: ``python bench/bench_analyze.py [--fdg/--no-fdg] [--clinical 200|256]`` (``--clinical``:
the clinical-size fixture of ``bench/clinical.py`` instead of the demo-size study).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import defaultdict
from contextlib import ExitStack
from pathlib import Path
from unittest import mock

import numpy as np

from nenscope.analysis import AnalysisOptions, analyze, netpet, thresholds, volume
from nenscope.imaging import load_study
from nenscope.imaging.resample import resample_to
from nenscope.report import write_report
from nenscope.simulation.output import write_study
from nenscope.simulation.study import SimulationConfig, simulate_study

# functions the pipeline calls for each stage, by the module that calls them
STAGES = {
    "references": ((volume, "find_reference_regions"), (volume, "body_mask")),
    "segmentation": ((volume, "segment_lesions"), (thresholds, "physiological_mask")),
    "metrics": ((volume, "measure_lesions"),),
    "FDG matching (registration when frames differ)": ((netpet, "align_to"),),
}


def one_pass_s(shape: tuple[int, ...], repeat: int = 5) -> float:
    """Time of one read+write pass over a float32 volume of ``shape`` (best of ``repeat``)."""
    a = np.random.default_rng(0).random(shape, dtype=np.float32)
    b = np.empty_like(a)
    best = np.inf
    for _ in range(repeat):
        t = time.perf_counter()
        np.multiply(a, 1.0001, out=b)
        best = min(best, time.perf_counter() - t)
    return best


def timed_analyze(study, fdg, options: AnalysisOptions):
    """Run ``analyze`` with timers around the stage functions; return findings and times."""
    times: dict[str, float] = defaultdict(float)

    def wrap(stage, fn):
        def inner(*args, **kwargs):
            t = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                times[stage] += time.perf_counter() - t

        return inner

    with ExitStack() as stack:
        for stage, calls in STAGES.items():
            for module, name in calls:
                fn = getattr(module, name)
                stack.enter_context(mock.patch.object(module, name, wrap(stage, fn)))
        t = time.perf_counter()
        findings = analyze(study, fdg=fdg, options=options)
        total = time.perf_counter() - t
    times["other (SUV, CT resampling, scores)"] = total - sum(times.values())
    return findings, dict(times), total


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fdg", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument(
        "--clinical",
        choices=("200", "256"),
        help="use the clinical-size fixture of bench/clinical.py (this grid) instead",
    )
    args = parser.parse_args(argv or [])
    with tempfile.TemporaryDirectory(prefix="nenscope-bench-analyze-") as tmp:
        root = Path(tmp)
        t = time.perf_counter()
        if args.clinical:
            sys.path.insert(0, str(Path(__file__).resolve().parent))
            from clinical import clinical_study

            root = clinical_study(args.clinical)["sstr"].parent
        else:
            for tracer, name in (("68Ga-DOTATATE", "sstr"), ("18F-FDG", "fdg")):
                if name == "fdg" and not args.fdg:
                    continue
                sim = simulate_study(SimulationConfig(tracer=tracer, seed=5, n_lesions=6))
                write_study(sim, root / name)
        print(f"simulation + DICOM writing (not timed below): {time.perf_counter() - t:.1f} s")

        t = time.perf_counter()
        study = load_study(root / "sstr")
        fdg = load_study(root / "fdg") if args.fdg else None
        t_load = time.perf_counter() - t
        shape = tuple(study.emission.spatial_shape)
        analyze(study, fdg=fdg)  # warm-up: imports, caches
        findings, times, total = timed_analyze(study, fdg, AnalysisOptions())

        t = time.perf_counter()
        suv = study.suv("bw")
        ct_grid = resample_to(study.ct, suv) if study.ct is not None else None
        with tempfile.TemporaryDirectory() as out:
            write_report(
                findings.to_dict(), suv, findings.labels, Path(out), ct_on_pet_grid=ct_grid
            )
        t_report = time.perf_counter() - t

    unit = one_pass_s(shape)
    print(
        f"volume {shape[0]}×{shape[1]}×{shape[2]} float32; one pass = {unit * 1e3:.1f} ms; "
        f"{len(findings.lesions)} lesions{' (with FDG study)' if args.fdg else ''}"
    )
    print(f"{'stage':52s} {'time s':>8s} {'passes':>8s}")
    rows = [("load (DICOM → Study, both studies)" if args.fdg else "load (DICOM → Study)", t_load)]
    rows += sorted(times.items(), key=lambda kv: -kv[1])
    rows += [
        ("analysis total (excluding load and report)", total),
        ("report (HTML + figures)", t_report),
    ]
    for name, seconds in rows:
        print(f"{name:52s} {seconds:8.2f} {seconds / unit:8.0f}")
    verdict = "met" if total <= 10.0 else "NOT met"
    print(f"goal: analysis <= 10 s on 2 cores excluding the report: {total:.2f} s ({verdict})")
    print(f"load average {os.getloadavg()[0]:.1f} on {len(os.sched_getaffinity(0))} CPUs")


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
