"""Discovery + load + SUVbw of a 200×200×500 PET series: nenscope vs a plain pydicom/NumPy loop.

Peer: the loop most scripts use: ``pydicom.dcmread`` every file, ``ds.pixel_array`` per slice,
sort by ImagePositionPatient z, stack, apply each slice's RescaleSlope/Intercept, compute the
SUVbw factor from the header (QIBA formula, START decay correction) and multiply. It checks
nothing (orientation, spacing, units, vendor conventions). Ours: :func:`nenscope.imaging.
discover` + :func:`~nenscope.imaging.load_study` + ``study.suv("bw")``, which also classifies
series, checks geometry and spacing and reads every SUV convention. Both run on the same
files in the same run (page cache warm for both: a first untimed pass reads them); the
results are compared voxel for voxel. Timings on a shared 2-core machine are noisy.

Usage: ``python bench/bench_imaging.py [--shape Z Y X] [--repeat N]``
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import pydicom

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from nenscope.imaging import discover, load_study  # noqa: E402
from test_imaging_helpers import make_pet_series  # noqa: E402


def peer_load_suv(folder: Path) -> np.ndarray:
    """Plain pydicom + NumPy: read all, sort by z, rescale, SUVbw (QIBA, START)."""
    datasets = [pydicom.dcmread(p) for p in sorted(folder.iterdir())]
    datasets.sort(key=lambda d: -float(d.ImagePositionPatient[2]))
    vol = np.stack(
        [d.pixel_array * float(d.RescaleSlope) + float(d.RescaleIntercept) for d in datasets]
    )
    d0 = datasets[0]
    item = d0.RadiopharmaceuticalInformationSequence[0]
    inj = datetime.strptime(item.RadiopharmaceuticalStartDateTime[:14], "%Y%m%d%H%M%S")
    scan = datetime.strptime(d0.SeriesDate + d0.SeriesTime[:6], "%Y%m%d%H%M%S")
    decayed = float(item.RadionuclideTotalDose) * 2 ** (
        -(scan - inj).total_seconds() / float(item.RadionuclideHalfLife)
    )
    return (vol * (float(d0.PatientWeight) * 1000 / decayed)).astype(np.float32)


def ours_load_suv(folder: Path) -> np.ndarray:
    study = load_study(discover(folder))
    return study.suv("bw").array


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shape", nargs=3, type=int, default=(500, 200, 200), metavar=("Z", "Y", "X"))
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv if argv is not None else [])
    shape = tuple(args.shape)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "pet"
        t0 = time.perf_counter()
        make_pet_series(
            folder,
            shape=shape,
            spacing_mm=(2.0, 4.0, 4.0),
            slopes=[0.5 + 0.001 * k for k in range(shape[0])],
        )
        print(
            f"wrote {shape[0]} slices of {shape[1]}×{shape[2]} in {time.perf_counter() - t0:.1f} s"
        )
        ref = peer_load_suv(folder)  # warm the page cache for both
        ours = ours_load_suv(folder)
        diff = float(np.max(np.abs(ours - ref)) / np.max(np.abs(ref)))
        times: dict[str, list[float]] = {"nenscope": [], "pydicom loop": []}
        for _ in range(args.repeat):
            for name, fn in (("nenscope", ours_load_suv), ("pydicom loop", peer_load_suv)):
                t = time.perf_counter()
                fn(folder)
                times[name].append(time.perf_counter() - t)
        best = {k: min(v) for k, v in times.items()}
        print(
            f"discover + load + SUVbw, {shape[0]}×{shape[1]}×{shape[2]} PET ({args.repeat} runs, best):"
        )
        print(f"  nenscope        {best['nenscope']:.3f} s")
        print(f"  pydicom loop    {best['pydicom loop']:.3f} s")
        print(f"  ratio (peer / nenscope) = {best['pydicom loop'] / best['nenscope']:.2f}×")
        print(f"  max |Δ SUV| / max SUV = {diff:.2e}")


if __name__ == "__main__":
    main(sys.argv[1:])
