"""``analyze`` on a whole-body study, stage by stage, with the equivalent number of passes.

A virtual patient (68Ga-DOTATATE PET/CT at 4 mm, about 250×150×150 voxels, and its FDG
partner) is simulated and written as DICOM; then the pipeline runs as ``nenscope analyze``
runs it, and each stage is timed: load (DICOM → Study, each CT resampled once onto its
emission grid as the job does), then the functions ``analyze_volume`` calls for each stage
(body mask, references, detection image, threshold plan, segmentation, blood pool, metrics;
FDG registration), wrapped with timers (wall and process CPU time), and the report.
"Passes" expresses each stage's CPU time in units of one streaming pass over the emission
volume (read + write of every float32 voxel, best of five, measured in the same run): the
DESIGN's performance budget; CPU time, because the machine is shared and wall time follows
its load. Goal (issue 5): analysis ≤ 10 s on 2 cores without report rendering. No peer tool
does this job; the reference is the budget. At demo size the analysis runs once untimed first
(imports, caches); at clinical size (where ``bench_clinical.py`` calls this) it runs once,
timed, the load having done the imports.

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

from nenscope.analysis import AnalysisOptions, analyze, netpet, volume
from nenscope.imaging import ct_on_emission_grid, load_study
from nenscope.report import write_report
from nenscope.simulation.output import write_study
from nenscope.simulation.study import SimulationConfig, simulate_study

# functions the pipeline calls for each stage, by the module that calls them (none calls
# another of them, so no time is counted twice)
STAGES = {
    "body mask (full grid)": ((volume, "body_mask"),),
    "references (body's box)": ((volume, "find_reference_regions"),),
    "detection image": ((volume, "detection_image"),),
    "threshold plan": ((volume, "plan_thresholds"),),
    "segmentation": ((volume, "segment_lesions"),),
    "blood pool": ((volume, "find_aorta_blood_pool"),),
    "metrics": ((volume, "measure_lesions"),),
    "FDG registration (frames differ)": ((netpet, "align_to"),),
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


def _clock() -> np.ndarray:
    """(wall, process CPU) seconds now."""
    return np.array([time.perf_counter(), time.process_time()])


def timed_analyze(study, fdg, options: AnalysisOptions):
    """Run ``analyze`` with timers around the stage functions; return findings, the (wall,
    CPU) seconds of each stage and of the whole analysis."""
    times: dict[str, np.ndarray] = defaultdict(lambda: np.zeros(2))

    def wrap(stage, fn):
        def inner(*args, **kwargs):
            t = _clock()
            try:
                return fn(*args, **kwargs)
            finally:
                times[stage] += _clock() - t

        return inner

    with ExitStack() as stack:
        for stage, calls in STAGES.items():
            for module, name in calls:
                fn = getattr(module, name)
                stack.enter_context(mock.patch.object(module, name, wrap(stage, fn)))
        t = _clock()
        findings = analyze(study, fdg=fdg, options=options)
        total = _clock() - t
    times["other (SUV, crops, FDG resampling, scores)"] = total - sum(times.values())
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

        t = _clock()
        study = ct_on_emission_grid(load_study(root / "sstr"))
        fdg = ct_on_emission_grid(load_study(root / "fdg")) if args.fdg else None
        t_load = _clock() - t
        shape = tuple(study.emission.spatial_shape)
        if not args.clinical:
            analyze(study, fdg=fdg)  # warm-up: imports, caches
        findings, times, total = timed_analyze(study, fdg, AnalysisOptions())

        t = _clock()
        suv = study.suv("bw")
        with tempfile.TemporaryDirectory() as out:
            write_report(
                findings.to_dict(), suv, findings.labels, Path(out), ct_on_pet_grid=study.ct
            )
        t_report = _clock() - t

    unit = one_pass_s(shape)
    print(
        f"volume {shape[0]}×{shape[1]}×{shape[2]} float32; one pass = {unit * 1e3:.1f} ms; "
        f"{len(findings.lesions)} lesions{' (with FDG study)' if args.fdg else ''}"
    )
    print(f"{'stage':52s} {'wall s':>8s} {'CPU s':>8s} {'passes':>8s}")
    rows = [("load (DICOM → Study, both studies)" if args.fdg else "load (DICOM → Study)", t_load)]
    rows += sorted(times.items(), key=lambda kv: -kv[1][0])
    rows += [
        ("analysis total (excluding load and report)", total),
        ("report (HTML + figures)", t_report),
    ]
    for name, (wall, cpu) in rows:
        print(f"{name:52s} {wall:8.2f} {cpu:8.2f} {cpu / unit:8.0f}")
    verdict = "met" if total[0] <= 10.0 else "NOT met"
    print(f"goal: analysis <= 10 s on 2 cores excluding the report: {total[0]:.2f} s ({verdict})")
    print(f"load average {os.getloadavg()[0]:.1f} on {len(os.sched_getaffinity(0))} CPUs")


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
