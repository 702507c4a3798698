"""The main job at clinical size (issue 17): ``nenscope analyze`` as users run it, in one run.

On the clinical-size fixture of :mod:`clinical` (PET 200×200×400 at 4×4×2.5 mm, CT
512×512×400, one DICOM file per slice), each command runs in its own process under
``/usr/bin/time`` (wall and CPU time, the processes it forks included; the best of two runs,
after a first run that samples the process tree's peak memory, its proportional set size):

* ``nenscope analyze`` on the SSTR study alone, and with its FDG study (``--fdg``, own frame
  of reference: registration included); goals ≤ 10 s and ≤ 2 GB for SSTR + FDG on 2 cores;
* the peer: a plain pydicom loop reading the same files (``dcmread`` + ``pixel_array``), also
  in its own process; goal: SSTR alone ≤ 3× this read;
* ``nenscope --help`` (best of 5; goal < 0.5 s);
* voxel dosimetry against float64 single-thread ``scipy.signal.fftconvolve`` (goal ≥ 7×, wall
  and CPU), from ``bench_dosimetry.measure``.

The machine's load average is printed beside the timings: on a shared machine wall times
grow with the load, CPU times much less. Last, ``bench_analyze.py --clinical`` runs in this
process on the same fixture: the time of each stage of ``analyze`` and its equivalent number of
full-volume passes (stage time in units of one measured float32 pass over the PET grid).

Usage: ``python bench/bench_clinical.py [--grid 200|256] [--dose-shape Z Y X] [--no-fdg]``
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_analyze import main as analyze_stages  # noqa: E402
from bench_dosimetry import measure  # noqa: E402
from clinical import GRIDS, clinical_study  # noqa: E402

READ_ONLY = """
import sys
from pathlib import Path
import pydicom
for folder in sys.argv[1:]:
    for path in sorted(Path(folder).rglob("*.dcm")):
        pydicom.dcmread(path).pixel_array
"""


def _load() -> str:
    return f"load average {os.getloadavg()[0]:.1f}"


def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants (Linux ``/proc``)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        for task in Path(f"/proc/{p}/task").glob("*"):
            try:
                todo += [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                continue
    return out


def _pss_gb(pids: list[int]) -> float:
    """Proportional set size of ``pids`` together (pages shared after a fork counted once)."""
    kb = 0
    for p in pids:
        try:
            text = Path(f"/proc/{p}/smaps_rollup").read_text()
        except OSError:
            continue
        kb += sum(int(line.split()[1]) for line in text.splitlines() if line.startswith("Pss:"))
    return kb / 1024**2


def timed(cmd: list[str], *, memory: bool = True, repeat: int = 2) -> tuple[float, float, float]:
    """(wall s, CPU s, peak memory GB) of ``cmd`` run under ``/usr/bin/time``: CPU includes
    the child processes it forks (the FDG study, the report's figures); wall and CPU are the
    best of ``repeat`` runs (the machine is shared; the load average is printed beside).

    Memory is the peak proportional set size of its process tree (the children run beside
    the main process, so the largest single process would understate it), sampled every
    50 ms in a run of its own before the timed ones (it also warms the page cache, as a
    user's second look at a study would find it): reading ``smaps_rollup`` of a 1 GB process
    costs the sampler milliseconds of CPU each time, which on two cores would lengthen a timed
    run itself (by 1-2 s at clinical size). ``memory=False``: no memory run (peak 0)."""
    peak = _run(cmd, sample=True)[2] if memory else 0.0
    runs = [_run(cmd, sample=False) for _ in range(repeat)]
    return min(r[0] for r in runs), min(r[1] for r in runs), peak


def _run(cmd: list[str], *, sample: bool) -> tuple[float, float, float]:
    with tempfile.NamedTemporaryFile("r", suffix=".time") as out:
        proc = subprocess.Popen(
            ["/usr/bin/time", "-o", out.name, "-f", "%e %U %S %M", *cmd],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        peak = 0.0
        while proc.poll() is None:
            if sample:
                peak = max(peak, _pss_gb(_tree(proc.pid)))
            time.sleep(0.05)
        if proc.returncode:
            raise subprocess.CalledProcessError(proc.returncode, cmd)
        wall, user, system, _rss_kb = out.read().split()[-4:]
    return float(wall), float(user) + float(system), peak


def _row(name: str, wall: float, cpu: float, peak_gb: float, extra: str = "") -> None:
    print(
        f"{name:44s} {wall:7.1f} s wall {cpu:7.1f} s CPU {peak_gb:5.2f} GB peak  {extra}{_load()}"
    )


def bench_analyze(paths: dict[str, Path], fdg: bool) -> None:
    """The read-only peer, then ``analyze`` alone and with FDG; ratios to the read."""
    py = sys.executable
    read = timed([py, "-c", READ_ONLY, str(paths["sstr"])])
    _row("pydicom read of the SSTR PET/CT files", *read)
    with tempfile.TemporaryDirectory(prefix="nenscope-bench-clinical-") as tmp:
        runs = [("analyze SSTR", [str(paths["sstr"])])]
        if fdg:
            runs.append(("analyze SSTR + FDG", [str(paths["sstr"]), "--fdg", str(paths["fdg"])]))
        for name, args in runs:
            out = Path(tmp) / name.replace(" ", "_")
            wall, cpu, rss = timed([py, "-m", "nenscope", "analyze", *args, "--out", str(out)])
            ratio = f"{wall / read[0]:4.1f}x the read (wall), {cpu / read[1]:4.1f}x (CPU)  "
            _row(name, wall, cpu, rss, ratio)
    print("goals: SSTR <= 3x the read; SSTR + FDG <= 10 s and <= 2 GB on 2 cores")


def bench_startup(repeat: int = 5) -> None:
    """``nenscope --help``: best wall and CPU time of ``repeat`` runs."""
    runs = [
        timed([sys.executable, "-m", "nenscope", "--help"], memory=False) for _ in range(repeat)
    ]
    wall = min(r[0] for r in runs)
    cpu = min(r[1] for r in runs)
    print(
        f"nenscope --help (best of {repeat}): {wall:.2f} s wall, {cpu:.2f} s CPU (goal < 0.5 s) {_load()}"
    )


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--grid", choices=sorted(GRIDS), default="200")
    ap.add_argument("--fdg", action=argparse.BooleanOptionalAction, default=True)
    ap.add_argument("--dose-shape", type=int, nargs=3, default=[400, 512, 512])
    args = ap.parse_args(argv or [])
    paths = clinical_study(args.grid)
    pet_shape, spacing, ct_pixels = GRIDS[args.grid]
    print(
        f"clinical fixture: PET {pet_shape[2]}x{pet_shape[1]}x{pet_shape[0]} at "
        f"{spacing[2]}x{spacing[1]}x{spacing[0]} mm, CT {ct_pixels}x{ct_pixels}x{pet_shape[0]}; "
        f"CPUs {len(os.sched_getaffinity(0))}"
    )
    bench_startup()
    bench_analyze(paths, args.fdg)
    measure(tuple(args.dose_shape), repeat=2, peer_repeat=1)
    print(
        "\nanalyze stage by stage on the clinical fixture (passes: units of one full-volume pass)"
    )
    analyze_stages(["--clinical", args.grid, "--fdg" if args.fdg else "--no-fdg"])


if __name__ == "__main__":
    main(sys.argv[1:])
